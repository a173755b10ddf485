"""The renewal job: find finished documents whose timestamp runs out, renew each exactly once.

Every completed document gets an `ArchiveState` row. A round (the daily background task,
or `mynasign archive renew`) claims rows one at a time: on PostgreSQL with
`SELECT … FOR UPDATE SKIP LOCKED`, on SQLite under the write lock `BEGIN IMMEDIATE`
takes; the claim is a lease (`claimed_until`) committed at once, so two instances never
work on the same document, and a crashed instance's claim runs out by itself. A claimed
document is examined (the newest document timestamp's TSA certificate end, weak
algorithms) when its current revision was not examined yet, and renewed when that
certificate ends within the window or an algorithm is weak: DSS + a new document
timestamp, stored as the next revision and recorded in the audit chain, in one short
transaction after the PDF work (as `webapp.services.revisions` does it everywhere).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy import exists, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from webapp.archive.pdf import NewestTimestamp, newest_timestamp, renew_archive_timestamp
from webapp.audit.actor import Audit
from webapp.db.models import ActorKind, ArchiveState, Document, DocumentStatus, RevisionKind
from webapp.errors import DomainError
from webapp.offload import off_loop
from webapp.pdf import Sealer
from webapp.services import revisions
from webapp.services.context import ServiceContext

log = logging.getLogger(__name__)
DEFAULT_WINDOW_DAYS = 365
LEASE = datetime.timedelta(minutes=15)
"""How long a claim holds; far longer than one renewal (two TSA calls and some OCSP)."""
RENEWED_ACTION = "document.timestamp_renewed"


@dataclass
class RenewalReport:
    """What one round did."""

    examined: int = 0
    renewed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _upsert_missing_states(db: Session) -> None:
    """An `ArchiveState` for every completed document that has none (safe to race)."""
    missing = select(Document.id).where(
        Document.status == DocumentStatus.COMPLETED,
        ~exists().where(ArchiveState.document_id == Document.id),
    )
    ids = [{"document_id": i, "renewals": 0} for i in db.scalars(missing)]
    if not ids:
        return
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.execute(insert(ArchiveState).values(ids).on_conflict_do_nothing())


def _claim(ctx: ServiceContext, window: datetime.timedelta, skip: Sequence[str]) -> str | None:
    """Claim the next document to examine or renew; its ID (the claim is committed)."""
    now = ctx.now()
    with ctx.sessions() as db, db.begin():
        _upsert_missing_states(db)
        due = or_(
            ArchiveState.examined_revision.is_(None),
            ArchiveState.examined_revision != Document.current_revision,
            ArchiveState.timestamp_expires_at.is_(None),
            ArchiveState.timestamp_expires_at <= now + window,
            ArchiveState.weak_algorithm.is_not(None),
        )
        state = db.scalar(
            select(ArchiveState)
            .join(Document, Document.id == ArchiveState.document_id)
            .where(
                Document.status == DocumentStatus.COMPLETED,
                or_(ArchiveState.claimed_until.is_(None), ArchiveState.claimed_until < now),
                ArchiveState.document_id.not_in(list(skip)),
                due,
            )
            .order_by(ArchiveState.timestamp_expires_at.asc().nulls_first())
            .limit(1)
            .with_for_update(skip_locked=True, of=ArchiveState)
        )
        if state is None:
            return None
        state.claimed_until = now + LEASE
        return state.document_id


def _release(ctx: ServiceContext, document_id: str, **fields: object) -> None:
    with ctx.sessions() as db, db.begin():
        state = db.get_one(ArchiveState, document_id, with_for_update=True)
        for name, value in fields.items():
            setattr(state, name, value)
        state.claimed_until = None


def _examine(ctx: ServiceContext, document_id: str) -> tuple[int, str, NewestTimestamp]:
    with ctx.sessions() as db:
        document = db.get_one(Document, document_id)
        current = revisions.current_revision(db, document)
        with revisions.decrypted_copy(ctx, document, current.blob_name) as plain:
            return document.current_revision, current.blob_name, newest_timestamp(plain)


def _is_due(found: NewestTimestamp, now: datetime.datetime, window: datetime.timedelta) -> bool:
    if found.weak_algorithm is not None or found.tsa_expires_at is None:
        return True
    return found.tsa_expires_at <= now + window


@dataclass(frozen=True)
class RenewTimestampJob:
    """Validation data and a new document timestamp (a PDF job: runs in a PDF worker)."""

    trust_roots: tuple[bytes, ...]
    existing_timestamps: int

    async def run(self, sealer: Sealer, source: BinaryIO, output: BinaryIO) -> None:
        await renew_archive_timestamp(
            source, output, sealer.timestamper, list(self.trust_roots),
            existing_timestamps=self.existing_timestamps,
        )  # fmt: skip


def _renew(
    ctx: ServiceContext, trust_roots: Sequence[bytes], document_id: str, base: int, blob: str,
    found: NewestTimestamp,
) -> NewestTimestamp | None:  # fmt: skip
    """Store the next revision with a new document timestamp; what it holds now (None: the
    document changed meanwhile and nothing was recorded)."""
    with ctx.sessions() as db:
        document = db.get_one(Document, document_id)
        db.expunge(document)

    step = RenewTimestampJob(tuple(trust_roots), found.count)
    new = revisions.next_revision(ctx, document, blob, RevisionKind.FINAL, [step])
    try:
        with revisions.decrypted_copy(ctx, document, new.blob.blob_name) as plain:
            renewed = newest_timestamp(plain)
        with ctx.sessions() as db, db.begin():
            locked = db.scalar(select(Document).where(Document.id == document_id).with_for_update())
            if locked is None or locked.current_revision != base:
                revisions.discard(ctx, new)
                return None
            revisions.record_revision(db, locked, new)
            state = db.get_one(ArchiveState, document_id)
            state.renewals += 1
            Audit(ActorKind.SYSTEM, "archive").event(
                db, RENEWED_ACTION, document_id, revision=new.number, sha256=new.blob.sha256,
                previous_tsa_expires_at=_iso(found.tsa_expires_at),
                previous_weak_algorithm=found.weak_algorithm,
                tsa_expires_at=_iso(renewed.tsa_expires_at),
            )  # fmt: skip
    except BaseException:
        revisions.discard(ctx, new)
        raise
    return renewed


def _iso(moment: datetime.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def renew_due(
    ctx: ServiceContext,
    trust_roots: Sequence[bytes] | None = None,
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> RenewalReport:
    """One round over every finished document (see the module docstring), in a worker
    thread: the event loop goes on meanwhile.

    `trust_roots` (DER) validate the newest timestamp's TSA; by default the sealer's.
    """
    roots = list(trust_roots) if trust_roots is not None else ctx.sealer.trust_roots
    return await off_loop(renew_due_blocking, ctx, roots, window_days)


def renew_due_blocking(
    ctx: ServiceContext, trust_roots: Sequence[bytes], window_days: int
) -> RenewalReport:
    """`renew_due` in the calling thread (never on the event loop)."""
    window = datetime.timedelta(days=window_days)
    report = RenewalReport()
    done: list[str] = []
    while (document_id := _claim(ctx, window, done)) is not None:
        done.append(document_id)
        try:
            base, blob, found = _examine(ctx, document_id)
            report.examined += 1
            if _is_due(found, ctx.now(), window):
                renewed = _renew(ctx, trust_roots, document_id, base, blob, found)
                if renewed is not None:
                    report.renewed.append(document_id)
                    found, base = renewed, base + 1
            _release(
                ctx, document_id, examined_revision=base,
                timestamp_expires_at=found.tsa_expires_at, weak_algorithm=found.weak_algorithm,
                last_error=None, **_renewal_fields(ctx, document_id in report.renewed),
            )  # fmt: skip
        except DomainError as exc:
            log.warning("archive: document %s not renewed: %s", document_id, exc.code)
            report.failed[document_id] = exc.code
            _release(ctx, document_id, last_error=exc.code)
        except Exception as exc:
            log.exception("archive: document %s failed", document_id)
            report.failed[document_id] = type(exc).__name__
            _release(ctx, document_id, last_error=type(exc).__name__)
    return report


def _renewal_fields(ctx: ServiceContext, renewed: bool) -> dict[str, object]:
    return {"renewed_at": ctx.now()} if renewed else {}
