"""Card sessions: the bridge protocol and the announced certificate in columns of their own.

Protocol v2 (the certificate before the digest) first kept the agreed version and the
announced certificate's SHA-256, name and count in the `byte_range` JSON beside the
prepared revision's offsets. They are facts of the session, read on every bridge frame:
they get typed columns, and `byte_range` keeps only the layout. Rows of sessions made
before are moved over.

Revision ID: 0008
Revises: 0007
Created: 2026-12-07
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

MOVED = {  # key in the JSON -> column
    "protocol": "protocol_version",
    "certificate_sha256": "certificate_sha256",
    "certificate_name": "certificate_name",
    "certificates": "certificates_announced",
}

_sessions = sa.table(
    "card_sessions",
    sa.column("id", sa.String()),
    sa.column("byte_range", sa.JSON(none_as_null=True)),
    *(sa.column(column) for column in MOVED.values()),
)


def upgrade() -> None:
    op.add_column("card_sessions", sa.Column("protocol_version", sa.Integer(), nullable=True))
    op.add_column("card_sessions", sa.Column("certificate_sha256", sa.String(64), nullable=True))
    op.add_column("card_sessions", sa.Column("certificate_name", sa.Text(), nullable=True))
    op.add_column(
        "card_sessions",
        sa.Column(
            "certificates_announced", sa.Integer(), nullable=False, server_default=sa.text("0")
        ),
    )
    bind = op.get_bind()
    for session_id, layout in _rows_with_layout(bind):
        moved = {column: layout.pop(key) for key, column in MOVED.items() if key in layout}
        if moved:
            bind.execute(
                _sessions.update()
                .where(_sessions.c.id == session_id)
                .values(byte_range=layout, **moved)
            )


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_sessions.c.id, _sessions.c.byte_range, *_moved_columns())).all()
    for session_id, layout, *values in rows:
        kept = {
            key: value
            for key, value in zip(MOVED, values, strict=True)
            if value is not None and not (key == "certificates" and value == 0)
        }
        if kept:
            merged = {**(layout if isinstance(layout, dict) else {}), **kept}
            bind.execute(
                _sessions.update().where(_sessions.c.id == session_id).values(byte_range=merged)
            )
    with op.batch_alter_table("card_sessions") as batch:
        for column in MOVED.values():
            batch.drop_column(column)


def _rows_with_layout(bind: sa.Connection) -> list[tuple[str, dict[str, Any]]]:
    rows = bind.execute(
        sa.select(_sessions.c.id, _sessions.c.byte_range).where(_sessions.c.byte_range.is_not(None))
    ).all()
    return [(row[0], dict(row[1])) for row in rows if isinstance(row[1], dict)]


def _moved_columns() -> list[sa.ColumnClause[Any]]:
    return [_sessions.c[column] for column in MOVED.values()]
