"""The loop watchdog sees a step that holds the loop, and nothing when the loop is free."""

from __future__ import annotations

import asyncio
import time

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
