"""The server's interpreter: young collections on a timer keep the young generation small
when the collector's own count stays low (new objects replacing freed old ones, as with
thousands of open feeds)."""

from __future__ import annotations

import asyncio
import gc

from webapp.interpreter import YoungCollections

REPLACED = 30_000


def test_a_young_generation_the_count_misses_is_collected_on_the_timer() -> None:
    before = gc.get_threshold()
    gc.set_threshold(1_000_000, 10, 10)  # no collection by count during the test
    young = YoungCollections(every_seconds=0.01)
    try:
        old = [[n] for n in range(REPLACED)]  # lists: always tracked by the collector
        gc.collect()  # `old` is now in the oldest generation
        new: list[list[int]] = []

        async def scenario() -> int:
            for n in range(REPLACED):  # each new object replaces an old one, as waits do
                new.append([n])
                old.pop()
            grown = len(gc.get_objects(generation=0))
            young.start()
            try:
                async with asyncio.timeout(10):
                    while young.collections < 1:
                        await asyncio.sleep(0.01)
            finally:
                await young.stop()
            return grown

        grown = asyncio.run(scenario())
        assert grown >= REPLACED  # the count did not start a collection
        assert len(gc.get_objects(generation=0)) < REPLACED // 10
        assert young.collections >= 1
    finally:
        gc.set_threshold(*before)
