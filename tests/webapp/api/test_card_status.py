"""The card session's status model: one JSON text per change, the same for every feed.

The status goes to many watchers (issue 9: thousands of feeds): it is serialised once,
then each feed writes that text. A status moved on by a progress frame has JSON of its
own. Between instances (PostgreSQL) the same text travels, and a status of another shape
(another version during an update) is read from the database instead.
"""

from __future__ import annotations

import asyncio
import datetime
import json
from typing import Any

import pytest

from bridge.protocol import Order, Stage
from webapp.card_signing.feed import event_frame
from webapp.card_signing.hub import CardEventHub
from webapp.card_signing.hub_postgres import PostgresCardEventHub
from webapp.card_signing.sessions import advance
from webapp.card_signing.status import CardSessionStatus, CardStatusError
from webapp.db.models import CardSessionState, RecipientStatus

EXPIRES = datetime.datetime(2026, 11, 21, 11, 39, 59, 466632, tzinfo=datetime.UTC)
PAGE_READS = {"session_id", "state", "stage", "order", "error", "done", "recipient_status"}
"""What `webapp/static/card.js` reads of a status."""


def wrong_password(tries_left: int = 4) -> CardSessionStatus:
    error = CardStatusError(
        code="wrong_password", message_ja="署名用パスワードが違います。",
        message_en="Wrong signing password.", tries_left=tries_left,
    )  # fmt: skip
    return CardSessionStatus(
        session_id="Ht9bUBk4L9I-sJ1ECtiOEQ", state=CardSessionState.CLAIMED,
        stage=Stage.WAITING_FOR_PASSWORD, order=Order.PASSWORD_FIRST, tries_left=tries_left,
        expires_at=EXPIRES, error=error, done=False, recipient_status=RecipientStatus.OPENED,
    )  # fmt: skip


def test_the_json_is_what_the_page_reads_in_the_feeds_compact_form() -> None:
    status = wrong_password()
    text = status.json_text
    parsed = json.loads(text)
    assert set(parsed) >= PAGE_READS
    assert parsed["state"] == "claimed" and parsed["order"] == "password-first"
    assert parsed["expires_at"] == "2026-11-21T11:39:59.466632Z"
    assert parsed["error"]["message_ja"] == "署名用パスワードが違います。"
    assert text == json.dumps(parsed, ensure_ascii=False, separators=(",", ":"))  # as before
    assert event_frame(status) == f"data: {text}\n\n"


def test_a_status_is_serialised_once_however_many_watch_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []
    serialise = CardSessionStatus.model_dump_json

    def counted(self: CardSessionStatus, **options: Any) -> str:
        calls.append(self.session_id)
        return serialise(self, **options)

    monkeypatch.setattr(CardSessionStatus, "model_dump_json", counted)
    hub = CardEventHub()
    status = wrong_password()

    async def watchers() -> list[str]:
        with (
            hub.watch("party") as first,
            hub.watch("party") as second,
            hub.watch("party") as third,
        ):
            hub.publish("party", status)
            seen = [await watch.next(timeout=5) for watch in (first, second, third)]
        assert all(got is status for got in seen)
        return [event_frame(got) for got in seen if got is not None]

    frames = asyncio.run(watchers())
    assert len(frames) == 3 and len(set(frames)) == 1
    assert calls == [status.session_id]


def test_a_progress_frame_makes_a_status_with_json_of_its_own() -> None:
    status = wrong_password()
    before = status.json_text
    asking_again, event = advance(status, Stage.WAITING_FOR_CARD)
    assert asking_again.error == status.error  # a card error stays while the bridge asks again
    assert event == {"stage": "waiting_for_card", "card_error": "wrong_password", "tries_left": 4}
    verifying, event = advance(asking_again, Stage.VERIFYING)
    assert verifying.error is None and event == {"stage": "verifying"}
    assert json.loads(verifying.json_text)["stage"] == "verifying"
    assert json.loads(verifying.json_text)["error"] is None
    assert status.json_text == before  # the original is untouched (frozen, shared)
    with pytest.raises(ValueError, match="frozen"):
        status.state = CardSessionState.SIGNING


def test_the_feed_ends_after_the_party_is_done() -> None:
    status = wrong_password()
    assert not status.ends_feed
    assert status.model_copy(update={"done": True}).ends_feed
    assert status.model_copy(update={"recipient_status": RecipientStatus.REJECTED}).ends_feed


def test_between_instances_the_status_arrives_as_sent_or_is_read_again() -> None:
    read: list[str] = []
    from_database = wrong_password(tries_left=1)

    def read_status(recipient_id: str) -> CardSessionStatus | None:
        read.append(recipient_id)
        return from_database

    sender = PostgresCardEventHub("postgresql://unused", read_status)
    receiver = PostgresCardEventHub("postgresql://unused", read_status)
    status = wrong_password()
    sender.publish("party", status)  # nobody watches here; the payload is queued to send
    payload = sender._outgoing.get_nowait()
    assert payload is not None and status.json_text in payload

    async def receive(text: str) -> CardSessionStatus | None:
        with receiver.watch("party") as watch:
            await receiver._receive(text)
            return await watch.next(timeout=5)

    assert asyncio.run(receive(payload)) == status
    assert read == []
    other_shape = json.loads(payload)
    other_shape["status"]["state"] = "a state of a later version"
    assert asyncio.run(receive(json.dumps(other_shape))) == from_database
    assert read == ["party"]
