"""Abuse limits: access-code lock escalation (issue 10).

Revision ID: 0003
Revises: 0002
Created: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recipients") as table:
        table.add_column(
            sa.Column("code_failures_total", sa.Integer(), nullable=False, server_default="0")
        )
        table.add_column(
            sa.Column("code_lock_count", sa.Integer(), nullable=False, server_default="0")
        )
        table.add_column(sa.Column("code_blocked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recipients") as table:
        table.drop_column("code_blocked_at")
        table.drop_column("code_lock_count")
        table.drop_column("code_failures_total")
