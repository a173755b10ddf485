"""The initial schema: accounts, documents, parties, card sessions, outbox, audit log.

The audit log is append-only in the database too: triggers refuse UPDATE and DELETE on
`audit_events` (and TRUNCATE on PostgreSQL).

Revision ID: 0001
Revises:
Created: 2026-11-21
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(length=64)
HASH = sa.String(length=64)
EMAIL = sa.String(length=320)
BLOB_NAME = sa.String(length=200)


def _time(name: str, *, nullable: bool) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


def _json(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.JSON(none_as_null=True), nullable=True)


def upgrade() -> None:
    """Create every table, then the audit log's append-only triggers."""
    _create_accounts()
    _create_documents()
    _create_parties()
    _create_records()
    _create_audit_triggers()


def downgrade() -> None:
    """Drop everything `upgrade` made."""
    _drop_audit_triggers()
    for table in (
        "audit_events",
        "outgoing_mails",
        "card_sessions",
        "recipient_sessions",
        "recipients",
        "document_revisions",
        "documents",
        "api_tokens",
        "users",
    ):
        op.drop_table(table)


def _create_accounts() -> None:
    op.create_table(
        "users",
        sa.Column("id", ID, nullable=False),
        sa.Column("email", EMAIL, nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("totp_secret_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("sessions_epoch", sa.Integer(), nullable=False),
        _time("created_at", nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        _time("locked_until", nullable=True),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_users_email_lower_case")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", HASH, nullable=False),
        _time("created_at", nullable=False),
        _time("last_used_at", nullable=True),
        _time("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])


def _create_documents() -> None:
    op.create_table(
        "documents",
        sa.Column("id", ID, nullable=False),
        sa.Column("owner_id", ID, nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("counterparty", sa.String(length=300), nullable=True),
        sa.Column("transaction_date", sa.Date(), nullable=True),
        sa.Column(
            "status",
            _enum(
                "document_status",
                *("draft", "sent", "completed", "rejected", "cancelled", "expired"),
            ),
            nullable=False,
        ),
        sa.Column("attach_pdf_to_completion_mail", sa.Boolean(), nullable=False),
        _time("created_at", nullable=False),
        _time("sent_at", nullable=True),
        _time("completed_at", nullable=True),
        _time("expires_at", nullable=True),
        sa.Column("data_key_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("current_revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_documents_owner_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
    )
    for columns in (["created_at"], ["status"], ["transaction_date"]):
        op.create_index(f"ix_documents_owner_id_{columns[0]}", "documents", ["owner_id", *columns])
    op.create_table(
        "document_revisions",
        sa.Column("id", ID, nullable=False),
        sa.Column("document_id", ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            _enum(
                "revision_kind",
                *("original", "stamp_and_sending_seal", "agreement_seal"),
                *("card_signature", "event_seal", "final"),
            ),
            nullable=False,
        ),
        sa.Column("blob_name", BLOB_NAME, nullable=False),
        sa.Column("sha256", HASH, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        _time("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_revisions_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_revisions")),
        sa.UniqueConstraint(
            "document_id", "number", name=op.f("uq_document_revisions_document_id_number")
        ),
    )


def _create_parties() -> None:
    op.create_table(
        "recipients",
        sa.Column("id", ID, nullable=False),
        sa.Column("document_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", EMAIL, nullable=False),
        sa.Column("access_code_hash", sa.String(length=255), nullable=True),
        sa.Column("require_card", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            _enum(
                "recipient_status",
                *("waiting", "notified", "opened", "agreed"),
                *("rejected", "forwarded", "cancelled"),
            ),
            nullable=False,
        ),
        sa.Column("link_token_hash", HASH, nullable=True),
        _time("link_expires_at", nullable=True),
        _time("notified_at", nullable=True),
        _time("opened_at", nullable=True),
        _time("agreed_at", nullable=True),
        _time("rejected_at", nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("forwarded_to_id", ID, nullable=True),
        sa.Column("forwarded_from_id", ID, nullable=True),
        sa.Column("failed_code_attempts", sa.Integer(), nullable=False),
        _time("code_locked_until", nullable=True),
        sa.Column("card_signer_name", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_recipients_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["forwarded_from_id"],
            ["recipients.id"],
            name=op.f("fk_recipients_forwarded_from_id_recipients"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["forwarded_to_id"],
            ["recipients.id"],
            name=op.f("fk_recipients_forwarded_to_id_recipients"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipients")),
        sa.UniqueConstraint("link_token_hash", name=op.f("uq_recipients_link_token_hash")),
    )
    op.create_index("ix_recipients_document_id_position", "recipients", ["document_id", "position"])
    op.create_table(
        "recipient_sessions",
        sa.Column("id", ID, nullable=False),
        sa.Column("recipient_id", ID, nullable=False),
        sa.Column("token_hash", HASH, nullable=False),
        _time("created_at", nullable=False),
        _time("expires_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["recipients.id"],
            name=op.f("fk_recipient_sessions_recipient_id_recipients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipient_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_recipient_sessions_token_hash")),
    )
    op.create_index(
        op.f("ix_recipient_sessions_recipient_id"), "recipient_sessions", ["recipient_id"]
    )
    op.create_table(
        "card_sessions",
        sa.Column("id", ID, nullable=False),
        sa.Column("recipient_id", ID, nullable=False),
        sa.Column("token_hash", HASH, nullable=False),
        sa.Column("claim_key_hash", HASH, nullable=True),
        sa.Column(
            "state",
            _enum(
                "card_session_state",
                *("created", "claimed", "signing", "completed"),
                *("rejected", "expired", "cancelled"),
            ),
            nullable=False,
        ),
        _time("created_at", nullable=False),
        _time("expires_at", nullable=False),
        _time("claimed_at", nullable=True),
        _time("finished_at", nullable=True),
        sa.Column("base_revision", sa.Integer(), nullable=True),
        sa.Column("prepared_blob_name", BLOB_NAME, nullable=True),
        sa.Column("prepared_digest", HASH, nullable=True),
        _json("byte_range"),
        _json("last_event"),
        sa.Column("tries_left", sa.Integer(), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["recipients.id"],
            name=op.f("fk_card_sessions_recipient_id_recipients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_card_sessions_token_hash")),
    )
    op.create_index(op.f("ix_card_sessions_recipient_id"), "card_sessions", ["recipient_id"])
    op.create_index("ix_card_sessions_state_expires_at", "card_sessions", ["state", "expires_at"])


def _create_records() -> None:
    op.create_table(
        "outgoing_mails",
        sa.Column("id", ID, nullable=False),
        sa.Column("to_address", EMAIL, nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("document_id", ID, nullable=True),
        sa.Column("attachment_blob_name", BLOB_NAME, nullable=True),
        sa.Column("attachment_filename", sa.String(length=255), nullable=True),
        _time("created_at", nullable=False),
        _time("next_attempt_at", nullable=False),
        _time("sent_at", nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_outgoing_mails_document_id_documents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_mails")),
    )
    op.create_index(
        "ix_outgoing_mails_sent_at_next_attempt_at",
        "outgoing_mails",
        ["sent_at", "next_attempt_at"],
    )
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        _time("occurred_at", nullable=False),
        sa.Column("document_id", ID, nullable=True),
        sa.Column(
            "actor_kind",
            _enum("actor_kind", "sender", "recipient", "system", "bridge"),
            nullable=False,
        ),
        sa.Column("actor", EMAIL, nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("prev_hash", HASH, nullable=False),
        sa.Column("hash", HASH, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_events_hash")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_events_prev_hash")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_events_seq")),
    )
    op.create_index(op.f("ix_audit_events_document_id"), "audit_events", ["document_id"])


_PG_REFUSE_FUNCTION = """
CREATE FUNCTION audit_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _create_audit_triggers() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(_PG_REFUSE_FUNCTION)
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events"
            " FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events"
            " FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()"
        )
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_events_no_{operation.lower()} BEFORE {operation}"
            " ON audit_events BEGIN"
            f" SELECT RAISE(ABORT, 'audit_events is append-only: {operation} refused'); END"
        )


def _drop_audit_triggers() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_refuse_change()")
        return
    for operation in ("update", "delete"):
        op.execute(f"DROP TRIGGER audit_events_no_{operation}")
