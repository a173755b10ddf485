"""Alembic's environment: migrates the connection or URL that `webapp.db.migrate` hands over.

There is no `alembic.ini`: `webapp.db.migrate.alembic_config` builds the configuration and
puts a `connection` or a `database_url` in its attributes.
"""

from __future__ import annotations

import os
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import URL
from sqlalchemy.engine import Connection

import webapp.db.models  # noqa: F401  (registers every table on the metadata)
from webapp.db.base import Base
from webapp.db.engine import make_engine
from webapp.db.types import UtcDateTime

config = context.config
target_metadata = Base.metadata


def _database_url() -> str | URL:
    url: str | URL | None = config.attributes.get("database_url")
    url = url or config.get_main_option("sqlalchemy.url")
    url = url or os.environ.get("MYNASIGN_DATABASE_URL")
    if not url:
        raise RuntimeError("no database to migrate: give a URL to webapp.db.migrate.upgrade")
    return url


def _render_item(kind: str, item: object, _context: AutogenContext) -> str | Literal[False]:
    """New revisions spell our column types in plain SQLAlchemy, so they need no imports."""
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=_render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Print the SQL instead of running it (`alembic upgrade --sql`)."""
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate the given connection, or one made from the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = make_engine(_database_url())
    try:
        with engine.connect() as new_connection:
            _configure(new_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
