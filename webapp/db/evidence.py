"""Evidence kept beside the audit log: agreement certificates and the log's timestamped heads."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.db.base import BLOB_NAME_LENGTH, SHA256_HEX_LENGTH, Base, created_at_column
from webapp.db.types import ID_LENGTH, UtcDateTime, new_document_id


class AgreementCertificate(Base):
    """A document's agreement certificate (締結証明書): its ID from sending, its PDF at completion.

    The ID is decided when the document is sent, because it is stamped on page 1 next to the
    document ID; the sealed PDF (in the encrypted store, under the document's data key) is
    made when the document completes.
    """

    __tablename__ = "agreement_certificates"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_document_id)
    """Random, base32 like a document ID: the certificate ID printed on both PDFs."""
    document_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("documents.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = created_at_column()
    issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    """When the sealed certificate was stored (None until the document completes)."""
    blob_name: Mapped[str | None] = mapped_column(String(BLOB_NAME_LENGTH), default=None)
    sha256: Mapped[str | None] = mapped_column(String(SHA256_HEX_LENGTH), default=None)
    """Of the sealed certificate PDF."""
    size: Mapped[int | None] = mapped_column(BigInteger(), default=None)


class AuditAnchor(Base):
    """The audit chain's head at one moment, timestamped by the TSA (RFC 3161).

    The token's message imprint is SHA-256 over `webapp.audit.anchors.anchor_message(seq,
    hash)`, so an insider who rewrites entries up to `head_seq` cannot make the chain match
    it again. `day` is set on the daily anchor (one per day in Japan time, unique: two
    instances cannot both make it); `document_id` on the anchor made when that document
    completed.
    """

    __tablename__ = "audit_anchors"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    """`daily` or `completion`."""
    day: Mapped[date | None] = mapped_column(Date(), unique=True, default=None)
    document_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), unique=True, default=None)
    """No foreign key on purpose: the record outlives what it is about."""
    head_seq: Mapped[int] = mapped_column(BigInteger(), index=True)
    head_hash: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH))
    token: Mapped[bytes] = mapped_column(LargeBinary())
    """The DER of the TSA's TimeStampToken (a CMS ContentInfo)."""
    timestamped_at: Mapped[datetime] = mapped_column(UtcDateTime())
    """The token's genTime."""
    created_at: Mapped[datetime] = created_at_column()
