"""The card sessions' expiry round (every second): ends what is due, and nothing else.

It must not take SQLite's one writer's turn when nothing is due (it runs every second
beside every request), must end sessions whose time is over or whose document closed, and
must remove the prepared revisions of ended sessions.
"""

from __future__ import annotations

import datetime

from sqlalchemy import select

from tests.webapp.concurrency.test_exactly_once import audit_count, sent_to_card_party
from tests.webapp.conftest import Service, writer_turn_held
from webapp.card_signing import sessions as card_sessions
from webapp.db.models import CardSession, CardSessionState


def start_session(service: Service, token: str, session: str) -> str:
    started = service.client.post(
        f"/api/v1/r/{token}/card-session", headers={"Authorization": f"Bearer {session}"}
    )
    assert started.status_code == 201, started.text
    return str(started.json()["session_id"])


def stored(service: Service, blob_name: str) -> bool:
    return (service.context.files.root / blob_name).exists()  # the default local store


def card_session(service: Service, session_id: str) -> CardSession:
    with service.context.sessions() as db:
        return db.get_one(CardSession, session_id)


def test_a_round_with_nothing_due_does_not_wait_for_the_writer(service: Service) -> None:
    _, token, session = sent_to_card_party(service)
    session_id = start_session(service, token, session)
    with writer_turn_held(service.context) as writer:
        assert card_sessions.expire_due(service.context) == 0  # would wait, then 503, if it wrote
        assert writer.is_alive()
    assert card_session(service, session_id).state is CardSessionState.CREATED


def test_the_round_ends_a_timed_out_session_and_removes_its_prepared_revision(
    service: Service,
) -> None:
    _, token, session = sent_to_card_party(service)
    session_id = start_session(service, token, session)
    blob = card_session(service, session_id).prepared_blob_name
    assert blob is not None and stored(service, blob)
    later = service.context.now() + datetime.timedelta(minutes=11)
    service.context.clock = lambda: later
    assert card_sessions.expire_due(service.context) == 1
    ended = card_session(service, session_id)
    assert ended.state is CardSessionState.EXPIRED and ended.prepared_blob_name is None
    assert not stored(service, blob)
    assert audit_count(service.context, "card_session.expired") == 1
    assert card_sessions.expire_due(service.context) == 0  # once


def test_the_round_ends_the_session_of_a_cancelled_document(service: Service) -> None:
    document_id, token, session = sent_to_card_party(service)
    session_id = start_session(service, token, session)
    cancelled = service.client.post(f"/api/v1/documents/{document_id}/cancel", headers=service.auth)
    assert cancelled.status_code == 200, cancelled.text
    assert card_sessions.expire_due(service.context) == 1
    ended = card_session(service, session_id)
    assert ended.state is CardSessionState.CANCELLED
    assert ended.reject_reason == "document_closed"
    with service.context.sessions() as db:
        still_open = db.scalars(
            select(CardSession).where(CardSession.state.in_(card_sessions.OPEN_STATES))
        ).all()
    assert still_open == []
