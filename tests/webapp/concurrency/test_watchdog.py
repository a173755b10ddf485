"""The loop watchdog sees a step or a garbage collection that holds the loop, and nothing when
the loop is free."""

from __future__ import annotations

import asyncio
import gc
import logging
import time

import pytest

from webapp.loop_watchdog import LoopWatchdog


def run_with_watchdog(block_s: float) -> LoopWatchdog:
    watchdog = LoopWatchdog(100, interval_s=0.01, step_timing=True)

    async def scenario() -> None:
        watchdog.start()
        try:
            await asyncio.sleep(0.05)
            if block_s:
                time.sleep(block_s)
            await asyncio.sleep(0.05)
        finally:
            await watchdog.stop()

    asyncio.run(scenario())
    return watchdog


def test_a_step_holding_the_loop_is_reported_with_what_ran() -> None:
    watchdog = run_with_watchdog(0.25)
    assert len(watchdog.slow_steps) == 1, watchdog.slow_steps
    assert "scenario" in watchdog.slow_steps[0]
    assert watchdog.stalls and max(watchdog.stalls) >= 150


def test_a_free_loop_reports_no_step() -> None:
    watchdog = run_with_watchdog(0)
    assert watchdog.slow_steps == []


def test_a_collection_over_the_limit_is_named_and_stops_being_watched(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watchdog = LoopWatchdog(0)  # every collection is "over the limit"

    async def scenario() -> None:
        watchdog.start()
        try:
            gc.collect()
        finally:
            await watchdog.stop()

    with caplog.at_level(logging.WARNING, logger="webapp.loop_watchdog"):
        asyncio.run(scenario())
        seen = len(watchdog.slow_collections)
        gc.collect()  # after stop: not watched any more
    assert seen >= 1 and len(watchdog.slow_collections) == seen
    assert "garbage collection of generation 2 took" in caplog.text
    assert "ms CPU" in caplog.text
