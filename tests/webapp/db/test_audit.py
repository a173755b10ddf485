"""The audit chain: appends link up, tampering of any kind is found, the log is append-only."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from webapp.audit import (
    GENESIS_HASH,
    ChainHead,
    ChainReport,
    append_event,
    canonical_json,
    chain_head,
    event_hash,
    events_for_document,
    verify_chain,
)
from webapp.db.models import ActorKind, AuditEvent, AuditLogIsAppendOnlyError


def append_some(session_factory: sessionmaker[Session], count: int) -> None:
    with session_factory.begin() as session:
        for number in range(1, count + 1):
            append_event(
                session,
                action=f"document.step{number}",
                actor_kind=ActorKind.SENDER if number % 2 else "recipient",
                actor=f"user{number}@example.jp",
                document_id="DOC" if number % 3 else None,
                detail={"number": number, "名前": "山田"},
                ip="192.0.2.1",
                user_agent="Mozilla/5.0",
            )


@contextmanager
def triggers_off(engine: Engine) -> Iterator[None]:
    """Lets a test change audit rows directly, as an attacker with database access could."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            triggers: list[tuple[str, str]] = []
        else:
            rows = connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'audit_events'"
                     " AND type = 'trigger'")
            ).all()  # fmt: skip
            triggers = [(name, sql) for name, sql in rows]
            assert len(triggers) == 2
            for name, _ in triggers:
                connection.execute(text(f"DROP TRIGGER {name}"))
    yield
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
        for _, sql in triggers:
            connection.execute(text(sql))


def tamper(engine: Engine, *statements: str) -> None:
    with triggers_off(engine), engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def report(
    session_factory: sessionmaker[Session], expected_head: ChainHead | None = None
) -> ChainReport:
    with session_factory() as session:
        return verify_chain(session, expected_head=expected_head, batch_size=2)


