"""The mail outbox: rows written with the action they report, delivered later with retries.

The app adds an `OutgoingMail` row (`enqueue_mail`) in the same transaction as the action,
commits, then calls `OutboxWorker.wake()`. `deliver_pending` claims one due row at a time
(attempts + 1 and a lease, so a second worker or a crash mid-send cannot send it twice
at once), sends it and marks it sent. A failure keeps the row with `last_error` and moves
`next_attempt_at` by an exponential backoff; a permanent refusal parks it (`GIVEN_UP_AT`).
Sent rows are never picked again; nothing is lost while the mail server is down.
Delivery is at least once: a crash after the server took a mail but before it was marked
sent sends it again when the lease ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import OutgoingMail, utc_now
from webapp.mail.messages import MailMessage
from webapp.mail.smtp import MailDeliveryError, SmtpConfig, send_mail

logger = logging.getLogger(__name__)

BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)
CLAIM_LEASE = timedelta(minutes=15)
GIVEN_UP_AT = datetime(9999, 1, 1, tzinfo=UTC)
"""`next_attempt_at` of a mail the server refused for good; set it to now to try again."""
ERROR_LENGTH = 2000

SessionFactory = Callable[[], Session]
AttachmentLoader = Callable[[OutgoingMail], tuple[str, bytes] | None]


def enqueue_mail(
    session: Session,
    *,
    to: str,
    message: MailMessage,
    document_id: str | None = None,
    attachment_blob_name: str | None = None,
    attachment_filename: str | None = None,
) -> OutgoingMail:
    """Add a mail to the outbox in the caller's transaction (sent after it commits)."""
    mail = OutgoingMail(
        to=to,
        subject=message.subject,
        body_text=message.text,
        body_html=message.html,
        document_id=document_id,
        attachment_blob_name=attachment_blob_name,
        attachment_filename=attachment_filename,
    )
    session.add(mail)
    return mail


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try: 1 min, 2, 4, … up to 6 hours."""
    return min(BACKOFF_FIRST * (1 << min(max(attempts - 1, 0), 20)), BACKOFF_MAX)


async def deliver_pending(
    session_factory: SessionFactory,
    config: SmtpConfig,
    load_attachment: AttachmentLoader,
    *,
    limit: int = 100,
    clock: Callable[[], datetime] = utc_now,
) -> int:
    """Send the due mails (at most `limit`); the number sent.

    Stops at the first retryable failure: the server is unwell, the rest waits for the
    next round. `load_attachment` is called for every mail (None: nothing to attach).
    Database work and `load_attachment` run in threads, off the event loop.
    """
    sent = 0
    for _ in range(limit):
        mail = await asyncio.to_thread(_claim_next, session_factory, clock())
        if mail is None:
            break
        try:
            attachment = await asyncio.to_thread(load_attachment, mail)
        except Exception as error:
            logger.exception("outbox: attachment of mail %s cannot be loaded", mail.id)
            failure = f"attachment: {type(error).__name__}: {error}"
            await asyncio.to_thread(
                _record_failure, session_factory, mail.id, failure, True, clock()
            )
            continue
        message = MailMessage(mail.subject, mail.body_text, mail.body_html)
        try:
            await send_mail(config, message, mail.to, attachment)
        except MailDeliveryError as error:
            logger.warning("outbox: mail %s not sent (try %d): %s", mail.id, mail.attempts, error)
            await asyncio.to_thread(
                _record_failure, session_factory, mail.id, str(error), error.retryable, clock()
            )
            if error.retryable:
                break
            continue
        await asyncio.to_thread(_mark_sent, session_factory, mail.id, clock())
        sent += 1
    return sent


def _claim_next(session_factory: SessionFactory, now: datetime) -> OutgoingMail | None:
    with session_factory() as session, session.begin():
        mail = session.scalars(
            select(OutgoingMail)
            .where(OutgoingMail.sent_at.is_(None), OutgoingMail.next_attempt_at <= now)
            .order_by(OutgoingMail.next_attempt_at, OutgoingMail.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if mail is None:
            return None
        mail.attempts += 1
        mail.next_attempt_at = now + CLAIM_LEASE
        session.flush()
        session.expunge(mail)  # stays readable after the session ends
    return mail


def _record_failure(
    session_factory: SessionFactory, mail_id: str, error: str, retryable: bool, now: datetime
) -> None:
    with session_factory() as session, session.begin():
        mail = session.get(OutgoingMail, mail_id, with_for_update=True)
        if mail is None or mail.sent_at is not None:
            return
        mail.last_error = (error if retryable else f"permanent: {error}")[:ERROR_LENGTH]
        mail.next_attempt_at = now + retry_delay(mail.attempts) if retryable else GIVEN_UP_AT


def _mark_sent(session_factory: SessionFactory, mail_id: str, now: datetime) -> None:
    with session_factory() as session, session.begin():
        mail = session.get(OutgoingMail, mail_id, with_for_update=True)
        if mail is not None and mail.sent_at is None:
            mail.sent_at = now
            mail.last_error = None


class OutboxWorker:
    """Runs `deliver_pending` in the app's lifespan: at start, on `wake()`, and every poll."""

    def __init__(
        self,
        session_factory: SessionFactory,
        config: SmtpConfig,
        load_attachment: AttachmentLoader,
        *,
        poll_interval: float = 30.0,
        stop_grace: float = 10.0,
    ) -> None:
        self._deliver_args = (session_factory, config, load_attachment)
        self._poll_interval = poll_interval
        self._stop_grace = stop_grace
        self._wakeup = asyncio.Event()
        self._round_done = asyncio.Condition()
        self._wakes = 0  # wake() calls so far
        self._wakes_served = 0  # wake() calls that a finished round started after
        self._last_count = 0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Start delivering (call from the running event loop, e.g. the lifespan)."""
        if self._task is not None:
            raise RuntimeError("the outbox worker is already running")
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="mynasign-outbox")

    async def stop(self) -> None:
        """Let the current round finish (up to `stop_grace` seconds), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wakeup.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), self._stop_grace)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def wake(self) -> None:
        """Deliver now (after a commit that added mail); safe from any thread."""
        loop = self._loop
        if loop is None or self._task is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._on_wake()
        else:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self._on_wake)

    def _on_wake(self) -> None:
        self._wakes += 1
        self._wakeup.set()

    async def wait_delivered(self) -> int:
        """Wait until a round begun after the latest `wake()` has finished; what it sent.

        Returns at once (with the last round's count) when no wake is outstanding.
        """
        if self._task is None:
            raise RuntimeError("the outbox worker is not running")
        target = self._wakes
        async with self._round_done:
            await self._round_done.wait_for(lambda: self._wakes_served >= target or self._stopping)
        return self._last_count

    async def _run(self) -> None:
        try:
            await self._rounds()
        finally:
            async with self._round_done:  # nobody waits for a round that will not come
                self._round_done.notify_all()

    async def _rounds(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            serving = self._wakes
            try:
                count = await deliver_pending(*self._deliver_args)
            except Exception:  # e.g. the database is away: log, try again next round
                logger.exception("outbox: delivery round failed")
                count = 0
            async with self._round_done:
                self._wakes_served = serving
                self._last_count = count
                self._round_done.notify_all()
            if not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._poll_interval)
