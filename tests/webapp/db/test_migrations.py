"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, MetaData, String, Table, inspect

from webapp.db.engine import make_engine
from webapp.db.migrate import current_revision, downgrade, head_revision, upgrade
from webapp.db.models import Base


def schema_differences(engine: Engine, metadata: MetaData) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def test_upgrade_builds_the_models_schema(make_database: Callable[..., str]) -> None:
    url = make_database(migrated=False)
    assert current_revision(url) is None
    upgrade(url)
    assert current_revision(url) == head_revision()
    engine = make_engine(url)
    try:
        assert schema_differences(engine, Base.metadata) == []
    finally:
        engine.dispose()


def test_the_comparison_would_see_a_difference(engine: Engine) -> None:
    changed = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    Table("users", changed, Column("nickname", String(20)), extend_existing=True)
    changed.tables["documents"].c.title.type = String(20)
    differences = schema_differences(engine, changed)
    # Alembic lists an added column as a tuple, column changes as a list of tuples.
    kinds = {(d if isinstance(d, tuple) else d[0])[0] for d in differences}  # type: ignore[index]
    assert kinds == {"add_column", "modify_type"}


def test_downgrade_then_upgrade_again(database_url: str) -> None:
    downgrade(database_url, "base")
    engine = make_engine(database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(database_url)
    upgrade(database_url)  # a second run has nothing to do
    assert current_revision(database_url) == head_revision()
