"""Column types shared by the models: UTC-only timestamps and random identifiers."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

ID_BYTES = 16
"""Random bytes in every identifier that can appear in a URL (128 bits)."""

ID_LENGTH = 64
"""Room in an identifier column; today's identifiers use 22 or 26 characters."""


def utc_now() -> datetime:
    """The server's current time, timezone-aware UTC, to the microsecond."""
    return datetime.now(UTC)


def new_id() -> str:
    """A fresh random identifier: 128 bits, URL-safe base64 (22 characters)."""
    return secrets.token_urlsafe(ID_BYTES)


def new_document_id() -> str:
    """A fresh document ID, the one stamped on page 1: 128 bits, base32 (26 characters).

    Base32 (A-Z, 2-7) rather than base64 because people read it off paper and type it:
    one case, no 0/O, 1/l/I or -/_ to confuse.
    """
    return base64.b32encode(secrets.token_bytes(ID_BYTES)).decode("ascii").rstrip("=")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that only takes and only gives timezone-aware UTC datetimes.

    PostgreSQL stores `timestamp with time zone`; SQLite has no time zones, so the value
    is stored as UTC without an offset and given back with UTC attached. A naive datetime
    is refused on the way in: it cannot be known which zone it meant.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: give a timezone-aware one")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
