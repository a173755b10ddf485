"""A watchdog of the event loop: any step that holds it longer than a limit is reported.

Every other request waits while one callback holds the loop, so such a step is a defect.
The watchdog wakes every `interval` and measures how late it woke; lateness beyond the
limit is logged (`event loop stalled for N ms`) and kept, so the load tests fail on it.
asyncio's debug mode reports slow callbacks too, but slows everything down meanwhile;
this costs one timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

log = logging.getLogger(__name__)
STALL_MESSAGE = "event loop stalled for %d ms"


class LoopWatchdog:
    """Measures the event loop's lateness while it runs; `worst_ms` is the largest seen."""

    def __init__(self, limit_ms: float, interval_s: float = 0.02) -> None:
        self.limit_ms = limit_ms
        self.interval_s = interval_s
        self.worst_ms = 0.0
        self.stalls: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="loop-watchdog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval_s)
            late_ms = (time.perf_counter() - before - self.interval_s) * 1000
            self.worst_ms = max(self.worst_ms, late_ms)
            if late_ms > self.limit_ms:
                self.stalls.append(late_ms)
                log.warning(STALL_MESSAGE, late_ms)
