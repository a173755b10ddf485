"""Schema migrations without `alembic.ini`: `upgrade(url)` is what `mynasign db upgrade` runs."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL

from webapp.db.engine import make_engine, normalize_database_url

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")


def alembic_config(database_url: str | URL | None = None) -> Config:
    """Alembic's configuration for our migrations, made in code; the URL goes in attributes.

    The URL is not put in the ini options, whose `%` interpolation would mangle
    URL-encoded passwords.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if database_url is not None:
        config.attributes["database_url"] = normalize_database_url(database_url)
    return config


def upgrade(database_url: str | URL, revision: str = "head") -> None:
    """Bring the database at the URL up to `revision` (the newest by default)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str | URL, revision: str) -> None:
    """Take the database back to `revision` ("base" empties it)."""
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations in {MIGRATIONS_DIR}")
    return head


def current_revision(database_url: str | URL) -> str | None:
    """The revision the database is at, None when it was never migrated."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
