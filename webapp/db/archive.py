"""Where each finished document's long-term timestamp stands, and who is renewing it.

One row per completed document, made by the renewal job (`webapp.archive`) the first time
it looks at the document. `claimed_until` is the lease of the instance renewing it: a row
is claimed with `SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL) or under SQLite's write
lock, so one document is renewed by exactly one instance at a time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.db.base import Base
from webapp.db.types import ID_LENGTH, UtcDateTime


class ArchiveState(Base):
    """The newest document timestamp of a finished document, as last examined."""

    __tablename__ = "archive_states"
    __table_args__ = (Index("ix_archive_states_timestamp_expires_at", "timestamp_expires_at"),)

    document_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    examined_revision: Mapped[int | None] = mapped_column(Integer(), default=None)
    """The revision number examined; None: not yet (the row was just made)."""
    timestamp_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    """When the certificate of the TSA that made the newest document timestamp ends."""
    weak_algorithm: Mapped[str | None] = mapped_column(String(100), default=None)
    """An algorithm of that timestamp now considered weak (e.g. `sha1`); None: none."""
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    """An instance is renewing it until then (a lease that outlives a crashed instance)."""
    renewals: Mapped[int] = mapped_column(Integer(), default=0)
    renewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(Text(), default=None)
