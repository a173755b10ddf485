"""What the service keeps on record: the mail outbox and the hash-chained audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from webapp.db.base import (
    BLOB_NAME_LENGTH,
    EMAIL_LENGTH,
    SHA256_HEX_LENGTH,
    Base,
    created_at_column,
    enum_column,
    id_column,
)
from webapp.db.enums import ActorKind
from webapp.db.types import ID_LENGTH, UtcDateTime, utc_now


class OutgoingMail(Base):
    """A mail in the outbox: written in the same transaction as the action, sent later.

    Sending marks `sent_at`; a failed attempt counts in `attempts`, keeps `last_error`
    and moves `next_attempt_at`, so nothing is lost when the mail server is down.
    """

    __tablename__ = "outgoing_mails"
    __table_args__ = (
        Index("ix_outgoing_mails_sent_at_next_attempt_at", "sent_at", "next_attempt_at"),
    )

    id: Mapped[str] = id_column()
    to: Mapped[str] = mapped_column("to_address", String(EMAIL_LENGTH))
    subject: Mapped[str] = mapped_column(String(500))
    body_text: Mapped[str] = mapped_column(Text())
    body_html: Mapped[str | None] = mapped_column(Text(), default=None)
    document_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("documents.id", ondelete="SET NULL"), default=None
    )
    """The document the mail is about; its data key decrypts the attachment."""
    attachment_blob_name: Mapped[str | None] = mapped_column(String(BLOB_NAME_LENGTH), default=None)
    attachment_filename: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = created_at_column()
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    attempts: Mapped[int] = mapped_column(Integer(), default=0)
    last_error: Mapped[str | None] = mapped_column(Text(), default=None)


class AuditEvent(Base):
    """One entry of the append-only audit log; write it with `webapp.audit.append_event`.

    `hash` is SHA-256 over `prev_hash` and the canonical JSON of the other fields, so a
    changed, deleted or reordered entry breaks the chain (`webapp.audit.verify_chain`).
    `prev_hash` is unique: two entries can never follow the same one.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    seq: Mapped[int] = mapped_column(BigInteger(), unique=True)
    """1, 2, 3, … with no gaps: the order of the chain."""
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    document_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True, default=None)
    """No foreign key on purpose: the record outlives what it is about."""
    actor_kind: Mapped[ActorKind] = mapped_column(enum_column(ActorKind, "actor_kind"))
    actor: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    """A user's or recipient's ID, an e-mail address, or a component name for `system`."""
    action: Mapped[str] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON())
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    user_agent: Mapped[str | None] = mapped_column(Text(), default=None)
    prev_hash: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH), unique=True)
    hash: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH), unique=True)


class AuditLogIsAppendOnlyError(RuntimeError):
    """Raised when code tries to change or delete an audit event through the ORM."""


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_audit_changes(_mapper: Mapper[Any], _connection: Connection, target: Any) -> None:
    raise AuditLogIsAppendOnlyError(f"audit event seq {target.seq} cannot be changed or deleted")
