"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import json
from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, MetaData, String, Table, inspect, text
from sqlalchemy.orm import Session

from tests.webapp.db.factories import add_document, add_recipient, add_user, fake_hash
from webapp.db.engine import make_engine
from webapp.db.migrate import current_revision, downgrade, head_revision, upgrade
from webapp.db.models import Base, CardSession
from webapp.db.types import utc_now


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


def test_0008_moves_the_protocol_and_certificate_out_of_the_layout_and_back(
    database_url: str,
) -> None:
    layout = {"reserved_start": 100, "reserved_end": 9000, "name_start": 50}
    certificate = "ab" * 32
    engine = make_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            recipient = add_recipient(
                session, add_document(session, add_user(session)), require_card=True
            )
            card_session = CardSession(
                recipient=recipient, token_hash=fake_hash(), expires_at=utc_now(),
                byte_range=layout, protocol_version=2, certificate_sha256=certificate,
                certificate_name="山田 太郎", certificates_announced=1,
            )  # fmt: skip
            session.add(card_session)
            session.flush()
            session_id = card_session.id
    finally:
        engine.dispose()

    downgrade(database_url, "0007")  # as the sessions of a v2 bridge were kept before
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT byte_range FROM card_sessions WHERE id = :id"), {"id": session_id}
            ).scalar_one()
    finally:
        engine.dispose()
    kept = json.loads(stored) if isinstance(stored, str) else stored
    assert kept == {
        **layout, "protocol": 2, "certificate_sha256": certificate,
        "certificate_name": "山田 太郎", "certificates": 1,
    }  # fmt: skip

    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            moved = session.get_one(CardSession, session_id)
            assert moved.byte_range == layout
            assert (moved.protocol_version, moved.certificate_sha256) == (2, certificate)
            assert (moved.certificate_name, moved.certificates_announced) == ("山田 太郎", 1)
    finally:
        engine.dispose()
