"""Small builders of valid rows for the database tests."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from webapp.db.models import Document, Recipient, User, utc_now


def fake_hash() -> str:
    """A random SHA-256-shaped hex string."""
    return secrets.token_hex(32)


def add_user(session: Session, email: str = "sender@example.jp", **fields: Any) -> User:
    user = User(email=email, display_name="送信 太郎", password_hash="$argon2id$fake", **fields)
    session.add(user)
    session.flush()
    return user


def add_document(session: Session, owner: User, **fields: Any) -> Document:
    fields.setdefault("title", "業務委託契約書")
    document = Document(owner=owner, data_key_wrapped=b"\x01" + bytes(48), **fields)
    session.add(document)
    session.flush()
    return document


def add_recipient(
    session: Session, document: Document, position: int = 1, **fields: Any
) -> Recipient:
    recipient = Recipient(
        document=document,
        position=position,
        name=fields.pop("name", "受信 花子"),
        email=fields.pop("email", f"party{position}@example.jp"),
        link_token_hash=fields.pop("link_token_hash", fake_hash()),
        link_expires_at=fields.pop("link_expires_at", utc_now() + timedelta(days=14)),
        **fields,
    )
    session.add(recipient)
    session.flush()
    return recipient
