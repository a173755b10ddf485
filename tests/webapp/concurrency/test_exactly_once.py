"""Exactly once across instances: each expiry, each closing step, each judged signature."""

from __future__ import annotations

import base64
import datetime
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from bridge.protocol import Order
from jpkisim.pki import CardIdentity, TestPki
from tests.webapp.card_signing.conftest import PARTY_NAME, signature_frame
from tests.webapp.conftest import Service, closing_step_down
from tests.webapp.test_api_flow import add_recipient, open_link, upload
from webapp.card_signing import sessions as card_sessions
from webapp.db.models import AuditEvent, DocumentRevision, RevisionKind
from webapp.services.context import ServiceContext
from webapp.services.periodic import run_once_across_instances
from webapp.services.recipients import complete_if_ready

T = TypeVar("T")


def at_once(*calls: Callable[[], T]) -> list[T]:
    """Run the calls in threads released together."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        start.wait(30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result(120) for f in [pool.submit(run, call) for call in calls]]


def audit_count(context: ServiceContext, action: str) -> int:
    with context.sessions() as db:
        return int(db.scalar(select(func.count()).where(AuditEvent.action == action)) or 0)


def sent_to_card_party(service: Service) -> tuple[str, str, str]:
    document_id = upload(service)
    add_recipient(
        service, document_id, name=PARTY_NAME, email="hanako@example.jp",
        require_mynumber_card=True,
    )  # fmt: skip
    sent = service.client.post(f"/api/v1/documents/{document_id}/send", headers=service.auth)
    assert sent.status_code == 200, sent.text
    token = service.link_token("hanako@example.jp")
    return document_id, token, open_link(service, token)


def test_an_expired_card_session_is_recorded_once(
    pg_service: Service, other_instance: Callable[[], ServiceContext]
) -> None:
    _, token, session = sent_to_card_party(pg_service)
    for _ in range(3):  # three sessions; each newer one replaces the one before
        started = pg_service.client.post(
            f"/api/v1/r/{token}/card-session", headers={"Authorization": f"Bearer {session}"}
        )
        assert started.status_code == 201, started.text
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=11)
    contexts = [pg_service.context, other_instance(), other_instance()]
    for context in contexts:
        context.clock = lambda: later
    at_once(*[lambda c=c: card_sessions.expire_due(c) for c in contexts])
    at_once(*[lambda c=c: card_sessions.expire_due(c) for c in contexts])
    assert audit_count(pg_service.context, "card_session.expired") == 1


def test_a_round_runs_on_one_instance_at_a_time(
    pg_service: Service, other_instance: Callable[[], ServiceContext]
) -> None:
    inside, release = threading.Event(), threading.Event()
    runs: list[str] = []

    def slow_round(context: ServiceContext) -> None:
        runs.append("ran")
        inside.set()
        release.wait(30)

    first, second = pg_service.context, other_instance()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(run_once_across_instances, first, "test-round", slow_round)
        assert inside.wait(30)
        assert run_once_across_instances(second, "test-round", slow_round) is False
        release.set()
        assert running.result(30) is True
    assert run_once_across_instances(second, "test-round", lambda c: runs.append("again"))
    assert runs == ["ran", "again"]


def test_the_closing_step_runs_once_when_two_instances_try(
    pg_service: Service,
    other_instance: Callable[[], ServiceContext],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    document_id = upload(pg_service)
    add_recipient(pg_service, document_id, name="甲 一郎", email="ichiro@example.jp")
    sent = pg_service.client.post(f"/api/v1/documents/{document_id}/send", headers=pg_service.auth)
    assert sent.status_code == 200
    token = pg_service.link_token("ichiro@example.jp")
    session = open_link(pg_service, token)

    with closing_step_down(pg_service.context):
        agreed = pg_service.client.post(
            f"/api/v1/r/{token}/agree", headers={"Authorization": f"Bearer {session}"}
        )
    assert agreed.status_code == 200, agreed.text
    # the TSA is back: every instance's retry round tries at once
    contexts = [pg_service.context, other_instance(), other_instance()]
    results = at_once(*[lambda c=c: complete_if_ready(c, document_id) for c in contexts])
    results += at_once(*[lambda c=c: complete_if_ready(c, document_id) for c in contexts])
    assert results.count(True) == 1, results
    assert audit_count(pg_service.context, "document.completed") == 1
    with pg_service.context.sessions() as db:
        finals = db.scalar(
            select(func.count()).where(
                DocumentRevision.document_id == document_id,
                DocumentRevision.kind == RevisionKind.FINAL,
            )
        )
    assert finals == 1


def test_the_same_signature_sent_to_two_instances_is_judged_once(
    pg_service: Service, other_instance: Callable[[], ServiceContext]
) -> None:
    _, token, session = sent_to_card_party(pg_service)
    started = pg_service.client.post(
        f"/api/v1/r/{token}/card-session", headers={"Authorization": f"Bearer {session}"}
    )
    assert started.status_code == 201, started.text
    session_id = started.json()["session_id"]
    pki = TestPki.load(pg_service.context.settings.data_dir / "pki")
    card = pki.issue_card(CardIdentity(name=PARTY_NAME))
    card_sessions.claim(pg_service.context, session_id, Order.PASSWORD_FIRST)
    digest = card_sessions.snapshot(pg_service.context, session_id).request.digest_hex
    frame = signature_frame(card, digest)
    cms = base64.b64decode(frame["cms"])
    contexts = [pg_service.context, other_instance(), other_instance()]
    verdicts = at_once(
        *[lambda c=c: card_sessions.judge_signature(c, session_id, digest, cms) for c in contexts]
    )
    assert all(v.accepted for v in verdicts), verdicts
    assert audit_count(pg_service.context, "recipient.card_signed") == 1
    assert audit_count(pg_service.context, "document.completed") == 1
