"""The declarative base of every model: naming conventions and the shared column helpers."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, MetaData, String
from sqlalchemy.orm import DeclarativeBase, MappedColumn, mapped_column

from webapp.db.types import ID_LENGTH, UtcDateTime, new_id, utc_now

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Stable constraint names, so that migrations can name what they change (SQLite too)."""

SHA256_HEX_LENGTH = 64
EMAIL_LENGTH = 320
BLOB_NAME_LENGTH = 200


class Base(DeclarativeBase):
    """Every table of the service."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def enum_column(enum: type[StrEnum], name: str) -> Enum:
    """A portable enum column: VARCHAR of the values plus a CHECK constraint, no native type.

    Native PostgreSQL enum types need their own migrations for every new value; a CHECK
    constraint does not, and it reads the same on SQLite.
    """
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        length=max(len(member.value) for member in enum),
        values_callable=lambda members: [member.value for member in members],
    )


def id_column() -> MappedColumn[Any]:
    """A random 128-bit primary key (never sequential: these appear in URLs)."""
    return mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)


def created_at_column() -> MappedColumn[Any]:
    """When the row was made, server time in UTC."""
    return mapped_column(UtcDateTime(), nullable=False, default=utc_now)
