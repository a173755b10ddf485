"""Card sessions: a partial index on the prepared revisions not yet removed.

The expiry round (every second) looks for ended sessions whose prepared revision is still
stored. Through the state index that read every ended session ever made, a number that
only grows; the partial index holds only the rows that still have a blob (the open
sessions and the few ended since the last round).

Revision ID: 0007
Revises: 0006
Created: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

WITH_BLOB = sa.text("prepared_blob_name IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_card_sessions_with_prepared_blob",
        "card_sessions",
        ["state"],
        postgresql_where=WITH_BLOB,
        sqlite_where=WITH_BLOB,
    )


def downgrade() -> None:
    op.drop_index("ix_card_sessions_with_prepared_blob", table_name="card_sessions")
