"""The search tests run on SQLite and PostgreSQL (the database fixtures of tests/webapp/db)."""

from __future__ import annotations

from tests.webapp.db.conftest import (
    backend,
    database_url,
    engine,
    make_database,
    postgres_databases,
    session_factory,
    sqlite_databases,
)

__all__ = [
    "backend",
    "database_url",
    "engine",
    "make_database",
    "postgres_databases",
    "session_factory",
    "sqlite_databases",
]
