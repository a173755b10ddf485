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

Tries to open a link refused at the door never reach the access-code check, yet none may go
unrecorded: they are counted per link and client address, and written to the audit log
once a minute (and when the app stops) as one `recipient.open_rate_limited` event with the
count, so a flood costs one write a minute, not one per knock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, Request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import or_, select
from starlette.requests import HTTPConnection

from webapp.audit.actor import Audit
from webapp.db.models import ActorKind, Recipient
from webapp.errors import RateLimitedError
from webapp.security import token_hash
from webapp.services.context import ServiceContext
from webapp.settings import Settings

log = logging.getLogger(__name__)
DOORS = (
    "signup", "login", "recipient_open", "access_code", "card_session", "bridge_hello",
)  # fmt: skip
KEY_PREFIX = "mynasign-rate"
STORAGE_ERROR_LOG_INTERVAL = 60.0
REFUSED_TRIES_INTERVAL = 60.0
"""How often refused tries to open a link are written to the audit log."""


class RefusedTries:
    """Tries to open a link refused at the door, per (link hash, address), not yet recorded."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def add(self, link_hash: str, address: str) -> None:
        with self._lock:
            key = (link_hash, address)
            self._counts[key] = self._counts.get(key, 0) + 1

    def take(self) -> dict[tuple[str, str], int]:
        with self._lock:
            taken, self._counts = self._counts, {}
            return taken


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
        self.refused_tries = RefusedTries()

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

    def record_refused_tries(self, context: ServiceContext) -> int:
        """Write the refused tries counted so far to the audit log; how many were written."""
        counts = self.refused_tries.take()
        if not counts:
            return 0
        written = 0
        with context.sessions() as db:
            for (link_hash, address), refused in sorted(counts.items()):
                recipient = db.scalar(
                    select(Recipient).where(
                        or_(Recipient.link_token_hash == link_hash,
                            Recipient.completion_link_hash == link_hash)
                    )
                )  # fmt: skip
                if recipient is None:  # a link that does not exist: nothing to record against
                    log.warning("rate limit: %d tries refused on an unknown link", refused)
                    continue
                who = Audit(ActorKind.RECIPIENT, f"link:{link_hash[:16]}", address)
                who.event(
                    db, "recipient.open_rate_limited", recipient.document_id,
                    recipient_id=recipient.id, refused=refused,
                )  # fmt: skip
                written += refused
            db.commit()
        return written

    @contextlib.asynccontextmanager
    async def recording(self, context: ServiceContext) -> AsyncIterator[None]:
        """While the app runs: refused tries written every minute, and the rest at the end."""

        async def rounds() -> None:
            while True:
                await asyncio.sleep(REFUSED_TRIES_INTERVAL)
                try:
                    await asyncio.to_thread(self.record_refused_tries, context)
                except Exception:  # a database hiccup: the counts are tried again later
                    log.exception("rate limit: refused tries not recorded")

        task = asyncio.get_running_loop().create_task(rounds(), name="refused-tries")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.to_thread(self.record_refused_tries, context)


def client_address(connection: HTTPConnection) -> str:
    """The client's address (uvicorn sets it from X-Forwarded-For behind a trusted proxy)."""
    return connection.client.host if connection.client else "unknown"


def limits_of(connection: HTTPConnection) -> RateLimits | None:
    found: RateLimits | None = getattr(connection.app.state, "rate_limits", None)
    return found


def limited(door: str, *, per_link: bool = False, record_refused: bool = False) -> Any:
    """A route dependency counting a knock at `door` (per client, and per link if asked).

    `record_refused`: a refused try to open the link is counted for the audit log.
    """
    if door not in DOORS:
        raise ValueError(f"unknown door {door!r}")

    def check(request: Request) -> None:  # sync: FastAPI runs it in its thread pool
        limits = limits_of(request)
        if limits is None:
            return
        address = client_address(request)
        token = request.path_params.get("token")
        link_hash = token_hash(token) if isinstance(token, str) else None
        keys = [address, link_hash[:16]] if per_link and link_hash else [address]
        try:
            limits.hit(door, *keys)
        except RateLimitedError:
            if record_refused and link_hash:
                limits.refused_tries.add(link_hash, address)
            raise

    check.__name__ = f"rate_limit_{door}"
    return Depends(check)


def install_rate_limits(app: Any, settings: Settings) -> RateLimits:
    """Build the limits for `settings` and keep them on the app."""
    limits = RateLimits(settings)
    app.state.rate_limits = limits
    return limits
