"""The in-process hub of card statuses: newest status only, any thread, no leftovers."""

from __future__ import annotations

import asyncio
import threading

from webapp.card_events import CardEventHub


def test_a_watcher_sees_the_newest_status_from_any_thread_and_leaves_nothing() -> None:
    hub = CardEventHub()

    async def scenario() -> None:
        with hub.watch("party") as watch:
            assert hub.watcher_count() == 1
            hub.publish("party", {"n": 1})
            hub.publish("party", {"n": 2})  # replaces the first: a page needs only the newest
            assert await watch.next(timeout=5) == {"n": 2}
            assert await watch.next(timeout=0.01) is None
            sender = threading.Thread(target=hub.publish, args=("party", {"n": 3}))
            sender.start()
            assert await watch.next(timeout=5) == {"n": 3}
            sender.join()
            hub.publish("someone else", {"n": 4})
            assert await watch.next(timeout=0.01) is None
        assert hub.watcher_count() == 0

    asyncio.run(scenario())
