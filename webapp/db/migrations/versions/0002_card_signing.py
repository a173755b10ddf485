"""Card signing: what a card session judged, the sender as a party, a second link per party.

Revision ID: 0002
Revises: 0001
Created: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

HASH = sa.String(length=64)


def upgrade() -> None:
    with op.batch_alter_table("card_sessions") as table:
        table.add_column(sa.Column("bridge_order", sa.String(length=20), nullable=True))
        table.add_column(sa.Column("field_name", sa.String(length=100), nullable=True))
        table.add_column(sa.Column("signature_sha256", HASH, nullable=True))
        table.add_column(sa.Column("result", sa.JSON(none_as_null=True), nullable=True))
        table.add_column(sa.Column("signer_name", sa.String(length=200), nullable=True))
        table.add_column(sa.Column("ocsp_response", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("recipients") as table:
        table.add_column(
            sa.Column("is_sender", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        table.add_column(sa.Column("signer_name_mismatch", sa.Boolean(), nullable=True))
        table.add_column(sa.Column("completion_link_hash", HASH, nullable=True))
        table.create_unique_constraint(
            op.f("uq_recipients_completion_link_hash"), ["completion_link_hash"]
        )


def downgrade() -> None:
    with op.batch_alter_table("recipients") as table:
        table.drop_constraint(op.f("uq_recipients_completion_link_hash"), type_="unique")
        table.drop_column("completion_link_hash")
        table.drop_column("signer_name_mismatch")
        table.drop_column("is_sender")
    with op.batch_alter_table("card_sessions") as table:
        for column in (
            "ocsp_response", "signer_name", "result", "signature_sha256", "field_name",
            "bridge_order",
        ):  # fmt: skip
            table.drop_column(column)
