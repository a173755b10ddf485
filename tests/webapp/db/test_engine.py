"""Engines from URLs: SQLite set up for a server, PostgreSQL through psycopg 3 in UTC."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import OperationalError

from tests.webapp.db.databases import PostgresDatabases, SqliteDatabases
from webapp.db.engine import (
    SQLITE_DEFERRED,
    DatabaseBusyError,
    UnsupportedDatabaseError,
    make_engine,
    make_session_factory,
    normalize_database_url,
    sqlite_url,
)


def test_urls_are_normalized() -> None:
    assert normalize_database_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_database_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_database_url("sqlite:///var/db.sqlite").drivername == "sqlite"
    with pytest.raises(UnsupportedDatabaseError):
        normalize_database_url("mysql://u@h/db")


def test_sqlite_url_is_absolute(tmp_path: Path) -> None:
    url = make_url(sqlite_url(tmp_path / "関係" / "db.sqlite"))
    assert url.database == str(tmp_path / "関係" / "db.sqlite")


def test_sqlite_is_set_up_for_a_server(sqlite_databases: SqliteDatabases) -> None:
    engine = make_engine(sqlite_databases.create(migrated=False))
    try:
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar_one() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar_one() == 1
            assert pragma("PRAGMA busy_timeout").scalar_one() == 30000
    finally:
        engine.dispose()


def test_sqlite_transactions_take_the_write_lock_when_they_begin(
    sqlite_databases: SqliteDatabases,
) -> None:
    url = sqlite_databases.create(migrated=True)
    engine = make_engine(url)
    other = sqlite3.connect(make_url(url).database or "", timeout=0, isolation_level=None)
    try:
        with make_session_factory(engine).begin() as session:
            session.execute(text("SELECT count(*) FROM users"))  # reads only
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again once the transaction ended
        other.execute("ROLLBACK")
        with engine.execution_options(**SQLITE_DEFERRED).connect() as connection:
            connection.execute(text("SELECT count(*) FROM users"))
            other.execute("BEGIN IMMEDIATE")  # a deferred reader does not hold it
            other.execute("ROLLBACK")
    finally:
        other.close()
        engine.dispose()


def test_sqlite_readers_neither_wait_for_the_writer_nor_may_write(
    sqlite_databases: SqliteDatabases,
) -> None:
    """A read-only session (a list, a status feed) runs while a writer holds the turn, and
    SQLite refuses a write in it; the same pooled connection writes again afterwards."""
    engine = make_engine(sqlite_databases.create(migrated=True), write_wait_seconds=0.2)
    factory = make_session_factory(engine)
    readers = make_session_factory(engine.execution_options(**SQLITE_DEFERRED))
    try:
        with factory.begin() as writer:  # holds the in-process turn and SQLite's lock
            writer.execute(text("SELECT count(*) FROM users"))
            with readers() as reader:
                assert reader.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
            with readers() as reader, pytest.raises(OperationalError, match="readonly"):
                reader.execute(text("DELETE FROM users"))
            with pytest.raises(DatabaseBusyError), factory() as second:
                second.execute(text("SELECT 1"))  # a second writer waits its turn: 503
        with factory.begin() as writer:  # query_only is reset for writers on that connection
            writer.execute(text("DELETE FROM users"))
    finally:
        engine.dispose()


def test_postgresql_urls_use_psycopg_3_in_utc(postgres_databases: PostgresDatabases) -> None:
    url = postgres_databases.create(migrated=False)
    try:
        engine = make_engine(url.replace("postgresql+psycopg://", "postgresql://"))
        try:
            assert engine.dialect.driver == "psycopg"
            with engine.connect() as connection:
                assert connection.execute(text("SHOW TimeZone")).scalar_one() == "UTC"
                isolation = connection.execute(text("SHOW transaction_isolation")).scalar_one()
                assert isolation == "read committed"
        finally:
            engine.dispose()
    finally:
        postgres_databases.drop(url)
