"""The outbox on SQLite: sent once, failures kept with attempts and backoff, the worker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.webapp.mail.conftest import RunningServer
from tests.webapp.mail.smtp_server import REFUSED_FOREVER
from webapp.db.engine import make_engine, make_session_factory, sqlite_url
from webapp.db.models import Base, OutgoingMail, utc_now
from webapp.mail.messages import MailMessage
from webapp.mail.outbox import (
    CLAIM_LEASE,
    GIVEN_UP_AT,
    OutboxWorker,
    deliver_pending,
    enqueue_mail,
    retry_delay,
)
from webapp.mail.smtp import SmtpConfig

FROM = "mynasign <no-reply@sign.example.jp>"
SessionFactory = Callable[[], Session]


@pytest.fixture
def sessions(tmp_path: Path) -> SessionFactory:
    engine = make_engine(sqlite_url(tmp_path / "outbox.db"))
    Base.metadata.create_all(engine)
    return make_session_factory(engine)


def smtp(port: int) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=port, mail_from=FROM, security="none", timeout=10)


def add_mails(sessions: SessionFactory, *recipients: str, blob: str | None = None) -> list[str]:
    with sessions() as session, session.begin():
        mails = [
            enqueue_mail(
                session,
                to=to,
                message=MailMessage(f"subject {n}", f"text {n}", f"<p>html {n}</p>"),
                attachment_blob_name=blob,
                attachment_filename="signed.pdf" if blob else None,
            )
            for n, to in enumerate(recipients)
        ]
    return [mail.id for mail in mails]


def rows(sessions: SessionFactory) -> dict[str, OutgoingMail]:
    with sessions() as session:
        return {mail.id: mail for mail in session.scalars(select(OutgoingMail))}


def no_attachment(mail: OutgoingMail) -> None:
    return None


def deliver(sessions: SessionFactory, config: SmtpConfig, **options) -> int:
    return asyncio.run(deliver_pending(sessions, config, no_attachment, **options))


def test_mail_is_sent_once(sessions: SessionFactory, plain_server: RunningServer) -> None:
    controller, collector = plain_server
    ids = add_mails(sessions, "a@example.jp", "b@example.jp")

    assert deliver(sessions, smtp(controller.port)) == 2
    assert deliver(sessions, smtp(controller.port)) == 0
    next_week = utc_now() + timedelta(days=7)  # past every lease and backoff
    assert deliver(sessions, smtp(controller.port), clock=lambda: next_week) == 0

    assert sorted(r.rcpt_tos[0] for r in collector.received) == ["a@example.jp", "b@example.jp"]
    for mail_id in ids:
        mail = rows(sessions)[mail_id]
        assert mail.sent_at is not None and mail.attempts == 1 and mail.last_error is None
    subjects = {r.parsed()["Subject"] for r in collector.received}
    assert subjects == {"subject 0", "subject 1"}


def test_smtp_down_keeps_the_mail_with_backoff(
    sessions: SessionFactory, closed_port: int, plain_server: RunningServer
) -> None:
    [mail_id] = add_mails(sessions, "a@example.jp")
    start = utc_now()

    assert deliver(sessions, smtp(closed_port), clock=lambda: start) == 0
    mail = rows(sessions)[mail_id]
    assert mail.sent_at is None and mail.attempts == 1
    assert mail.last_error and "Connect" in mail.last_error
    assert mail.next_attempt_at == start + retry_delay(1)

    # Not due yet: no new attempt, even with the server back.
    controller, collector = plain_server
    soon = start + retry_delay(1) - timedelta(seconds=1)
    assert deliver(sessions, smtp(controller.port), clock=lambda: soon) == 0
    assert rows(sessions)[mail_id].attempts == 1 and collector.received == []

    later = start + retry_delay(1)
    assert deliver(sessions, smtp(controller.port), clock=lambda: later) == 1
    mail = rows(sessions)[mail_id]
    assert mail.sent_at == later and mail.attempts == 2 and mail.last_error is None
    assert len(collector.received) == 1


def test_server_down_stops_the_round(sessions: SessionFactory, closed_port: int) -> None:
    add_mails(sessions, "a@example.jp", "b@example.jp", "c@example.jp")
    assert deliver(sessions, smtp(closed_port)) == 0
    assert sorted(mail.attempts for mail in rows(sessions).values()) == [0, 0, 1]


def test_permanent_refusal_parks_the_mail_and_the_rest_goes(
    sessions: SessionFactory, plain_server: RunningServer
) -> None:
    controller, collector = plain_server
    refused, fine = add_mails(sessions, REFUSED_FOREVER, "b@example.jp")

    assert deliver(sessions, smtp(controller.port)) == 1
    parked = rows(sessions)[refused]
    assert parked.sent_at is None and parked.next_attempt_at == GIVEN_UP_AT
    assert parked.last_error and parked.last_error.startswith("permanent: ")
    assert "550" in parked.last_error
    assert rows(sessions)[fine].sent_at is not None
    far_future = GIVEN_UP_AT - timedelta(days=1)
    assert deliver(sessions, smtp(controller.port), clock=lambda: far_future) == 0
    assert [r.rcpt_tos for r in collector.received] == [["b@example.jp"]]


def test_attachment_is_loaded_and_sent(
    sessions: SessionFactory, plain_server: RunningServer
) -> None:
    controller, collector = plain_server
    data = bytes(range(256)) * 100
    add_mails(sessions, "a@example.jp", blob="blobs/doc-1/final")
    seen: list[tuple[str | None, str | None]] = []

    def load(mail: OutgoingMail) -> tuple[str, bytes] | None:
        seen.append((mail.attachment_blob_name, mail.attachment_filename))
        return (mail.attachment_filename or "x.pdf", data) if mail.attachment_blob_name else None

    assert asyncio.run(deliver_pending(sessions, smtp(controller.port), load)) == 1
    assert seen == [("blobs/doc-1/final", "signed.pdf")]
    [part] = list(collector.received[0].parsed().iter_attachments())
    assert part.get_filename() == "signed.pdf" and part.get_content() == data


def test_attachment_that_cannot_be_loaded_keeps_the_mail(
    sessions: SessionFactory, plain_server: RunningServer
) -> None:
    controller, collector = plain_server
    [mail_id] = add_mails(sessions, "a@example.jp", blob="blobs/missing")

    def load(mail: OutgoingMail) -> tuple[str, bytes] | None:
        raise FileNotFoundError("blobs/missing")

    assert asyncio.run(deliver_pending(sessions, smtp(controller.port), load)) == 0
    mail = rows(sessions)[mail_id]
    assert mail.sent_at is None and mail.attempts == 1
    assert mail.last_error == "attachment: FileNotFoundError: blobs/missing"
    assert collector.received == []


def test_two_deliveries_at_once_send_each_mail_once(
    sessions: SessionFactory, plain_server: RunningServer
) -> None:
    controller, collector = plain_server
    add_mails(sessions, *(f"p{n}@example.jp" for n in range(6)))

    async def both() -> list[int]:
        config = smtp(controller.port)
        return list(
            await asyncio.gather(
                deliver_pending(sessions, config, no_attachment),
                deliver_pending(sessions, config, no_attachment),
            )
        )

    assert sum(asyncio.run(both())) == 6
    assert sorted(r.rcpt_tos[0] for r in collector.received) == [
        f"p{n}@example.jp" for n in range(6)
    ]
    assert all(mail.attempts == 1 for mail in rows(sessions).values())


def test_a_claimed_mail_waits_for_its_lease(
    sessions: SessionFactory, closed_port: int, plain_server: RunningServer
) -> None:
    """A crash mid-send leaves the mail claimed; it is tried again when the lease ends."""
    [mail_id] = add_mails(sessions, "a@example.jp")
    start = utc_now()
    with sessions() as session, session.begin():  # as a crashed worker leaves it
        mail = session.get(OutgoingMail, mail_id)
        assert mail is not None
        mail.attempts, mail.next_attempt_at = 1, start + CLAIM_LEASE
    controller, _ = plain_server
    assert deliver(sessions, smtp(controller.port), clock=lambda: start) == 0
    assert deliver(sessions, smtp(controller.port), clock=lambda: start + CLAIM_LEASE) == 1


def test_retry_delays() -> None:
    delays = [retry_delay(n) for n in (1, 2, 3, 10, 1000)]
    assert delays[:3] == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert delays[3] == delays[4] == timedelta(hours=6)


def test_worker_delivers_on_wake_and_stops(
    sessions: SessionFactory, plain_server: RunningServer
) -> None:
    controller, collector = plain_server

    async def scenario() -> tuple[int, int]:
        worker = OutboxWorker(sessions, smtp(controller.port), no_attachment, poll_interval=3600)
        worker.start()
        try:
            add_mails(sessions, "a@example.jp")
            worker.wake()
            first = await worker.wait_delivered()
            add_mails(sessions, "b@example.jp")
            await asyncio.to_thread(worker.wake)  # from another thread, as sync code would
            second = await worker.wait_delivered()
        finally:
            await worker.stop()
        return first, second

    assert asyncio.run(scenario()) == (1, 1)
    assert [r.rcpt_tos for r in collector.received] == [["a@example.jp"], ["b@example.jp"]]


def test_worker_survives_a_failing_round(closed_port: int) -> None:
    """The database going away makes a round fail; the worker logs it and carries on."""
    calls: list[datetime] = []

    def broken_sessions() -> Session:
        calls.append(utc_now())
        raise RuntimeError("database is away")

    async def scenario() -> int:
        worker = OutboxWorker(broken_sessions, smtp(closed_port), no_attachment, poll_interval=3600)
        worker.start()
        try:
            worker.wake()
            await worker.wait_delivered()
            worker.wake()
            return await worker.wait_delivered()
        finally:
            await worker.stop()

    assert asyncio.run(scenario()) == 0
    assert len(calls) == 2
