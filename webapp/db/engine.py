"""Engines and sessions from a database URL: SQLite (the default) or PostgreSQL (psycopg 3).

SQLite is set up for a web server: write-ahead logging (readers do not block the writer),
foreign keys enforced, a busy timeout, and transactions that take the write lock when they
begin (`BEGIN IMMEDIATE`). Python's sqlite3 would otherwise begin a transaction only at its
first write, and a transaction that read before another one committed could then not write
at all (SQLITE_BUSY at once, no waiting). Read-only work that must not wait for writers can
use `engine.execution_options(**SQLITE_DEFERRED)`.

Inside one process, write transactions also queue on a lock of the engine's own
(`SqliteWriteGate`) before SQLite is asked: threads wait their turn in order instead of
polling SQLite's busy handler, so "database is locked" cannot happen between the service's
own requests. A transaction that cannot start within `SQLITE_WRITE_WAIT_SECONDS` raises
`DatabaseBusyError`, which the web service answers with 503 and `Retry-After`.

PostgreSQL runs in READ COMMITTED (which the audit chain's lock relies on) with the
session time zone UTC.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
"""How long SQLite itself waits for another process's write lock (the CLI, a second tool)."""
SQLITE_WRITE_WAIT_SECONDS = 10.0
"""How long a write transaction waits for its turn in this process before giving up (503)."""
_DEFERRED_OPTION = "mynasign_sqlite_deferred"
_GATE_HELD = "mynasign_sqlite_write_gate_held"
_QUERY_ONLY = "mynasign_sqlite_query_only"
SQLITE_DEFERRED = {_DEFERRED_OPTION: True}
"""Execution options for read-only SQLite work: a plain (deferred) `BEGIN`, writes refused."""


class UnsupportedDatabaseError(ValueError):
    """The URL names a database the service does not run on."""


class DatabaseBusyError(RuntimeError):
    """A write transaction could not begin in time: try again in a moment."""


class SqliteWriteGate:
    """One writer at a time per SQLite database in this process, in arrival order.

    Held from `BEGIN IMMEDIATE` to the end of the transaction (commit, rollback or the
    connection going back to the pool): transactions must be short, and none may wait on
    the event loop while it holds the gate (the service keeps database work off the loop).
    """

    def __init__(self, wait_seconds: float) -> None:
        self._lock = threading.Lock()  # not tied to a thread: a request may end on another
        self.wait_seconds = wait_seconds

    def enter(self) -> None:
        if not self._lock.acquire(timeout=self.wait_seconds):
            raise DatabaseBusyError(f"no write turn within {self.wait_seconds:g} s")

    def leave(self) -> None:
        self._lock.release()


def normalize_database_url(database_url: str | URL) -> URL:
    """The URL with its driver made explicit: `postgresql://…` uses psycopg 3."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend in {"postgresql", "postgres"}:
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return url
    raise UnsupportedDatabaseError(
        f"unsupported database {url.drivername!r}: use sqlite:///PATH or postgresql://…"
    )


def sqlite_url(path: Path) -> str:
    """The URL of a SQLite database file."""
    return URL.create("sqlite", database=str(path.resolve())).render_as_string()


def make_engine(
    database_url: str | URL,
    *,
    echo: bool = False,
    write_wait_seconds: float | None = None,
    pool_size: int = 20,
) -> Engine:
    """An engine for the URL, configured as the module docstring says."""
    url = normalize_database_url(database_url)
    if url.get_backend_name() == "sqlite":
        wait = SQLITE_WRITE_WAIT_SECONDS if write_wait_seconds is None else write_wait_seconds
        return _sqlite_engine(url, echo=echo, write_wait_seconds=wait)
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        isolation_level="READ COMMITTED",
        connect_args={"options": "-c timezone=UTC"},
    )


def libpq_conninfo(database_url: str | URL) -> str:
    """The URL as psycopg's own connection string (for LISTEN/NOTIFY outside SQLAlchemy)."""
    url = normalize_database_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def is_postgresql(database_url: str | URL) -> bool:
    return normalize_database_url(database_url).get_backend_name() == "postgresql"


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on the engine; objects stay readable after commit (no expiry on commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def _sqlite_engine(url: URL, *, echo: bool, write_wait_seconds: float) -> Engine:
    in_memory = url.database in {None, "", ":memory:"} or "mode=memory" in str(url)
    engine = create_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
    gate = SqliteWriteGate(write_wait_seconds)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # SQLAlchemy emits BEGIN itself (below); sqlite3's own transaction handling is off.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(_DEFERRED_OPTION, False)
        if connection.info.get(_QUERY_ONLY, False) != read_only:  # a write here would skip
            connection.exec_driver_sql(f"PRAGMA query_only = {int(read_only)}")  # the gate
            connection.info[_QUERY_ONLY] = read_only
        if read_only:
            connection.exec_driver_sql("BEGIN")
            return
        info = connection.info
        if not info.get(_GATE_HELD):  # a connection keeps its turn until it goes back
            gate.enter()
            info[_GATE_HELD] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _leave(info)
            raise

    def _leave(info: dict[Any, Any]) -> None:
        if info.pop(_GATE_HELD, False):
            gate.leave()

    # The turn ends when the connection goes back to the pool: after the commit or
    # rollback (a Session returns its connection at the end of each transaction).
    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        _leave(record.info)

    @event.listens_for(engine.pool, "invalidate")
    def _on_invalidate(_dbapi: DBAPIConnection, record: ConnectionPoolEntry, _exc: object) -> None:
        _leave(record.info)

    return engine
