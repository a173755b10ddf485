"""The in-process hub of card statuses: newest status only, any thread, no leftovers."""

from __future__ import annotations

import asyncio
import datetime
import threading

from webapp.card_signing.hub import CardEventHub
from webapp.card_signing.status import CardSessionStatus
from webapp.db.models import CardSessionState, RecipientStatus


def _status(n: int) -> CardSessionStatus:
    """A status told apart from others by its tries left."""
    return CardSessionStatus(
        session_id="session", state=CardSessionState.CLAIMED, stage=None, order=None,
        tries_left=n, expires_at=datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC),
        error=None, done=False, recipient_status=RecipientStatus.OPENED,
    )  # fmt: skip


def test_a_watcher_sees_the_newest_status_from_any_thread_and_leaves_nothing() -> None:
    hub = CardEventHub()

    async def scenario() -> None:
        with hub.watch("party") as watch:
            assert hub.watcher_count() == 1
            hub.publish("party", _status(1))
            hub.publish("party", _status(2))  # replaces the first: a page needs only the newest
            assert await watch.next(timeout=5) == _status(2)
            assert await watch.next(timeout=0.01) is None
            sender = threading.Thread(target=hub.publish, args=("party", _status(3)))
            sender.start()
            assert await watch.next(timeout=5) == _status(3)
            sender.join()
            hub.publish("someone else", _status(4))
            assert await watch.next(timeout=0.01) is None
        assert hub.watcher_count() == 0

    asyncio.run(scenario())
