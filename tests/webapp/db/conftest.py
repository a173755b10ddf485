"""Every database test runs on SQLite and on PostgreSQL, each test on a fresh database.

PostgreSQL is the server at `MYNASIGN_TEST_POSTGRES_URL` (default: the local one, user
postgres, trust authentication). When it cannot be reached the PostgreSQL half fails,
unless `MYNASIGN_TEST_POSTGRES=skip` says to skip it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tests.webapp.db.databases import PostgresDatabases, SqliteDatabases, postgres_admin_url
from webapp.db.engine import make_engine, make_session_factory

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def sqlite_databases(tmp_path_factory: pytest.TempPathFactory) -> SqliteDatabases:
    return SqliteDatabases(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_admin_url())
    try:
        databases.check_reachable()
    except OperationalError as error:
        message = f"PostgreSQL at {databases.admin_url} is not reachable: {error}"
        if os.environ.get("MYNASIGN_TEST_POSTGRES") == "skip":
            pytest.skip(message)
        pytest.fail(f"{message} (set MYNASIGN_TEST_POSTGRES=skip to skip these tests)")
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def make_database(backend: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """Makes fresh databases on this test's backend: `make_database(migrated=True)`."""
    made: list[str] = []
    if backend == "sqlite":
        sqlite: SqliteDatabases = request.getfixturevalue("sqlite_databases")

        def make(*, migrated: bool = True) -> str:
            return sqlite.create(migrated=migrated)

        yield make
        return
    postgres: PostgresDatabases = request.getfixturevalue("postgres_databases")

    def make_postgres(*, migrated: bool = True) -> str:
        url = postgres.create(migrated=migrated)
        made.append(url)
        return url

    try:
        yield make_postgres
    finally:
        for url in made:
            postgres.drop(url)


@pytest.fixture
def database_url(make_database: Callable[..., str]) -> str:
    """A fresh database with the current schema."""
    return make_database(migrated=True)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)
