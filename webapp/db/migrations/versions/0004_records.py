"""Records: agreement certificate, audit anchors (issue 12).

Revision ID: 0004
Revises: 0003
Created: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.String(length=64)
HASH = sa.String(length=64)


def upgrade() -> None:
    op.create_table(
        "agreement_certificates",
        sa.Column("id", ID, nullable=False),
        sa.Column("document_id", ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("blob_name", sa.String(length=200), nullable=True),
        sa.Column("sha256", HASH, nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            ondelete="CASCADE",
            name=op.f("fk_agreement_certificates_document_id_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_certificates")),
        sa.UniqueConstraint("document_id", name=op.f("uq_agreement_certificates_document_id")),
    )
    op.create_table(
        "audit_anchors",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("document_id", ID, nullable=True),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", HASH, nullable=False),
        sa.Column("token", sa.LargeBinary(), nullable=False),
        sa.Column("timestamped_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_anchors")),
        sa.UniqueConstraint("day", name=op.f("uq_audit_anchors_day")),
        sa.UniqueConstraint("document_id", name=op.f("uq_audit_anchors_document_id")),
    )
    op.create_index(op.f("ix_audit_anchors_head_seq"), "audit_anchors", ["head_seq"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_anchors_head_seq"), table_name="audit_anchors")
    op.drop_table("audit_anchors")
    op.drop_table("agreement_certificates")
