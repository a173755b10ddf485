"""Search and verification (issue 12): search indexes, and the archive renewal state.

On PostgreSQL the "contains" searches (counterparty, title) are served by trigram GIN
indexes (extension pg_trgm, shipped with PostgreSQL; trusted, so the database owner may
create it). Where pg_trgm cannot be created the indexes are plain b-tree ones, as on
SQLite: searches still work, only slower (docs/performance.md).

Revision ID: 0005
Revises: 0004
Created: 2026-12-06
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
TRIGRAM_INDEXES = {
    "ix_documents_counterparty_trgm": "counterparty",
    "ix_documents_title_trgm": "title",
}


def _trigrams_available() -> bool:
    """Create pg_trgm if it is not there yet; False when this server cannot."""
    bind = op.get_bind()
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).first()
    if available is None:
        log.warning("pg_trgm is not installed: search indexes are plain b-tree indexes")
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm cannot be created (%s): search indexes are b-tree indexes", exc)
        return False
    return True


def upgrade() -> None:
    op.create_index("ix_documents_owner_id_amount", "documents", ["owner_id", "amount"])
    trigrams = op.get_bind().dialect.name == "postgresql" and _trigrams_available()
    for name, column in TRIGRAM_INDEXES.items():
        if trigrams:
            op.create_index(
                name, "documents", [column], postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )  # fmt: skip
        else:
            op.create_index(name, "documents", [column])
    op.create_index("ix_document_revisions_sha256", "document_revisions", ["sha256"])
    op.create_table(
        "archive_states",
        sa.Column("document_id", sa.String(length=64), nullable=False),
        sa.Column("examined_revision", sa.Integer(), nullable=True),
        sa.Column("timestamp_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("weak_algorithm", sa.String(length=100), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("renewals", sa.Integer(), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_archive_states_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_archive_states")),
    )
    op.create_index(
        "ix_archive_states_timestamp_expires_at", "archive_states", ["timestamp_expires_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_archive_states_timestamp_expires_at", table_name="archive_states")
    op.drop_table("archive_states")
    op.drop_index("ix_document_revisions_sha256", table_name="document_revisions")
    for name in TRIGRAM_INDEXES:
        op.drop_index(name, table_name="documents")
    op.drop_index("ix_documents_owner_id_amount", table_name="documents")
