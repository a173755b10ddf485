"""Every model round-trips, and the database enforces what the models promise."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Engine, delete, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from tests.webapp.db.factories import add_document, add_recipient, add_user, fake_hash
from webapp.db.models import (
    ApiToken,
    CardSession,
    CardSessionState,
    Document,
    DocumentRevision,
    DocumentStatus,
    OutgoingMail,
    Recipient,
    RecipientSession,
    RecipientStatus,
    RevisionKind,
    User,
    new_document_id,
    new_id,
    utc_now,
)

JST = timezone(timedelta(hours=9))


def test_user_round_trip(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        user = add_user(session, email="  Taro.Sender@Example.JP ")
        user.totp_secret_encrypted = b"\x01sealed"
        user_id = user.id
    with session_factory() as session:
        stored = session.get_one(User, user_id)
        assert stored.email == "taro.sender@example.jp"
        assert stored.display_name == "送信 太郎"
        assert stored.totp_secret_encrypted == b"\x01sealed"
        assert (stored.sessions_epoch, stored.failed_logins, stored.locked_until) == (0, 0, None)
        assert stored.created_at.tzinfo == UTC
        assert abs(stored.created_at - utc_now()) < timedelta(minutes=1)


def test_user_email_is_unique_whatever_its_case(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        add_user(session, email="hanako@example.jp")
    with session_factory() as session, pytest.raises(IntegrityError):
        add_user(session, email="Hanako@Example.JP")


def test_the_database_refuses_an_upper_case_email(engine: Engine) -> None:
    insert = text(
        "INSERT INTO users (id, email, display_name, password_hash, sessions_epoch,"
        " created_at, failed_logins) VALUES ('u1', 'Upper@Example.jp', 'x', 'x', 0,"
        " CURRENT_TIMESTAMP, 0)"
    )
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert)


def test_api_tokens(session_factory: sessionmaker[Session]) -> None:
    token_hash = fake_hash()
    with session_factory.begin() as session:
        user = add_user(session)
        user.api_tokens.append(ApiToken(name="CI", token_hash=token_hash))
        user_id = user.id
    with session_factory.begin() as session:
        token = session.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash)).one()
        assert (token.user_id, token.name, token.revoked_at) == (user_id, "CI", None)
        token.last_used_at = utc_now()
        token.revoked_at = utc_now()
    with session_factory() as session, pytest.raises(IntegrityError):
        session.add(ApiToken(user_id=user_id, name="copy", token_hash=token_hash))
        session.flush()


def test_deleting_a_user_deletes_their_tokens_in_the_database(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        user = add_user(session)
        session.add(ApiToken(user_id=user.id, name="CI", token_hash=fake_hash()))
        user_id = user.id
    with session_factory.begin() as session:
        session.execute(delete(User).where(User.id == user_id))
    with session_factory() as session:
        assert session.scalars(select(ApiToken)).all() == []


def test_foreign_keys_are_enforced(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, pytest.raises(IntegrityError):
        session.add(ApiToken(user_id="nobody", name="orphan", token_hash=fake_hash()))
        session.flush()


def test_a_user_with_documents_cannot_be_deleted(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        user_id = add_document(session, add_user(session)).owner_id
    with session_factory() as session, pytest.raises(IntegrityError):
        session.execute(delete(User).where(User.id == user_id))


def test_document_round_trip(session_factory: sessionmaker[Session]) -> None:
    expires = datetime(2030, 4, 1, 9, 0, tzinfo=JST)
    with session_factory.begin() as session:
        document = add_document(
            session,
            add_user(session),
            message="ご確認ください",
            amount=Decimal("1234567.89"),
            counterparty="株式会社サンプル",
            transaction_date=date(2030, 3, 31),
            expires_at=expires,
        )
        assert document.status is DocumentStatus.DRAFT
        document_id = document.id
    with session_factory.begin() as session:
        document = session.get_one(Document, document_id)
        assert document.amount == Decimal("1234567.89")
        assert document.transaction_date == date(2030, 3, 31)
        assert document.expires_at == expires
        assert document.expires_at.tzinfo == UTC
        assert document.attach_pdf_to_completion_mail is True
        assert document.data_key_wrapped == b"\x01" + bytes(48)
        assert (document.current_revision, document.sent_at) == (0, None)
        document.status = DocumentStatus.SENT
        document.sent_at = utc_now()
    with session_factory() as session:
        assert session.get_one(Document, document_id).status is DocumentStatus.SENT
        found = session.scalars(
            select(Document).where(Document.status == DocumentStatus.SENT)
        ).all()
        assert [d.id for d in found] == [document_id]


def test_the_database_refuses_an_unknown_status(
    session_factory: sessionmaker[Session], engine: Engine
) -> None:
    with session_factory.begin() as session:
        document_id = add_document(session, add_user(session)).id
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text("UPDATE documents SET status = 'signed' WHERE id = :id"), {"id": document_id}
        )
    with session_factory() as session, pytest.raises(StatementError):
        document = session.get_one(Document, document_id)
        document.status = "signed"  # type: ignore[assignment]
        session.flush()


def test_identifiers_are_random_and_long_enough() -> None:
    ids = {new_id() for _ in range(1000)}
    document_ids = {new_document_id() for _ in range(1000)}
    assert len(ids) == len(document_ids) == 1000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) for i in ids)  # 22 * 6 >= 128 bits
    assert all(re.fullmatch(r"[A-Z2-7]{26}", i) for i in document_ids)  # 26 * 5 >= 128 bits


def test_revisions_are_numbered_once_per_document(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        document = add_document(session, add_user(session))
        for number, kind in [(2, RevisionKind.STAMP_AND_SENDING_SEAL), (1, RevisionKind.ORIGINAL)]:
            session.add(
                DocumentRevision(
                    document=document,
                    number=number,
                    kind=kind,
                    blob_name=f"ab/rev{number}-{'0' * 32}",
                    sha256=fake_hash(),
                    size=20 * 1024 * 1024 * 1024,
                )
            )
        document.current_revision = 2
        document_id = document.id
    with session_factory() as session:
        document = session.get_one(Document, document_id)
        assert [(r.number, r.kind) for r in document.revisions] == [
            (1, RevisionKind.ORIGINAL),
            (2, RevisionKind.STAMP_AND_SENDING_SEAL),
        ]
        assert document.revisions[0].size == 20 * 1024 * 1024 * 1024
        with pytest.raises(IntegrityError):
            session.add(
                DocumentRevision(
                    document_id=document_id,
                    number=2,
                    kind=RevisionKind.AGREEMENT_SEAL,
                    blob_name="x",
                    sha256=fake_hash(),
                    size=1,
                )
            )
            session.flush()


def test_recipients_in_order_and_forwarding(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        document = add_document(session, add_user(session))
        second = add_recipient(session, document, 2, require_card=True)
        first = add_recipient(session, document, 1, access_code_hash="$argon2id$code")
        forwardee = add_recipient(
            session, document, 2, name="代理 次郎", require_card=True, forwarded_from_id=second.id
        )
        second.status = RecipientStatus.FORWARDED
        second.forwarded_to_id = forwardee.id
        first.status = RecipientStatus.AGREED
        first.agreed_at = utc_now()
        document_id, second_id = document.id, second.id
    with session_factory() as session:
        recipients = session.get_one(Document, document_id).recipients
        assert (recipients[0].position, recipients[0].status) == (1, RecipientStatus.AGREED)
        forwarded = session.get_one(Recipient, second_id)
        assert forwarded.status is RecipientStatus.FORWARDED
        moved_to = session.get_one(Recipient, forwarded.forwarded_to_id)
        assert (moved_to.name, moved_to.forwarded_from_id) == ("代理 次郎", second_id)
        assert moved_to.require_card and moved_to.status is RecipientStatus.WAITING
        assert (moved_to.failed_code_attempts, moved_to.card_signer_name) == (0, None)


def test_link_token_hashes_are_unique(session_factory: sessionmaker[Session]) -> None:
    shared = fake_hash()
    with session_factory.begin() as session:
        document = add_document(session, add_user(session))
        add_recipient(session, document, 1, link_token_hash=None)
        add_recipient(session, document, 2, link_token_hash=None)  # not yet notified: fine
        add_recipient(session, document, 3, link_token_hash=shared)
        document_id = document.id
    with session_factory() as session, pytest.raises(IntegrityError):
        add_recipient(session, session.get_one(Document, document_id), 4, link_token_hash=shared)


def test_recipient_sessions(session_factory: sessionmaker[Session]) -> None:
    token_hash = fake_hash()
    with session_factory.begin() as session:
        recipient = add_recipient(session, add_document(session, add_user(session)))
        recipient.sessions.append(
            RecipientSession(token_hash=token_hash, expires_at=utc_now() + timedelta(hours=1))
        )
        recipient_id = recipient.id
    with session_factory() as session:
        stored = session.scalars(
            select(RecipientSession).where(RecipientSession.token_hash == token_hash)
        ).one()
        assert stored.recipient_id == recipient_id and stored.expires_at > stored.created_at
        with pytest.raises(IntegrityError):
            session.add(
                RecipientSession(
                    recipient_id=recipient_id, token_hash=token_hash, expires_at=utc_now()
                )
            )
            session.flush()


def test_card_sessions(session_factory: sessionmaker[Session]) -> None:
    token_hash = fake_hash()
    byte_range = {"byte_range": [0, 1000, 9000, 500], "contents": [1000, 9000]}
    with session_factory.begin() as session:
        recipient = add_recipient(
            session, add_document(session, add_user(session)), require_card=True
        )
        card_session = CardSession(
            recipient=recipient, token_hash=token_hash, expires_at=utc_now() + timedelta(minutes=10)
        )
        session.add(card_session)
        session.flush()
        assert card_session.state is CardSessionState.CREATED
        card_session_id = card_session.id
    with session_factory.begin() as session:
        card_session = session.get_one(CardSession, card_session_id)
        assert (card_session.byte_range, card_session.last_event) == (None, None)
        card_session.state = CardSessionState.CLAIMED
        card_session.claim_key_hash = fake_hash()
        card_session.claimed_at = utc_now()
        card_session.base_revision = 2
        card_session.prepared_blob_name = f"cd/prepared-{'1' * 32}"
        card_session.prepared_digest = fake_hash()
        card_session.byte_range = byte_range
        card_session.last_event = {"type": "wrong_password", "tries_left": 4}
        card_session.tries_left = 4
    with session_factory() as session:
        stored = session.get_one(CardSession, card_session_id)
        assert stored.state is CardSessionState.CLAIMED
        assert stored.byte_range == byte_range
        assert stored.last_event == {"type": "wrong_password", "tries_left": 4}
        assert stored.tries_left == 4 and stored.base_revision == 2
        with pytest.raises(IntegrityError):
            session.add(
                CardSession(
                    recipient_id=stored.recipient_id, token_hash=token_hash, expires_at=utc_now()
                )
            )
            session.flush()


def test_nullable_json_is_sql_null(session_factory: sessionmaker[Session], engine: Engine) -> None:
    with session_factory.begin() as session:
        recipient = add_recipient(session, add_document(session, add_user(session)))
        session.add(CardSession(recipient=recipient, token_hash=fake_hash(), expires_at=utc_now()))
    with engine.connect() as connection:
        nulls = connection.execute(
            text("SELECT count(*) FROM card_sessions WHERE byte_range IS NULL")
        ).scalar_one()
    assert nulls == 1


def test_deleting_a_document_takes_its_parts_along(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        document = add_document(session, add_user(session))
        recipient = add_recipient(session, document)
        recipient.sessions.append(RecipientSession(token_hash=fake_hash(), expires_at=utc_now()))
        session.add(CardSession(recipient=recipient, token_hash=fake_hash(), expires_at=utc_now()))
        session.add(OutgoingMail(to="a@e.jp", subject="s", body_text="b", document_id=document.id))
        document_id = document.id
    with session_factory.begin() as session:
        session.execute(delete(Document).where(Document.id == document_id))
    with session_factory() as session:
        for model in (Recipient, RecipientSession, CardSession):
            assert session.scalars(select(model)).all() == []
        mail = session.scalars(select(OutgoingMail)).one()  # the outbox keeps its mail
        assert (mail.to, mail.document_id) == ("a@e.jp", None)


def test_outgoing_mail_outbox(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        document = add_document(session, add_user(session))
        session.add_all(
            [
                OutgoingMail(
                    to="party1@example.jp",
                    subject="【mynasign】署名のお願い",
                    body_text="リンク: https://example.jp/r/…",
                    body_html="<p>リンク</p>",
                    document_id=document.id,
                    attachment_blob_name=f"ef/final-{'2' * 32}",
                    attachment_filename="contract.pdf",
                ),
                OutgoingMail(to="party2@example.jp", subject="s", body_text="b"),
            ]
        )
    with session_factory.begin() as session:
        pending = session.scalars(
            select(OutgoingMail)
            .where(OutgoingMail.sent_at.is_(None), OutgoingMail.next_attempt_at <= utc_now())
            .order_by(OutgoingMail.created_at)
        ).all()
        assert {m.to for m in pending} == {"party1@example.jp", "party2@example.jp"}
        failed, sent = sorted(pending, key=lambda m: m.to)
        failed.attempts += 1
        failed.last_error = "SMTP 451"
        failed.next_attempt_at = utc_now() + timedelta(minutes=5)
        sent.sent_at = utc_now()
    with session_factory() as session:
        mail = session.scalars(select(OutgoingMail).where(OutgoingMail.attempts == 1)).one()
        assert (mail.to, mail.last_error, mail.sent_at) == ("party1@example.jp", "SMTP 451", None)
        assert mail.attachment_filename == "contract.pdf"


def test_times_go_in_aware_and_come_out_utc(session_factory: sessionmaker[Session]) -> None:
    in_tokyo = datetime(2030, 1, 1, 9, 0, 0, 123456, tzinfo=JST)
    with session_factory.begin() as session:
        user = add_user(session, locked_until=in_tokyo)
        user_id = user.id
    with session_factory() as session:
        locked_until = session.get_one(User, user_id).locked_until
        assert locked_until == datetime(2030, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
        assert locked_until is not None and locked_until.utcoffset() == timedelta(0)
    with session_factory() as session, pytest.raises(StatementError, match="naive"):
        add_user(session, email="naive@example.jp", locked_until=datetime(2030, 1, 1))
