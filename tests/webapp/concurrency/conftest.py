"""Fixtures: the service on PostgreSQL, and a second "instance" on the same database."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.webapp.conftest import Service, with_sender
from tests.webapp.db.conftest import postgres_databases  # noqa: F401 - a fixture
from tests.webapp.db.databases import PostgresDatabases
from webapp.app import create_app
from webapp.db.engine import make_engine, make_session_factory
from webapp.services.context import ServiceContext
from webapp.settings import load_settings


@pytest.fixture
def pg_service(
    tmp_path: Path,
    postgres_databases: PostgresDatabases,  # noqa: F811 - the fixture imported above
) -> Iterator[Service]:
    url = postgres_databases.create(migrated=True)
    settings = load_settings(environment="development", data_dir=tmp_path / "var", database_url=url)
    with TestClient(create_app(settings)) as client:
        yield with_sender(client)


@pytest.fixture
def other_instance(pg_service: Service) -> Iterator[Callable[[], ServiceContext]]:
    """Contexts with engines of their own on the same database: what another instance's
    database work looks like (its own connections, its own transactions)."""
    engines = []

    def make() -> ServiceContext:
        url = pg_service.context.settings.database_url
        assert url is not None
        engine = make_engine(url)
        engines.append(engine)
        return dataclasses.replace(pg_service.context, sessions=make_session_factory(engine))

    yield make
    for engine in engines:
        engine.dispose()
