"""The audit chain's head timestamped: at every completion, daily, once across instances."""

from __future__ import annotations

import dataclasses
import datetime
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.webapp.conftest import Service
from tests.webapp.db.conftest import postgres_databases  # noqa: F401 - the fixture
from tests.webapp.db.databases import PostgresDatabases
from tests.webapp.records.conftest import Completed
from webapp.audit import append_event
from webapp.audit.anchors import anchor_round, verify_anchor_token
from webapp.db.engine import make_engine, make_session_factory
from webapp.db.models import ActorKind, AuditAnchor, AuditEvent
from webapp.services.context import ServiceContext

TODAY = datetime.datetime(2026, 12, 6, 3, 0, tzinfo=datetime.UTC)  # 12:00 in Japan


def test_every_completion_anchors_the_head_with_a_valid_token(
    completed: Completed, tmp_path: Path
) -> None:
    context = completed.service.context
    with context.sessions() as db:
        anchor = db.scalars(
            select(AuditAnchor).where(AuditAnchor.document_id == completed.document_id)
        ).one()
        completion = db.scalars(
            select(AuditEvent).where(
                AuditEvent.document_id == completed.document_id,
                AuditEvent.action == "document.completed",
            )
        ).one()
        head = db.scalars(select(AuditEvent).where(AuditEvent.seq == anchor.head_seq)).one()
    assert anchor.kind == "completion" and anchor.head_seq >= completion.seq
    assert anchor.head_hash == head.hash
    runtime = completed.service.client.app.state.runtime  # type: ignore[attr-defined]
    at = verify_anchor_token(anchor.token, anchor.head_seq, anchor.head_hash, runtime.trust_roots)
    assert at == anchor.timestamped_at
    with pytest.raises(Exception, match="not over entry"):
        verify_anchor_token(anchor.token, anchor.head_seq, "0" * 64, runtime.trust_roots)


@pytest.fixture
def shared_database(postgres_databases: PostgresDatabases) -> Iterator[str]:  # noqa: F811
    url = postgres_databases.create(migrated=True)
    try:
        yield url
    finally:
        postgres_databases.drop(url)


class _Clock:
    def __init__(self, now: datetime.datetime) -> None:
        self.now = now

    def __call__(self) -> datetime.datetime:
        return self.now


def _instances(service: Service, url: str, clock: _Clock, count: int) -> list[ServiceContext]:
    """`count` instances of the service on one PostgreSQL database (the TSA of `service`)."""
    made = []
    for _ in range(count):
        sessions = make_session_factory(make_engine(url))
        made.append(dataclasses.replace(service.context, sessions=sessions, clock=clock))
    return made


def _rounds_at_once(instances: list[ServiceContext]) -> list[list[AuditAnchor]]:
    barrier = threading.Barrier(len(instances), timeout=30)
    results: list[list[AuditAnchor]] = [[] for _ in instances]
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = anchor_round(instances[index])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(instances))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def _anchors(context: ServiceContext) -> list[AuditAnchor]:
    with context.sessions() as db:
        return list(db.scalars(select(AuditAnchor).order_by(AuditAnchor.id)))


def test_the_daily_anchor_is_made_once_by_two_instances_on_postgresql(
    service: Service, shared_database: str
) -> None:
    clock = _Clock(TODAY)
    first, second = _instances(service, shared_database, clock, 2)
    assert anchor_round(first) == []  # an empty log: nothing to anchor
    with first.sessions() as db, db.begin():
        for n in range(3):
            append_event(db, action="test.event", actor_kind=ActorKind.SYSTEM, actor=f"t{n}")

    results = _rounds_at_once([first, second])
    assert sorted(len(made) for made in results) == [0, 1]
    anchors = _anchors(first)
    assert [(a.kind, a.day, a.head_seq) for a in anchors] == [("daily", TODAY.date(), 3)]
    assert _rounds_at_once([first, second]) == [[], []]  # the same day: nothing more

    with first.sessions() as db, db.begin():  # a completion whose own anchor failed
        append_event(
            db, action="document.completed", actor_kind=ActorKind.SYSTEM, actor="system",
            document_id="DOCUMENTWHOSEANCHORFAILED",
        )  # fmt: skip
    results = _rounds_at_once([first, second])
    assert sorted(len(made) for made in results) == [0, 1]
    assert [(a.kind, a.document_id, a.head_seq) for a in _anchors(first)][1:] == [
        ("completion", "DOCUMENTWHOSEANCHORFAILED", 4)
    ]

    clock.now = TODAY + datetime.timedelta(days=1)  # the next day in Japan
    results = _rounds_at_once([first, second])
    assert sorted(len(made) for made in results) == [0, 1]
    days = [a.day for a in _anchors(first) if a.kind == "daily"]
    assert days == [TODAY.date(), TODAY.date() + datetime.timedelta(days=1)]
    for context in (first, second):
        context.sessions.kw["bind"].dispose()
