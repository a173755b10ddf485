"""Engines and sessions from a database URL: SQLite (the default) or PostgreSQL (psycopg 3).

SQLite is set up for a web server: write-ahead logging (readers do not block the writer),
foreign keys enforced, a generous busy timeout, and transactions that take the write lock
when they begin (`BEGIN IMMEDIATE`). Python's sqlite3 would otherwise begin a transaction
only at its first write, and a transaction that read before another one committed could
then not write at all (SQLITE_BUSY at once, no waiting). Read-only work that must not wait
for writers can use `engine.execution_options(**SQLITE_DEFERRED)`.

PostgreSQL runs in READ COMMITTED (which the audit chain's lock relies on) with the
session time zone UTC.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
_DEFERRED_OPTION = "mynasign_sqlite_deferred"
SQLITE_DEFERRED = {_DEFERRED_OPTION: True}
"""Execution options for read-only SQLite work: a plain (deferred) `BEGIN`."""


class UnsupportedDatabaseError(ValueError):
    """The URL names a database the service does not run on."""


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


def make_engine(database_url: str | URL, *, echo: bool = False) -> Engine:
    """An engine for the URL, configured as the module docstring says."""
    url = normalize_database_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        isolation_level="READ COMMITTED",
        connect_args={"options": "-c timezone=UTC"},
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on the engine; objects stay readable after commit (no expiry on commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def _sqlite_engine(url: URL, *, echo: bool) -> Engine:
    in_memory = url.database in {None, "", ":memory:"} or "mode=memory" in str(url)
    engine = create_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})

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
        deferred = connection.get_execution_options().get(_DEFERRED_OPTION, False)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

    return engine
