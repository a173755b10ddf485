"""Fresh test databases: SQLite files and PostgreSQL databases made from a migrated template."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from sqlalchemy import URL, Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from webapp.db.engine import sqlite_url
from webapp.db.migrate import upgrade

POSTGRES_URL_VARIABLE = "MYNASIGN_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> URL:
    """The server the PostgreSQL tests make their databases on (any database of it)."""
    return make_url(os.environ.get(POSTGRES_URL_VARIABLE, DEFAULT_POSTGRES_URL)).set(
        drivername="postgresql+psycopg"
    )


class SqliteDatabases:
    """SQLite files under a directory; the migrated ones are copies of one migrated file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._template: Path | None = None
        self._count = 0

    def create(self, *, migrated: bool) -> str:
        self._count += 1
        path = self.directory / f"db-{self._count}.sqlite"
        if migrated:
            shutil.copyfile(self._migrated_template(), path)
        return sqlite_url(path)

    def _migrated_template(self) -> Path:
        if self._template is None:
            self._template = self.directory / "template.sqlite"
            upgrade(sqlite_url(self._template))
        return self._template


class PostgresDatabases:
    """Databases `mynasign_test_<random>_<n>` on the test server, dropped when done."""

    def __init__(self, admin_url: URL) -> None:
        self.admin_url = admin_url
        self.prefix = f"mynasign_test_{secrets.token_hex(6)}"
        self._admin: Engine = create_engine(
            admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        self._template: str | None = None
        self._created: list[str] = []
        self._count = 0

    def check_reachable(self) -> None:
        with self._admin.connect() as connection:
            connection.execute(text("SELECT 1"))

    def create(self, *, migrated: bool) -> str:
        self._count += 1
        name = f"{self.prefix}_{self._count}"
        template = f" TEMPLATE {self._migrated_template()}" if migrated else ""
        self._execute(f"CREATE DATABASE {name}{template}")
        self._created.append(name)
        return self._url(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        assert name is not None and name.startswith(self.prefix)
        self._execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self._created.remove(name)

    def close(self) -> None:
        for name in [*self._created, *([self._template] if self._template else [])]:
            self._execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self._admin.dispose()

    def _migrated_template(self) -> str:
        if self._template is None:
            name = f"{self.prefix}_template"
            self._execute(f"CREATE DATABASE {name}")
            self._template = name
            upgrade(self._url(name))
        return self._template

    def _url(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def _execute(self, statement: str) -> None:
        with self._admin.connect() as connection:
            connection.execute(text(statement))
