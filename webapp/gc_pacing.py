"""The garbage collector set for a server with thousands of open connections.

Two measures, both from `benchmarks/card_sessions_load.py` (docs/performance.md):

- At start (`settle`): what was loaded moves to the permanent generation (`gc.freeze`), so
  no collection walks it again, and young collections wait for 20,000 new objects instead
  of 700, so what a frame allocates mostly dies before a collection looks at it. At 1,000
  sessions that took the p99 at 200 frames/s from 335 ms to 16 ms.
- While serving (`YoungCollections`): a young collection every `YOUNG_EVERY_SECONDS`.
  CPython 3.11 starts one when the count of new objects minus freed ones passes the
  threshold, and with thousands of open feeds and websockets nearly every new object (a
  wait's future, a frame's status) replaces an older one that is freed: the count stays
  low while the young generation itself grows to 100,000 objects and more, whose
  collection then holds the event loop 150–230 ms (measured at 2,000 sessions: 95,000 to
  131,000 young objects, 175–228 ms of CPU each). Collected twice a second it holds a
  fraction of that, and each collection is short.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc

GC_THRESHOLDS = (20_000, 10, 10)
YOUNG_EVERY_SECONDS = 0.5


def settle() -> None:
    """Freeze what start-up loaded and raise the young threshold (once serving)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class YoungCollections:
    """Collects the young generation on a timer while the event loop runs."""

    def __init__(self, every_seconds: float = YOUNG_EVERY_SECONDS) -> None:
        self.every_seconds = every_seconds
        self.collections = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="gc-young")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_seconds)
            gc.collect(0)
            self.collections += 1
