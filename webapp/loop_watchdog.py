"""A watchdog of the event loop: any step that holds it longer than a limit is reported.

Every other request waits while one callback holds the loop, so such a step is a defect.
Two measures:

- Lateness, always on: the watchdog wakes every `interval` and measures how late it woke;
  lateness beyond the limit is logged (`event loop stalled for N ms`). It costs one timer,
  and it also sees what is not the loop's fault (a machine so busy that the process was
  not given a core), so it is a warning for operators.
- Steps, with `step_timing` (`MYNASIGN_LOOP_STEP_TIMING`, for load tests): asyncio's debug
  mode times every callback of this loop; each one over the limit is logged
  (`event loop step took N ms: <what ran>`) and kept in `slow_steps`. This is the precise
  measure the load tests fail on; debug mode slows everything a little, so it is off in
  production.
- Garbage collections, always on: a collection stops every thread, the loop included; one
  over the limit is logged (`garbage collection of generation G took N ms (M ms CPU, …)`),
  so a stall that is the collector is named as such, and its CPU time tells the
  collector's own work from a machine too busy to run the process. A few clock reads
  per collection.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import threading
import time

log = logging.getLogger(__name__)
STALL_MESSAGE = "event loop stalled for %d ms"
STEP_MESSAGE = "event loop step took %d ms: %s"
GC_MESSAGE = "garbage collection of generation %d took %d ms (%d ms CPU, %d objects collected)"
_ASYNCIO_SLOW = re.compile(r"^Executing (?P<what>.*) took (?P<seconds>[0-9.]+) seconds$", re.S)


class LoopWatchdog:
    """Measures the event loop's lateness (and, asked, each step) while it runs."""

    def __init__(
        self, limit_ms: float, interval_s: float = 0.02, *, step_timing: bool = False
    ) -> None:
        self.limit_ms = limit_ms
        self.interval_s = interval_s
        self.step_timing = step_timing
        self.worst_ms = 0.0
        self.stalls: list[float] = []
        self.slow_steps: list[str] = []
        self.slow_collections: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._handler: _SlowStepHandler | None = None
        self._collection_began = 0.0
        self._collection_cpu = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.step_timing:
            loop.slow_callback_duration = self.limit_ms / 1000
            loop.set_debug(True)
            self._handler = _SlowStepHandler(self, threading.get_ident())
            logging.getLogger("asyncio").addHandler(self._handler)
        self._task = loop.create_task(self._watch(), name="loop-watchdog")
        gc.callbacks.append(self._collection)

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._collection)
        if self._handler is not None:
            logging.getLogger("asyncio").removeHandler(self._handler)
            self._handler = None
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

    def _collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._collection_began = time.perf_counter()
            self._collection_cpu = time.thread_time()
            return
        took_ms = (time.perf_counter() - self._collection_began) * 1000
        if took_ms > self.limit_ms:  # CPU time tells the collector from a busy machine
            cpu_ms = (time.thread_time() - self._collection_cpu) * 1000
            self.slow_collections.append(took_ms)
            log.warning(GC_MESSAGE, info["generation"], took_ms, cpu_ms, info["collected"])

    def _slow_step(self, what: str, seconds: float) -> None:
        self.slow_steps.append(what)
        log.warning(STEP_MESSAGE, seconds * 1000, what)


class _SlowStepHandler(logging.Handler):
    """asyncio's slow-callback reports of one loop (other threads' private loops may block:
    they are worker threads)."""

    def __init__(self, watchdog: LoopWatchdog, loop_thread: int) -> None:
        super().__init__(logging.WARNING)
        self._watchdog = watchdog
        self._loop_thread = loop_thread

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self._loop_thread:
            return
        found = _ASYNCIO_SLOW.match(record.getMessage())
        if found is not None:
            self._watchdog._slow_step(found["what"][:300], float(found["seconds"]))
