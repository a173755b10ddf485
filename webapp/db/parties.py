"""Recipients of a document, their bearer sessions, and their My Number Card sessions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db.base import (
    BLOB_NAME_LENGTH,
    EMAIL_LENGTH,
    SHA256_HEX_LENGTH,
    Base,
    created_at_column,
    enum_column,
    id_column,
)
from webapp.db.enums import CardSessionState, RecipientStatus
from webapp.db.types import ID_LENGTH, UtcDateTime

if TYPE_CHECKING:
    from webapp.db.documents import Document


class Recipient(Base):
    """A party asked to agree to a document, in signing order; no account."""

    __tablename__ = "recipients"
    __table_args__ = (Index("ix_recipients_document_id_position", "document_id", "position"),)

    id: Mapped[str] = id_column()
    document_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("documents.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer())
    """Signing order, from 1; a forwardee takes the position of the party who forwarded."""
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    access_code_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    """argon2id of the access code the sender set, if any."""
    require_card: Mapped[bool] = mapped_column(Boolean(), default=False)
    status: Mapped[RecipientStatus] = mapped_column(
        enum_column(RecipientStatus, "recipient_status"), default=RecipientStatus.WAITING
    )
    link_token_hash: Mapped[str | None] = mapped_column(
        String(SHA256_HEX_LENGTH), unique=True, default=None
    )
    """SHA-256 of the `/r/<token>` link token; set when the party is notified."""
    completion_link_hash: Mapped[str | None] = mapped_column(
        String(SHA256_HEX_LENGTH), unique=True, default=None
    )
    """SHA-256 of the link in the completion mail (the first link keeps working too)."""
    link_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    agreed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    rejected_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    reject_reason: Mapped[str | None] = mapped_column(Text(), default=None)
    forwarded_to_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("recipients.id", ondelete="SET NULL"), default=None
    )
    forwarded_from_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("recipients.id", ondelete="SET NULL"), default=None
    )
    failed_code_attempts: Mapped[int] = mapped_column(Integer(), default=0)
    """Wrong access codes in the current series (since the last lock or right code)."""
    code_locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    # issue 10: access codes cannot be ground down
    code_failures_total: Mapped[int] = mapped_column(Integer(), default=0, server_default="0")
    """Wrong access codes since the code was set: at the limit the link stays locked."""
    code_lock_count: Mapped[int] = mapped_column(Integer(), default=0, server_default="0")
    """Locks so far: each further lock lasts twice as long."""
    code_blocked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    """Locked until the sender issues a new access code (too many wrong codes in all)."""
    card_signer_name: Mapped[str | None] = mapped_column(String(200), default=None)
    """The name in the signing certificate of the card that signed, once it has."""
    signer_name_mismatch: Mapped[bool | None] = mapped_column(Boolean(), default=None)
    """True when the card's name differs from `name` (flagged to the sender, not blocked)."""
    is_sender: Mapped[bool] = mapped_column(Boolean(), default=False, server_default=false())
    """The sender as a party (position 0): signs with the card before the others are told."""

    document: Mapped[Document] = relationship(back_populates="recipients")
    sessions: Mapped[list[RecipientSession]] = relationship(
        back_populates="recipient", cascade="all, delete-orphan", passive_deletes=True
    )
    card_sessions: Mapped[list[CardSession]] = relationship(
        back_populates="recipient", cascade="all, delete-orphan", passive_deletes=True
    )


