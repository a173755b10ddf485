"""Senders and their API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from webapp.db.base import (
    EMAIL_LENGTH,
    SHA256_HEX_LENGTH,
    Base,
    created_at_column,
    id_column,
)
from webapp.db.types import ID_LENGTH, UtcDateTime

if TYPE_CHECKING:
    from webapp.db.documents import Document


def normalize_email(email: str) -> str:
    """How an address is stored and looked up: trimmed and lower-cased."""
    return email.strip().lower()


class User(Base):
    """A sender: someone with an account who uploads and sends documents."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lower_case"),)

    id: Mapped[str] = id_column()
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    """argon2id, made by `webapp.security.hash_secret`."""
    totp_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    """The TOTP secret sealed with `KeyEncryptionKey.encrypt_secret` (purpose "totp")."""
    sessions_epoch: Mapped[int] = mapped_column(Integer(), default=0)
    """Sessions carry the epoch they were made in; bumping it signs out everywhere."""
    created_at: Mapped[datetime] = created_at_column()
    failed_logins: Mapped[int] = mapped_column(Integer(), default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)

    api_tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    documents: Mapped[list[Document]] = relationship(back_populates="owner")

    @validates("email")
    def _lower_case_email(self, _key: str, email: str) -> str:
        return normalize_email(email)


class ApiToken(Base):
    """A sender's API token; only its SHA-256 is kept (`webapp.security.token_hash`)."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)

    user: Mapped[User] = relationship(back_populates="api_tokens")
