"""The audit log: append-only, hash-chained events, and the check that the chain is whole.

The package around it: `anchors` (the chain's head timestamped by the TSA, daily and at
every completion), `export` (`mynasign audit export` / `verify`, offline), `history`
(events told in words) and `access` (views and downloads recorded).

Each event's `hash` is SHA-256 over the previous event's hash (64 hex characters, ASCII;
all zeros before the first event) followed by the canonical JSON (sorted keys, no spaces,
UTF-8) of the event's fields: format version, seq, occurred_at, document_id, actor_kind,
actor, action, detail, ip and user_agent. A changed, deleted or reordered entry therefore
breaks the chain. Removing the newest entries leaves a shorter valid chain: catch that by
keeping a `chain_head` elsewhere (a mail, a sealed PDF, a log) and handing it to
`verify_chain` as `expected_head`.

Appends are serialised. On PostgreSQL a transaction-scoped advisory lock is taken before
the last event is read (a `SELECT … FOR UPDATE` on the last row would not do: it sees
nothing to lock in an empty table and, once the lock is released, still returns the old
last row). This relies on READ COMMITTED, which `webapp.db.engine` sets. On SQLite the
engine's `BEGIN IMMEDIATE` holds the database's write lock for the whole transaction. The
unique `seq` and `prev_hash` columns back both up. The lock is held until the transaction
ends, so append the event as the last step of an action's transaction.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, select, text
from sqlalchemy.orm import Session

from webapp.db.enums import ActorKind
from webapp.db.records import AuditEvent
from webapp.db.types import utc_now

GENESIS_HASH = "0" * 64
HASH_FORMAT_VERSION = 1
USER_AGENT_MAX_LENGTH = 1000
IP_MAX_LENGTH = 45
ACTION_MAX_LENGTH = 100
ADVISORY_LOCK_KEY = 0x6D796E6173696731
"""The PostgreSQL advisory lock that serialises appends ("mynasig1")."""


@dataclass(frozen=True)
class ChainHead:
    """The newest entry of the chain: what to keep elsewhere to detect a cut-off tail."""

    seq: int
    hash: str


@dataclass(frozen=True)
class ChainReport:
    """The result of `verify_chain`: whole, or where and why it breaks."""

    ok: bool
    first_bad_seq: int | None
    reason: str | None
    checked: int
    head: ChainHead | None


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value that is hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def event_hash(
    prev_hash: str,
    *,
    seq: int,
    occurred_at: datetime,
    document_id: str | None,
    actor_kind: str,
    actor: str,
    action: str,
    detail: dict[str, Any],
    ip: str | None,
    user_agent: str | None,
) -> str:
    """SHA-256 (hex) of `prev_hash` followed by the canonical JSON of the fields."""
    fields = {
        "v": HASH_FORMAT_VERSION,
        "seq": seq,
        "occurred_at": format_occurred_at(occurred_at),
        "document_id": document_id,
        "actor_kind": str(actor_kind),
        "actor": actor,
        "action": action,
        "detail": detail,
        "ip": ip,
        "user_agent": user_agent,
    }
    return fields_hash(prev_hash, fields)


def format_occurred_at(moment: datetime) -> str:
    """The one text form of an event's time that is hashed: UTC, microseconds, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fields_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 (hex) of `prev_hash` and the canonical JSON of an event's hashed fields (with
    `v`, the format version): what `mynasign audit verify` recomputes from an export."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(fields)).hexdigest()


