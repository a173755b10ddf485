"""Card sessions: the CRL that let a card signature in, kept for the document's DSS.

When cards are checked against a CRL file (`MYNASIGN_REVOCATION=<file>`), the CRL that
said a card's certificate was good goes into the finished document's validation data,
as the OCSP answer does in OCSP mode. Each CRL version is kept once (`revocation_lists`,
by its SHA-256, with its last use for pruning); a card session names the one it was
judged with.

Revision ID: 0009
Revises: 0008
Created: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revocation_lists",
        sa.Column("sha256", sa.String(length=64), primary_key=True),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("card_sessions") as batch:
        batch.add_column(sa.Column("crl_sha256", sa.String(length=64), nullable=True))
        batch.create_foreign_key(
            op.f("fk_card_sessions_crl_sha256_revocation_lists"),
            "revocation_lists",
            ["crl_sha256"],
            ["sha256"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("card_sessions") as batch:
        batch.drop_constraint(
            op.f("fk_card_sessions_crl_sha256_revocation_lists"), type_="foreignkey"
        )
        batch.drop_column("crl_sha256")
    op.drop_table("revocation_lists")