class RecipientSession(Base):
    """The bearer session a recipient gets from `open`; only the token's SHA-256 is kept."""

    __tablename__ = "recipient_sessions"

    id: Mapped[str] = id_column()
    recipient_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("recipients.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())

    recipient: Mapped[Recipient] = relationship(back_populates="sessions")


class CardSession(Base):
    """A 10-minute My Number Card signing session (the QR code's `/b/<token>`).

    Everything the bridge protocol needs to survive a server restart is here: the state,
    the prepared revision (as a blob, its ByteRange digest and offsets, never pickled
    objects), and the last event the watching page was told.
    """

    __tablename__ = "card_sessions"
    __table_args__ = (
        Index("ix_card_sessions_state_expires_at", "state", "expires_at"),
        Index(  # the expiry round's clean-up reads only rows that still have a blob (0007)
            "ix_card_sessions_with_prepared_blob",
            "state",
            postgresql_where=text("prepared_blob_name IS NOT NULL"),
            sqlite_where=text("prepared_blob_name IS NOT NULL"),
        ),
    )

    id: Mapped[str] = id_column()
    recipient_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("recipients.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH), unique=True)
    """SHA-256 of the QR URL's token."""
    claim_key_hash: Mapped[str | None] = mapped_column(String(SHA256_HEX_LENGTH), default=None)
    """SHA-256 of the key the claiming bridge reconnects with; set on the claim."""
    state: Mapped[CardSessionState] = mapped_column(
        enum_column(CardSessionState, "card_session_state"), default=CardSessionState.CREATED
    )
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    base_revision: Mapped[int | None] = mapped_column(Integer(), default=None)
    """`Document.current_revision` the prepared revision was made from."""
    prepared_blob_name: Mapped[str | None] = mapped_column(String(BLOB_NAME_LENGTH), default=None)
    prepared_digest: Mapped[str | None] = mapped_column(String(SHA256_HEX_LENGTH), default=None)
    """SHA-256 (hex) over the prepared revision's ByteRange: the CMS must sign this."""
    byte_range: Mapped[Any | None] = mapped_column(JSON(none_as_null=True), default=None)
    """The prepared revision's layout as JSON: the reserved region's and the `/Name` room's
    offsets."""
    protocol_version: Mapped[int | None] = mapped_column(Integer(), default=None)
    """The bridge protocol version agreed at the claim (1 or 2; docs/protocol.md)."""
    certificate_sha256: Mapped[str | None] = mapped_column(String(SHA256_HEX_LENGTH), default=None)
    """v2: SHA-256 of the signing certificate the bridge announced; the CMS must carry it."""
    certificate_name: Mapped[str | None] = mapped_column(Text(), default=None)
    """v2: the announced certificate's name, in the prepared revision's `/Name` room."""
    certificates_announced: Mapped[int] = mapped_column(
        Integer(), default=0, server_default=text("0")
    )
    """v2: how many different certificates were announced (bounded: `MAX_CERTIFICATES`)."""
    last_event: Mapped[Any | None] = mapped_column(JSON(none_as_null=True), default=None)
    """The last status frame the watching page was sent (to replay after a reconnect)."""
    tries_left: Mapped[int | None] = mapped_column(Integer(), default=None)
    """Signing-password tries left on the card, as the bridge last reported."""
    reject_reason: Mapped[str | None] = mapped_column(Text(), default=None)
    bridge_order: Mapped[str | None] = mapped_column(String(20), default=None)
    """`password-first` or `card-first`, as the claiming bridge said in its hello."""
    field_name: Mapped[str | None] = mapped_column(String(100), default=None)
    """The prepared signature field's name."""
    signature_sha256: Mapped[str | None] = mapped_column(String(SHA256_HEX_LENGTH), default=None)
    """SHA-256 of the CMS judged: the same CMS sent again gets the same `result`."""
    result: Mapped[Any | None] = mapped_column(JSON(none_as_null=True), default=None)
    """The verdict sent to the bridge: outcome, reason and messages."""
    signer_name: Mapped[str | None] = mapped_column(String(200), default=None)
    ocsp_response: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    """The OCSP answer that said the card's certificate was good (for the DSS)."""
    crl_sha256: Mapped[str | None] = mapped_column(
        String(SHA256_HEX_LENGTH),
        ForeignKey("revocation_lists.sha256", ondelete="SET NULL"),
        default=None,
    )
    """The CRL that said so, when cards are checked against a CRL file (for the DSS; the
    link goes when the CRL is pruned, `webapp.card_signing.kept_crls`)."""

    recipient: Mapped[Recipient] = relationship(back_populates="card_sessions")


class RevocationList(Base):
    """A CRL that let card signatures in, kept once per version (by its SHA-256) until the
    documents are completed with it in their DSS (`webapp.card_signing.kept_crls`)."""

    __tablename__ = "revocation_lists"

    sha256: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH), primary_key=True)
    der: Mapped[bytes] = mapped_column(LargeBinary())
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime] = mapped_column(UtcDateTime())
    """When a card signature last named it (a version in use is not pruned)."""