def append_event(
    session: Session,
    *,
    action: str,
    actor_kind: ActorKind | str,
    actor: str,
    document_id: str | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> AuditEvent:
    """Add the next event to the chain in the session's transaction and flush it.

    `detail` must be a JSON object; it is stored as it reads back from JSON (tuples become
    lists), so that what is hashed is what is stored.
    """
    if not action or len(action) > ACTION_MAX_LENGTH:
        raise ValueError(f"an action is 1 to {ACTION_MAX_LENGTH} characters: {action!r}")
    kind = ActorKind(actor_kind)
    stored_detail = json.loads(canonical_json(detail if detail is not None else {}))
    if not isinstance(stored_detail, dict):
        raise TypeError(f"detail must be a JSON object, not {type(detail).__name__}")
    stored_ip = _normalize_ip(ip)
    stored_user_agent = user_agent[:USER_AGENT_MAX_LENGTH] if user_agent is not None else None

    _lock_chain(session)
    last = chain_head(session)
    seq = last.seq + 1 if last else 1
    prev_hash = last.hash if last else GENESIS_HASH
    occurred_at = utc_now()
    event = AuditEvent(
        seq=seq,
        occurred_at=occurred_at,
        document_id=document_id,
        actor_kind=kind,
        actor=actor,
        action=action,
        detail=stored_detail,
        ip=stored_ip,
        user_agent=stored_user_agent,
        prev_hash=prev_hash,
        hash=event_hash(
            prev_hash,
            seq=seq,
            occurred_at=occurred_at,
            document_id=document_id,
            actor_kind=kind,
            actor=actor,
            action=action,
            detail=stored_detail,
            ip=stored_ip,
            user_agent=stored_user_agent,
        ),
    )
    session.add(event)
    session.flush()
    return event


def stored_origin(ip: str | None, user_agent: str | None) -> tuple[str | None, str | None]:
    """An address and a user agent as an event stores them (normalised, cut to length)."""
    agent = user_agent[:USER_AGENT_MAX_LENGTH] if user_agent is not None else None
    return _normalize_ip(ip), agent


def lock_chain(session: Session) -> None:
    """Take the lock that serialises appends now, until the transaction ends: for a caller
    that must see every committed event before it decides to append one."""
    _lock_chain(session)


def chain_head(session: Session) -> ChainHead | None:
    """The newest entry's seq and hash, None while the log is empty."""
    row = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return ChainHead(seq=row.seq, hash=row.hash) if row else None


def events_for_document(session: Session, document_id: str) -> list[AuditEvent]:
    """A document's events, oldest first."""
    query = select(AuditEvent).where(AuditEvent.document_id == document_id)
    return list(session.scalars(query.order_by(AuditEvent.seq)))


def verify_chain(
    session: Session, *, expected_head: ChainHead | None = None, batch_size: int = 1000
) -> ChainReport:
    """Walk the whole log in seq order and say whether every link holds.

    Streams the rows, so memory does not grow with the log. On SQLite, pass a session on
    `engine.execution_options(**SQLITE_DEFERRED)` so that a long walk does not hold the
    write lock (`webapp.db.engine`).
    """
    table = AuditEvent.__table__
    rows = session.execute(select(table).order_by(table.c.seq)).yield_per(batch_size)
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    head: ChainHead | None = None
    for row in rows:
        checked += 1
        problem = _link_problem(row, expected_seq, prev_hash)
        if problem is not None:
            return ChainReport(False, row.seq, problem, checked, head)
        if expected_head and row.seq == expected_head.seq and row.hash != expected_head.hash:
            reason = "the entry differs from the chain head kept elsewhere"
            return ChainReport(False, row.seq, reason, checked, head)
        head = ChainHead(seq=row.seq, hash=row.hash)
        expected_seq, prev_hash = row.seq + 1, row.hash
    if expected_head and (head is None or head.seq < expected_head.seq):
        reason = f"entries up to seq {expected_head.seq} were kept elsewhere but are missing"
        return ChainReport(False, expected_seq, reason, checked, head)
    return ChainReport(True, None, None, checked, head)


def _link_problem(row: Row[Any], expected_seq: int, prev_hash: str) -> str | None:
    if row.seq != expected_seq:
        return f"expected seq {expected_seq}, found {row.seq}: entries missing or reordered"
    if row.prev_hash != prev_hash:
        return "prev_hash is not the previous entry's hash: entries removed or reordered"
    recomputed = event_hash(
        row.prev_hash,
        seq=row.seq,
        occurred_at=row.occurred_at,
        document_id=row.document_id,
        actor_kind=row.actor_kind,
        actor=row.actor,
        action=row.action,
        detail=row.detail,
        ip=row.ip,
        user_agent=row.user_agent,
    )
    if recomputed != row.hash:
        return "the entry's content does not match its hash: it was changed"
    return None


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})


def _normalize_ip(ip: str | None) -> str | None:
    if ip is None:
        return None
    try:
        normalized = ipaddress.ip_address(ip).compressed
    except ValueError:
        normalized = ip  # e.g. "testclient" from Starlette's test client
    return normalized[:IP_MAX_LENGTH]
