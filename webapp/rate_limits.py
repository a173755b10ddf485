"""Rate limits on the doors anyone can knock at: sign-up, login, links, codes, card sessions.

One `RateLimits` per app (`app.state.rate_limits`), built from the settings
(`MYNASIGN_RATE_LIMIT_<DOOR>`, e.g. `10/minute;100/hour`), counted by the `limits`
library with a moving window per door and client address (and per link for access
codes). Where the counters live:

- `MYNASIGN_REDIS_URL` set: in Redis, shared by every instance behind the proxy.
- otherwise: in this process's memory. The default (`mynasign dev`, or one `serve`
  process) is a single instance, so memory is exact there and costs nothing; `limits`
  has no SQL storage, and counting every knock in SQLite would take its one write lock
  on the very requests an attacker sends. Several instances must set the Redis URL.

A refusal is `RateLimitedError("rate_limited")`: 429, `Retry-After`, Japanese and English.
Counting happens in sync code (FastAPI runs sync dependencies in its thread pool) or,
from the websocket, in a worker thread: the event loop never waits on Redis.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from fastapi import Depends, Request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import HTTPConnection

from webapp.errors import RateLimitedError
from webapp.security import token_hash
from webapp.settings import Settings

log = logging.getLogger(__name__)
DOORS = (
    "signup", "login", "recipient_open", "access_code", "card_session", "bridge_hello",
)  # fmt: skip
KEY_PREFIX = "mynasign-rate"
STORAGE_ERROR_LOG_INTERVAL = 60.0


class RateLimits:
    """The limits of every door and where their counters are kept."""

    def __init__(self, settings: Settings, *, key_prefix: str = KEY_PREFIX) -> None:
        self.enabled = settings.rate_limits_enabled
        self.items: dict[str, list[RateLimitItem]] = {
            door: parse_many(getattr(settings, f"rate_limit_{door}")) for door in DOORS
        }
        storage: Storage
        if settings.redis_url:
            found = storage_from_string(settings.redis_url, key_prefix=key_prefix)
            if not isinstance(found, Storage):
                raise ValueError("MYNASIGN_REDIS_URL must be a redis:// URL (not async://)")
            storage = found
            self.storage_kind = "redis"
        else:
            storage = MemoryStorage()
            self.storage_kind = "memory"
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(storage)
        self._last_storage_error = 0.0

    def hit(self, door: str, *keys: str) -> None:
        """Count one knock at `door` from `keys`; `RateLimitedError` when over a limit."""
        if not self.enabled:
            return
        try:
            for item in self.items[door]:
                if not self.limiter.hit(item, door, *keys):
                    reset = self.limiter.get_window_stats(item, door, *keys).reset_time
                    retry_after = max(1, math.ceil(reset - time.time()))
                    log.warning(
                        "rate limit: %s refused (%s), retry in %ss", door, item, retry_after
                    )
                    raise RateLimitedError("rate_limited", retry_after=retry_after)
        except RateLimitedError:
            raise
        except Exception as exc:  # the store is down: let people in, and say so (not per knock)
            now = time.monotonic()
            if now - self._last_storage_error > STORAGE_ERROR_LOG_INTERVAL:
                self._last_storage_error = now
                log.error("rate limits not applied: %s storage failed: %r", self.storage_kind, exc)

    async def hit_async(self, door: str, *keys: str) -> None:
        """`hit` from async code: Redis is asked in a worker thread."""
        await asyncio.to_thread(self.hit, door, *keys)

    def reset(self) -> None:
        """Forget every count (tests, or an operator after an incident)."""
        self.storage.reset()


def client_address(connection: HTTPConnection) -> str:
    """The client's address (uvicorn sets it from X-Forwarded-For behind a trusted proxy)."""
    return connection.client.host if connection.client else "unknown"


def limits_of(connection: HTTPConnection) -> RateLimits | None:
    found: RateLimits | None = getattr(connection.app.state, "rate_limits", None)
    return found


def limited(door: str, *, per_link: bool = False) -> Any:
    """A route dependency counting a knock at `door` (per client, and per link if asked)."""
    if door not in DOORS:
        raise ValueError(f"unknown door {door!r}")

    def check(request: Request) -> None:  # sync: FastAPI runs it in its thread pool
        limits = limits_of(request)
        if limits is None:
            return
        keys = [client_address(request)]
        token = request.path_params.get("token")
        if per_link and isinstance(token, str):
            keys.append(token_hash(token)[:16])
        limits.hit(door, *keys)

    check.__name__ = f"rate_limit_{door}"
    return Depends(check)


def install_rate_limits(app: Any, settings: Settings) -> RateLimits:
    """Build the limits for `settings` and keep them on the app."""
    limits = RateLimits(settings)
    app.state.rate_limits = limits
    return limits
