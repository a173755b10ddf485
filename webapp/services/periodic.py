"""Background rounds of the app's lifespan: one action, again and again, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class PeriodicTask:
    """Runs `action` every `interval` seconds; a failed round is logged, not fatal."""

    def __init__(self, name: str, action: Callable[[], Awaitable[object]], interval: float) -> None:
        self.name = name
        self._action = action
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while True:
            try:
                await self._action()
            except Exception:  # a database hiccup must not end the rounds
                log.exception("%s: a round failed", self.name)
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
