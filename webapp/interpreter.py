"""The server's interpreter set for many connections: garbage collector, thread switches.

Three measures, from `benchmarks/card_sessions_load.py` and `benchmarks/concurrent_flows.py`
(docs/performance.md):

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
- At start (`settle`): a thread waiting for the interpreter lock gets it after 1 ms
  instead of 5 (`sys.setswitchinterval`). A short request (a list, a status) needs the
  lock a dozen times between its waits for the database or the network, and each time it
  queued behind whichever worker thread held it (sealing bookkeeping, encryption, the
  audit chain): measured at 16 whole flows at once, the p99 of a small request went from
  170 to 102 ms on SQLite and from 116 to 106 ms on PostgreSQL, documents per minute
  unchanged (74.8 and 76.8).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys

GC_THRESHOLDS = (20_000, 10, 10)
YOUNG_EVERY_SECONDS = 0.5
SWITCH_INTERVAL_SECONDS = 0.001


def settle() -> None:
    """Freeze what start-up loaded, raise the young threshold and shorten the interpreter
    lock's switch interval (once serving)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)


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