def test_appends_link_up(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        assert verify_chain(session).ok and chain_head(session) is None
    append_some(session_factory, 5)
    with session_factory() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert [e.seq for e in events] == [1, 2, 3, 4, 5]
        assert events[0].prev_hash == GENESIS_HASH
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
        assert events[1].actor_kind is ActorKind.RECIPIENT
        assert events[0].detail == {"number": 1, "名前": "山田"}
        result = verify_chain(session, batch_size=2)
        assert (result.ok, result.first_bad_seq, result.reason, result.checked) == (
            True, None, None, 5
        )  # fmt: skip
        assert result.head == chain_head(session) == ChainHead(5, events[-1].hash)
        assert [e.seq for e in events_for_document(session, "DOC")] == [1, 2, 4, 5]


def test_the_hash_is_sha256_of_prev_hash_and_canonical_json(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        event = append_event(
            session, action="user.login", actor_kind="sender", actor="u1", detail={"b": 1, "a": [2]}
        )
    fields = {
        "v": 1,
        "seq": 1,
        "occurred_at": event.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "document_id": None,
        "actor_kind": "sender",
        "actor": "u1",
        "action": "user.login",
        "detail": {"a": [2], "b": 1},
        "ip": None,
        "user_agent": None,
    }
    expected = hashlib.sha256(
        GENESIS_HASH.encode() + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert event.hash == expected
    assert canonical_json({"b": "é", "a": 1}) == '{"a":1,"b":"é"}'.encode()


def test_what_is_stored_is_what_was_hashed(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        append_event(
            session,
            action="recipient.open",
            actor_kind=ActorKind.RECIPIENT,
            actor="r1",
            detail={"pair": (1, 2), "ratio": 0.1, "big": 2**60},
            ip="2001:DB8:0:0:0:0:0:1",
            user_agent="x" * 5000,
        )
        append_event(session, action="a", actor_kind="system", actor="s", ip="testclient")
    with session_factory() as session:
        first, second = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert first.detail == {"pair": [1, 2], "ratio": 0.1, "big": 2**60}
        assert first.ip == "2001:db8::1" and second.ip == "testclient"
        assert first.user_agent is not None and len(first.user_agent) == 1000
        assert verify_chain(session).ok


def test_bad_events_are_refused(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        with pytest.raises(ValueError, match="ActorKind"):
            append_event(session, action="x", actor_kind="robot", actor="r")
        with pytest.raises(ValueError, match="action"):
            append_event(session, action="", actor_kind="system", actor="s")
        with pytest.raises(ValueError):
            append_event(
                session, action="x", actor_kind="system", actor="s", detail={"n": float("nan")}
            )
        with pytest.raises(TypeError):
            append_event(session, action="x", actor_kind="system", actor="s", detail=[1])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("statement", "bad_seq", "reason"),
    [
        ("UPDATE audit_events SET action = 'document.cancel' WHERE seq = 3", 3, "changed"),
        ("UPDATE audit_events SET detail = '{\"number\": 99}' WHERE seq = 2", 2, "changed"),
        ("UPDATE audit_events SET ip = '198.51.100.7' WHERE seq = 4", 4, "changed"),
        ("DELETE FROM audit_events WHERE seq = 3", 4, "missing"),
        ("DELETE FROM audit_events WHERE seq = 1", 2, "missing"),
        ("UPDATE audit_events SET seq = seq + 10 WHERE seq = 5", 6, "missing"),
    ],
)
def test_tampering_is_found(
    session_factory: sessionmaker[Session],
    engine: Engine,
    statement: str,
    bad_seq: int,
    reason: str,
) -> None:
    append_some(session_factory, 6)
    assert report(session_factory).ok
    tamper(engine, statement)
    result = report(session_factory)
    assert (result.ok, result.first_bad_seq) == (False, bad_seq)
    assert result.reason is not None and reason in result.reason


def test_reordering_is_found(session_factory: sessionmaker[Session], engine: Engine) -> None:
    append_some(session_factory, 5)
    tamper(
        engine,
        "UPDATE audit_events SET seq = -2 WHERE seq = 2",
        "UPDATE audit_events SET seq = 2 WHERE seq = 3",
        "UPDATE audit_events SET seq = 3 WHERE seq = -2",
    )
    result = report(session_factory)
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert result.reason is not None and "reordered" in result.reason


def test_a_rewritten_entry_with_a_fresh_hash_breaks_the_next_link(
    session_factory: sessionmaker[Session], engine: Engine
) -> None:
    append_some(session_factory, 4)
    with session_factory() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.seq == 2)).one()
        forged_hash = event_hash(
            event.prev_hash,
            seq=2,
            occurred_at=event.occurred_at,
            document_id=event.document_id,
            actor_kind=event.actor_kind,
            actor=event.actor,
            action="document.forged",
            detail=event.detail,
            ip=event.ip,
            user_agent=event.user_agent,
        )
    with triggers_off(engine), engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_events SET action = 'document.forged', hash = :hash WHERE seq = 2"),
            {"hash": forged_hash},
        )
    result = report(session_factory)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert result.reason is not None and "prev_hash" in result.reason


def test_a_cut_off_tail_is_found_against_a_head_kept_elsewhere(
    session_factory: sessionmaker[Session], engine: Engine
) -> None:
    append_some(session_factory, 5)
    with session_factory() as session:
        kept = chain_head(session)
    assert kept is not None and report(session_factory, expected_head=kept).ok
    tamper(engine, "DELETE FROM audit_events WHERE seq >= 4")
    assert report(session_factory).ok  # the chain alone cannot tell
    result = report(session_factory, expected_head=kept)
    assert (result.ok, result.first_bad_seq) == (False, 4)
    forged = ChainHead(seq=2, hash="b" * 64)
    assert report(session_factory, expected_head=forged).first_bad_seq == 2


def test_the_database_refuses_changes_to_the_log(
    session_factory: sessionmaker[Session], engine: Engine
) -> None:
    append_some(session_factory, 2)
    statements = ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_events")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    assert report(session_factory).checked == 2


def test_the_orm_refuses_changes_to_the_log(session_factory: sessionmaker[Session]) -> None:
    append_some(session_factory, 1)
    with session_factory() as session:
        event = session.scalars(select(AuditEvent)).one()
        event.action = "changed"
        with pytest.raises(AuditLogIsAppendOnlyError):
            session.flush()
    with session_factory() as session:
        session.delete(session.scalars(select(AuditEvent)).one())
        with pytest.raises(AuditLogIsAppendOnlyError):
            session.flush()


def test_a_rolled_back_append_leaves_no_trace(session_factory: sessionmaker[Session]) -> None:
    append_some(session_factory, 1)
    with session_factory() as session:
        append_event(session, action="undone", actor_kind="system", actor="s")
        session.rollback()
    append_some(session_factory, 1)
    result = report(session_factory)
    assert result.ok and result.checked == 2


def test_concurrent_appends_make_one_chain(session_factory: sessionmaker[Session]) -> None:
    threads_count, rounds = 6, 8
    barrier = threading.Barrier(threads_count, timeout=60)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for round_number in range(rounds):
                barrier.wait()
                with session_factory.begin() as session:
                    append_event(
                        session,
                        action="concurrent",
                        actor_kind="system",
                        actor=f"worker{worker}",
                        detail={"round": round_number},
                    )
        except BaseException as error:
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with session_factory() as session:
        seqs = session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
        assert seqs == list(range(1, threads_count * rounds + 1))
        assert verify_chain(session).ok
