"""Documents and their PDF revisions (the files themselves are in the encrypted store)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db.base import (
    BLOB_NAME_LENGTH,
    SHA256_HEX_LENGTH,
    Base,
    created_at_column,
    enum_column,
    id_column,
)
from webapp.db.enums import DocumentStatus, RevisionKind
from webapp.db.types import ID_LENGTH, UtcDateTime, new_document_id

if TYPE_CHECKING:
    from webapp.db.accounts import User
    from webapp.db.parties import Recipient


class Document(Base):
    """A contract a sender uploaded, with its transaction details and its data key."""

    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_owner_id_created_at", "owner_id", "created_at"),
        Index("ix_documents_owner_id_status", "owner_id", "status"),
        Index("ix_documents_owner_id_transaction_date", "owner_id", "transaction_date"),
        # issue 12 (search, migration 0005): amount ranges, and "contains" on PostgreSQL
        # through trigram indexes (plain b-tree indexes on SQLite, where they do not help)
        Index("ix_documents_owner_id_amount", "owner_id", "amount"),
        Index(
            "ix_documents_counterparty_trgm",
            "counterparty",
            postgresql_using="gin",
            postgresql_ops={"counterparty": "gin_trgm_ops"},
        ),
        Index(
            "ix_documents_title_trgm",
            "title",
            postgresql_using="gin",
            postgresql_ops={"title": "gin_trgm_ops"},
        ),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_document_id)
    """Random, base32; also the document ID stamped on page 1."""
    owner_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="RESTRICT")
    )
    title: Mapped[str] = mapped_column(String(500))
    message: Mapped[str | None] = mapped_column(Text(), default=None)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2), default=None)
    counterparty: Mapped[str | None] = mapped_column(String(300), default=None)
    transaction_date: Mapped[date | None] = mapped_column(Date(), default=None)
    status: Mapped[DocumentStatus] = mapped_column(
        enum_column(DocumentStatus, "document_status"), default=DocumentStatus.DRAFT
    )
    attach_pdf_to_completion_mail: Mapped[bool] = mapped_column(Boolean(), default=True)
    created_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    data_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary())
    """The document's AES-256 data key, wrapped by the key-encryption key (`webapp.storage`)."""
    current_revision: Mapped[int] = mapped_column(Integer(), default=0)
    """`DocumentRevision.number` of the PDF as it stands (0 before the upload)."""

    owner: Mapped[User] = relationship(back_populates="documents")
    revisions: Mapped[list[DocumentRevision]] = relationship(
        back_populates="document",
        order_by="DocumentRevision.number",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    recipients: Mapped[list[Recipient]] = relationship(
        back_populates="document",
        order_by="Recipient.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class DocumentRevision(Base):
    """One PDF revision of a document: which step made it and where its bytes are."""

    __tablename__ = "document_revisions"
    __table_args__ = (
        UniqueConstraint("document_id", "number"),
        Index("ix_document_revisions_sha256", "sha256"),  # issue 12: verification looks files up
    )

    id: Mapped[str] = id_column()
    document_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("documents.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer())
    """1 for the original upload, then one more per revision."""
    kind: Mapped[RevisionKind] = mapped_column(enum_column(RevisionKind, "revision_kind"))
    blob_name: Mapped[str] = mapped_column(String(BLOB_NAME_LENGTH))
    sha256: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH))
    """Of the plaintext PDF."""
    size: Mapped[int] = mapped_column(BigInteger())
    created_at: Mapped[datetime] = created_at_column()

    document: Mapped[Document] = relationship(back_populates="revisions")
