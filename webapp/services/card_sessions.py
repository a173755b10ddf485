"""My Number Card signing sessions: the QR session, the bridge's claim, the signature's fate.

A party required to sign with the card starts a session ("Next" on the page, or the API):
the next revision is prepared at once (a signature field with room for the CMS), and the
session's token goes into the QR code. The bridge claims the session, reports its
progress, and sends a CMS, which is accepted only after every check of
`webapp.card_validation`; it is then timestamped, embedded, and sealed by the platform,
and the party has agreed. Everything is in the database: a restart loses nothing, and
the same CMS sent again gets the same verdict.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import logging
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bridge.protocol import CardErrorCode, Order, Stage
from webapp.card_validation import CardSignatureRejected
from webapp.db.models import (
    ActorKind,
    CardSession,
    CardSessionState,
    Document,
    DocumentStatus,
    Recipient,
    RecipientStatus,
    RevisionKind,
)
from webapp.errors import ConflictError, DomainError, UnavailableError
from webapp.i18n import text
from webapp.offload import in_private_loop, pdf_slot
from webapp.pdf.card_signature import (
    PreparedCardSignature,
)
from webapp.pdf.workers import EmbedCardJob, PrepareCardJob
from webapp.security import new_token, token_hash, token_matches
from webapp.services import revisions
from webapp.services.context import ServiceContext
from webapp.services.documents import Audit
from webapp.services.notify import OPEN_STATUSES, notify_next_recipient
from webapp.services.sealing import seal_step

log = logging.getLogger(__name__)
SESSION_LIFETIME = datetime.timedelta(minutes=10)
SIGNING_GRACE = datetime.timedelta(minutes=5)
"""How long past its expiry a session whose signature arrived in time may take to finish."""
OPEN_STATES = (CardSessionState.CREATED, CardSessionState.CLAIMED, CardSessionState.SIGNING)
END_STATES = (
    CardSessionState.COMPLETED,
    CardSessionState.REJECTED,
    CardSessionState.EXPIRED,
    CardSessionState.CANCELLED,
)
BRIDGE = Audit(ActorKind.BRIDGE, "bridge")
_ASKING_AGAIN = (Stage.WAITING_FOR_PASSWORD, Stage.WAITING_FOR_CARD, Stage.CARD_PRESENT)
"""Stages after a card error at which the page keeps showing that error."""
_CARD_ERROR_CODES = frozenset(code.value for code in CardErrorCode)
SYSTEM = Audit(ActorKind.SYSTEM, "system")


@dataclass(frozen=True)
class StartedSession:
    """A new card session: what the QR code holds and until when."""

    session_id: str
    token: str
    bridge_url: str
    expires_at: datetime.datetime


@dataclass(frozen=True)
class SigningRequest:
    """What the bridge is asked to sign, with the texts it shows."""

    document_title: str
    sender: str
    expected_signer_name: str
    digest_hex: str
    expires_at: datetime.datetime


@dataclass(frozen=True)
class Verdict:
    """The server's answer to a signature: accepted, or rejected with a reason."""

    accepted: bool
    reason: str | None = None
    message_ja: str | None = None
    message_en: str | None = None

    def stored(self) -> dict[str, Any]:
        return {
            "outcome": "accepted" if self.accepted else "rejected",
            "reason": self.reason,
            "message_ja": self.message_ja,
            "message_en": self.message_en,
        }

    @classmethod
    def from_stored(cls, value: dict[str, Any]) -> Verdict:
        return cls(
            value["outcome"] == "accepted",
            value.get("reason"),
            value.get("message_ja"),
            value.get("message_en"),
        )


def bridge_url(ctx: ServiceContext, token: str) -> str:
    return ctx.link(f"/b/{token}")


# --- starting ---------------------------------------------------------------------------


def start(ctx: ServiceContext, recipient_id: str, who: Audit) -> StartedSession:
    """A new session for a party whose turn it is; any older open one stops working."""
    if ctx.card_validator is None:
        raise UnavailableError("card_signing_unavailable")
    with ctx.sessions() as db:
        recipient = db.get_one(Recipient, recipient_id)
        document = _card_party_turn(recipient)
        base = document.current_revision
        current_blob = revisions.current_revision(db, document).blob_name
        field_name = f"mynasign-card-{recipient.position}-{recipient.id[:8]}"
        signer = recipient.name
    prepared_blob, prepared = _prepare(ctx, document, current_blob, field_name, signer)
    token = new_token()
    now = ctx.now()
    try:
        with ctx.sessions() as db, db.begin():
            recipient = db.get_one(Recipient, recipient_id)
            document = _card_party_turn(recipient)
            if document.current_revision != base:
                raise ConflictError("link_used")
            replaced = _cancel_open(db, recipient, "replaced", now)
            session = CardSession(
                recipient_id=recipient.id, token_hash=token_hash(token), expires_at=now +
                SESSION_LIFETIME, base_revision=base, prepared_blob_name=prepared_blob,
                prepared_digest=prepared.digest.hex(), byte_range=prepared.offsets(),
                field_name=field_name, created_at=now,
            )  # fmt: skip
            db.add(session)
            db.flush()
            who.event(
                db, "card_session.created", document.id, recipient_id=recipient.id,
                card_session_id=session.id, replaced=replaced,
            )  # fmt: skip
            started = StartedSession(session.id, token, bridge_url(ctx, token), session.expires_at)
            status = status_of(session)
    except BaseException:
        ctx.files.delete(prepared_blob)
        raise
    ctx.card_events.publish(recipient_id, status)
    return started


def _card_party_turn(recipient: Recipient) -> Document:
    """The document, if it is this party's turn and they must sign with the card."""
    document = recipient.document
    if recipient.status in (RecipientStatus.AGREED, RecipientStatus.REJECTED):
        raise ConflictError("link_used")
    if recipient.status not in OPEN_STATUSES:
        raise ConflictError("not_your_turn")
    if document.status is not DocumentStatus.SENT:
        raise ConflictError("link_used")
    if not recipient.require_card:
        raise ConflictError("card_signature_not_required")
    return document


def _prepare(
    ctx: ServiceContext, document: Document, current_blob: str, field_name: str, signer: str
) -> tuple[str, PreparedCardSignature]:
    """The next revision with an empty signature field, stored encrypted: (blob, offsets)."""
    with (
        revisions.decrypted_copy(ctx, document, current_blob) as source,
        revisions.scratch_file(ctx) as output,
    ):
        job = PrepareCardJob(field_name, signer_name=signer)  # /Name: the party's name (12.7)
        prepared: PreparedCardSignature = revisions.run_job(ctx, job, source, output)
        output.seek(0)
        blob = ctx.files.write(revisions.data_key(ctx, document), f"{document.id}-card", output)
    return blob.blob_name, prepared


def _cancel_open(db: Session, recipient: Recipient, reason: str, now: datetime.datetime) -> int:
    """End the party's open sessions (a newer one replaces them); how many there were."""
    count = 0
    for old in db.scalars(
        select(CardSession).where(
            CardSession.recipient_id == recipient.id, CardSession.state.in_(OPEN_STATES)
        )
    ):
        old.state = CardSessionState.CANCELLED
        old.reject_reason = reason
        old.finished_at = now
        count += 1
    return count


# --- what the bridge does ---------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """A session as the bridge's connection sees it at one moment."""

    session_id: str
    recipient_id: str
    state: CardSessionState
    expires_at: datetime.datetime
    request: SigningRequest
    verdict: Verdict | None
    end_reason: str | None = None
    """Why a cancelled session ended (`replaced`, `document_closed`, the bridge's reason)."""


def snapshot_of(session: CardSession) -> Snapshot:
    verdict = None if session.result is None else Verdict.from_stored(session.result)
    return Snapshot(
        session.id, session.recipient_id, session.state, session.expires_at,
        signing_request(session), verdict, session.reject_reason,
    )  # fmt: skip


def lookup(ctx: ServiceContext, token: str) -> Snapshot | None:
    """The session a QR token names (expired now if its time is over), or None."""
    with ctx.sessions() as db:
        session = db.scalar(select(CardSession).where(CardSession.token_hash == token_hash(token)))
        if session is None:
            return None
    with _session_row(ctx, session.id) as (_, row):
        return snapshot_of(row)


def snapshot(ctx: ServiceContext, session_id: str) -> Snapshot:
    with _session_row(ctx, session_id) as (_, session):
        return snapshot_of(session)


def expire_if_due(ctx: ServiceContext, db: Session, session: CardSession) -> bool:
    """End an open session whose time is over, or whose document is no longer out for
    signature (cancelled, expired); the caller commits. A signature that arrived in time
    and is being embedded gets `SIGNING_GRACE` more."""
    if session.state not in OPEN_STATES:
        return False
    if session.recipient.document.status is not DocumentStatus.SENT:
        session.state = CardSessionState.CANCELLED
        session.reject_reason = "document_closed"
        session.finished_at = ctx.now()
        return True
    grace = SIGNING_GRACE if session.state is CardSessionState.SIGNING else datetime.timedelta()
    if session.expires_at + grace <= ctx.now():
        session.state = CardSessionState.EXPIRED
        session.finished_at = ctx.now()
        return True
    return False


def signing_request(session: CardSession) -> SigningRequest:
    recipient = session.recipient
    document = recipient.document
    assert session.prepared_digest is not None  # noqa: S101 - set when created
    return SigningRequest(
        document_title=document.title, sender=document.owner.display_name,
        expected_signer_name=recipient.name, digest_hex=session.prepared_digest,
        expires_at=session.expires_at,
    )  # fmt: skip


class ClaimRefused(Exception):  # noqa: N818 - a refusal, told to the bridge
    """The bridge may not have this session: `code` is a protocol error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def claim(ctx: ServiceContext, session_id: str, order: Order) -> tuple[str, Snapshot]:
    """The first bridge's claim: a claim key for reconnecting, and the session."""
    with _session_row(ctx, session_id) as (db, session):
        if session.state is not CardSessionState.CREATED:
            raise ClaimRefused("already_claimed", "this QR code has been used by another device")
        key = new_token()
        session.state = CardSessionState.CLAIMED
        session.claim_key_hash = token_hash(key)
        session.claimed_at = ctx.now()
        session.bridge_order = order.value
        _audit(db, session, "card_session.claimed", order=order.value)
        db.commit()
        _publish(ctx, session)
        return key, snapshot_of(session)


def resume(ctx: ServiceContext, session_id: str, claim_key: str) -> Snapshot:
    """A reconnecting bridge, recognised by its claim key."""
    with _session_row(ctx, session_id) as (_db, session):
        if session.claim_key_hash is None or not token_matches(claim_key, session.claim_key_hash):
            raise ClaimRefused("invalid_claim_key", "the claim key is not this session's")
        return snapshot_of(session)


def record_progress(ctx: ServiceContext, session_id: str, stage: Stage) -> None:
    """The bridge reached a stage (the websocket's quick path is `advance` + `store_progress`)."""
    with _session_row(ctx, session_id) as (db, session):
        if session.state not in OPEN_STATES:
            return
        status, session.last_event = advance(status_of(session), stage)
        db.commit()
    ctx.card_events.publish(session.recipient_id, status)


def record_card_error(
    ctx: ServiceContext, session_id: str, code: CardErrorCode, tries_left: int | None
) -> dict[str, Any] | None:
    """A card problem the person at the PC must see (never a secret); the new status."""
    with _session_row(ctx, session_id) as (db, session):
        if session.state not in OPEN_STATES:
            return None
        session.last_event = {"card_error": code.value, "tries_left": tries_left}
        if tries_left is not None:
            session.tries_left = tries_left
        _audit(db, session, "card_session.card_error", code=code.value, tries_left=tries_left)
        db.commit()
        _publish(ctx, session)
        return status_of(session)


def advance(status: dict[str, Any], stage: Stage) -> tuple[dict[str, Any], dict[str, Any]]:
    """The status after a `progress` frame, and the `last_event` to store for it.

    This is the hot path of a watched session (a bridge sends a frame per stage): the
    page is told from the status in hand, and the database is written afterwards with one
    UPDATE (`store_progress`), off the event loop. After a card error, the stages that
    ask again keep showing it.
    """
    event: dict[str, Any] = {"stage": stage.value}
    error = status.get("error")
    if error and error.get("code") in _CARD_ERROR_CODES and stage in _ASKING_AGAIN:
        event.update(card_error=error["code"], tries_left=error.get("tries_left"))
    else:
        error = None
    return {**status, "stage": stage.value, "error": error}, event


def store_progress(ctx: ServiceContext, session_id: str, event: dict[str, Any]) -> None:
    """Write a progress event, unless the session has ended meanwhile."""
    with ctx.sessions() as db:
        db.execute(
            update(CardSession)
            .where(CardSession.id == session_id, CardSession.state.in_(OPEN_STATES))
            .values(last_event=event)
        )
        db.commit()


def record_bridge_cancel(ctx: ServiceContext, session_id: str, reason: str) -> None:
    """The bridge gave up (the person cancelled, the card is locked, …)."""
    with _session_row(ctx, session_id) as (db, session):
        if session.state not in OPEN_STATES:
            return
        session.state = CardSessionState.CANCELLED
        session.reject_reason = reason
        session.finished_at = ctx.now()
        _audit(db, session, "card_session.cancelled", reason=reason)
        db.commit()
        _publish(ctx, session)


def expire_due(ctx: ServiceContext) -> int:
    """End every open session whose time is over (or whose document closed), tell the
    watchers, and remove the prepared revisions of ended sessions; how many ended."""
    with ctx.sessions() as db:
        candidates = db.scalars(
            select(CardSession)
            .join(Recipient)
            .join(Document)
            .where(
                CardSession.state.in_(OPEN_STATES),
                or_(
                    CardSession.expires_at <= ctx.now(),
                    Document.status != DocumentStatus.SENT,
                ),
            )
            .with_for_update(of=CardSession, skip_locked=True)  # one instance ends each
        ).all()
        due = [session for session in candidates if expire_if_due(ctx, db, session)]
        for session in due:
            _audit(db, session, f"card_session.{session.state.value}")
        leftovers = db.scalars(
            select(CardSession).where(
                CardSession.state.in_(END_STATES), CardSession.prepared_blob_name.is_not(None)
            )
        ).all()
        blobs = [session.prepared_blob_name for session in leftovers]
        for session in leftovers:  # an ended session's prepared revision is of no more use
            session.prepared_blob_name = None
        db.commit()
    for blob in blobs:
        if blob:
            ctx.files.delete(blob)
    for session in due:
        _publish(ctx, session)
    return len(due)


@contextlib.contextmanager
def _session_row(ctx: ServiceContext, session_id: str) -> Iterator[tuple[Session, CardSession]]:
    """The session's row, locked until the block's transaction ends: what the block sees
    and changes is the latest state on every instance (each transition happens once)."""
    with ctx.sessions() as db:
        session = db.get_one(CardSession, session_id, with_for_update=True)
        if expire_if_due(ctx, db, session):
            _audit(db, session, f"card_session.{session.state.value}")
            db.commit()
            _publish(ctx, session)
        yield db, session


def _audit(db: Session, session: CardSession, kind: str, **data: Any) -> None:
    recipient = session.recipient
    BRIDGE.event(
        db, kind, recipient.document_id, recipient_id=recipient.id, card_session_id=session.id,
        **data,
    )  # fmt: skip


def _publish(ctx: ServiceContext, session: CardSession) -> None:
    ctx.card_events.publish(session.recipient_id, status_of(session))


# --- the signature ----------------------------------------------------------------------


JUDGING_WAIT = datetime.timedelta(seconds=90)
"""How long a resent signature waits for the first one's verdict (judged elsewhere)."""
JUDGING_POLL_SECONDS = 0.25


def judge_signature(
    ctx: ServiceContext, session_id: str, digest_hex: str, cms_der: bytes
) -> Verdict:
    """Check, timestamp, embed and seal a card's CMS; the same CMS again, the same verdict.

    Blocking (PDF and certificate work): run it in a worker thread. One signature of a
    session is judged once, by whichever request first moves the session to `signing`
    under the row's lock, on any instance; the same signature arriving meanwhile (a bridge
    that reconnected, perhaps to another instance) waits for that verdict.
    """
    fingerprint = hashlib.sha256(cms_der).hexdigest()
    judging_elsewhere = False
    with _session_row(ctx, session_id) as (db, session):
        if session.result is not None:
            if session.signature_sha256 == fingerprint:
                return Verdict.from_stored(session.result)
            return _refusal("already_judged")
        if session.state is CardSessionState.SIGNING and session.signature_sha256 is not None:
            if session.signature_sha256 != fingerprint:
                return _refusal("already_judged")
            judging_elsewhere = True
        elif session.state is CardSessionState.EXPIRED:
            return _refusal("session_expired")
        elif session.state not in (CardSessionState.CLAIMED, CardSessionState.SIGNING):
            return _refusal("session_ended")
        wrong_digest = digest_hex != session.prepared_digest
        if not wrong_digest and not judging_elsewhere:
            session.state = CardSessionState.SIGNING
            session.signature_sha256 = fingerprint  # this request judges it
            session.last_event = {"stage": Stage.SENDING.value}
            db.commit()
            _publish(ctx, session)
        recipient_id, document_id = session.recipient_id, session.recipient.document_id
        prepared = PreparedCardSignature.from_stored(
            session.field_name or "", session.prepared_digest or "", session.byte_range or {}
        )
        prepared_blob, base = session.prepared_blob_name or "", session.base_revision
    if judging_elsewhere:
        return _wait_for_verdict(ctx, session_id)
    if wrong_digest:
        return _record_verdict(ctx, session_id, fingerprint, _refusal("digest_mismatch"))
    return _judge(
        ctx, session_id, cms_der, fingerprint, prepared, prepared_blob, base,
        document_id, recipient_id,
    )  # fmt: skip


def _wait_for_verdict(ctx: ServiceContext, session_id: str) -> Verdict:
    """The verdict of the same signature being judged by another request."""
    deadline = time.monotonic() + JUDGING_WAIT.total_seconds()
    while time.monotonic() < deadline:
        with ctx.sessions() as db:
            session = db.get_one(CardSession, session_id)
            if session.result is not None:
                return Verdict.from_stored(session.result)
            if session.state is not CardSessionState.SIGNING:
                return _refusal("session_ended")
        time.sleep(JUDGING_POLL_SECONDS)  # a worker thread, not the event loop
    return _refusal("session_ended")


def _judge(
    ctx: ServiceContext,
    session_id: str,
    cms_der: bytes,
    fingerprint: str,
    prepared: PreparedCardSignature,
    prepared_blob: str,
    base: int | None,
    document_id: str,
    recipient_id: str,
) -> Verdict:
    validator = ctx.card_validator
    if validator is None:
        raise RuntimeError("no card signature validator is configured")
    try:
        with pdf_slot():
            accepted = in_private_loop(validator.validate(cms_der, prepared.digest))
    except CardSignatureRejected as exc:
        verdict = Verdict(False, exc.code, exc.message_ja, exc.message_en)
        return _record_verdict(ctx, session_id, fingerprint, verdict)
    try:
        _embed_and_record(
            ctx, session_id, fingerprint, accepted, cms_der, prepared, prepared_blob, base,
            document_id, recipient_id,
        )  # fmt: skip
    except DomainError as exc:  # the TSA is down, say: nothing recorded, sign again later
        return _record_verdict(
            ctx, session_id, fingerprint, Verdict(False, exc.code, exc.text("ja"), exc.text("en"))
        )
    from webapp.services.recipients import complete_if_ready  # noqa: PLC0415 - cycle

    try:
        complete_if_ready(ctx, document_id)
    except DomainError as exc:  # kept as agreed; completion is tried again later
        log.warning("document %s signed by all but not completed yet: %s", document_id, exc.code)
    return Verdict(True)


def _pair(key: str, **params: object) -> tuple[str, str]:
    return text("ja", key, **params), text("en", key, **params)


def _refusal(code: str) -> Verdict:
    ja, en = _pair(f"card_{code}")
    return Verdict(False, code, ja, en)


def _record_verdict(
    ctx: ServiceContext, session_id: str, fingerprint: str, verdict: Verdict
) -> Verdict:
    """A final rejection: the session ends; the party may start a new one."""
    with _session_row(ctx, session_id) as (db, session):
        if session.result is not None:  # judged already (once is enough)
            return Verdict.from_stored(session.result)
        if session.state is CardSessionState.COMPLETED:
            return Verdict.from_stored(Verdict(True).stored())
        session.state = CardSessionState.REJECTED
        session.result = verdict.stored()
        session.signature_sha256 = fingerprint
        session.reject_reason = verdict.reason
        session.finished_at = ctx.now()
        _audit(db, session, "card_signature.rejected", reason=verdict.reason)
        db.commit()
        _publish(ctx, session)
    return verdict


def _embed_and_record(
    ctx: ServiceContext,
    session_id: str,
    fingerprint: str,
    accepted: Any,
    cms_der: bytes,
    prepared: PreparedCardSignature,
    prepared_blob: str,
    base: int | None,
    document_id: str,
    recipient_id: str,
) -> None:
    """Timestamp + embed (revision n+1), the platform's seal of the event (n+2), agreed."""
    with ctx.sessions() as db:
        document = db.get_one(Document, document_id)
        recipient = db.get_one(Recipient, recipient_id)
        key = revisions.data_key(ctx, document)
        seal_reason = f"Signed with a My Number Card by {accepted.signer_name} (mynasign)"
        seal_field = f"mynasign-card-event-{recipient.position}-{recipient.id[:8]}"
    number = (base or 0) + 1
    signed_name = f"{document_id}-r{number}"
    with revisions.decrypted_copy(ctx, document, prepared_blob) as signed:
        with revisions.scratch_file(ctx) as unused:  # the CMS goes into `signed` in place
            revisions.run_job(ctx, EmbedCardJob(prepared, cms_der), signed, unused)
        signed.seek(0)
        signed_blob = ctx.files.write(key, signed_name, signed)
        card_revision = revisions.NewRevision(number, RevisionKind.CARD_SIGNATURE, signed_blob)
        try:  # sealed from the plaintext at hand, not decrypted again
            sealed = revisions.next_revision_from_plain(
                ctx, document, signed, number + 1, RevisionKind.EVENT_SEAL,
                [seal_step(seal_field, seal_reason)],
            )  # fmt: skip
        except BaseException:
            revisions.discard(ctx, card_revision)
            raise
    try:
        _record_signed(ctx, session_id, fingerprint, accepted, card_revision, sealed, base)
    except BaseException:
        revisions.discard(ctx, card_revision)
        revisions.discard(ctx, sealed)
        raise


def _record_signed(
    ctx: ServiceContext,
    session_id: str,
    fingerprint: str,
    accepted: Any,
    card_revision: revisions.NewRevision,
    sealed: revisions.NewRevision,
    base: int | None,
) -> None:
    with ctx.sessions() as db, db.begin():
        session = db.get_one(CardSession, session_id)
        recipient = session.recipient
        document = db.scalar(
            select(Document).where(Document.id == recipient.document_id).with_for_update()
        )
        assert document is not None  # noqa: S101 - the session's document
        if (
            document.status is not DocumentStatus.SENT
            or document.current_revision != base
            or session.state is not CardSessionState.SIGNING
        ):
            raise ConflictError("link_used")
        revisions.record_revision(db, document, card_revision)
        revisions.record_revision(db, document, sealed)
        now = ctx.now()
        mismatch = not same_name(accepted.signer_name, recipient.name)
        session.state = CardSessionState.COMPLETED
        session.result = Verdict(True).stored()
        session.signature_sha256 = fingerprint
        session.signer_name = accepted.signer_name
        session.ocsp_response = accepted.ocsp_response
        session.finished_at = now
        session.last_event = None
        recipient.status = RecipientStatus.AGREED
        recipient.agreed_at = now
        recipient.card_signer_name = accepted.signer_name
        recipient.signer_name_mismatch = mismatch
        BRIDGE.event(
            db, "recipient.card_signed", document.id, recipient_id=recipient.id,
            card_session_id=session.id, signer_name=accepted.signer_name,
            name_mismatch=mismatch, certificate_serial=accepted.certificate_serial,
            revocation=accepted.revocation_method, revision=card_revision.number,
            sha256=card_revision.blob.sha256,
        )  # fmt: skip
        BRIDGE.event(
            db, "recipient.agreed", document.id, recipient_id=recipient.id, name=recipient.name,
            revision=sealed.number, sha256=sealed.blob.sha256,
        )  # fmt: skip
        notify_next_recipient(ctx, db, document, SYSTEM)
        prepared_blob, session.prepared_blob_name = session.prepared_blob_name, None
        status = status_of(session)
    if prepared_blob:
        ctx.files.delete(prepared_blob)
    ctx.wake_mail()
    ctx.card_events.publish(session.recipient_id, status)


def same_name(certificate_name: str, party_name: str) -> bool:
    """Whether two names are the same apart from width, case and spacing (not kanji variants)."""

    def normal(name: str) -> str:
        folded = unicodedata.normalize("NFKC", name).casefold()
        return "".join(char for char in folded if not char.isspace() and char not in "・･.")

    return normal(certificate_name) == normal(party_name)


# --- what the watching page sees --------------------------------------------------------


def status_of(session: CardSession) -> dict[str, Any]:
    """The session as the PC page and the API's status feed show it (no personal data)."""
    event = session.last_event or {}
    error: dict[str, Any] | None = None
    if session.state is CardSessionState.REJECTED and session.result is not None:
        error = {
            "code": session.result.get("reason"),
            "message_ja": session.result.get("message_ja"),
            "message_en": session.result.get("message_en"),
        }
    elif "card_error" in event and session.state in OPEN_STATES:
        code = str(event["card_error"])
        tries = event.get("tries_left")
        ja, en = _pair(f"card_error_{code}", tries_left=tries if tries is not None else "?")
        error = {"code": code, "message_ja": ja, "message_en": en, "tries_left": tries}
    elif session.state is CardSessionState.CANCELLED:
        reason = session.reject_reason or "cancelled"
        key = f"card_cancelled_{reason}" if reason in _CANCEL_TEXTS else "card_cancelled"
        tries = session.tries_left
        ja, en = _pair(key, tries_left=tries if tries is not None else "?")
        error = {"code": reason, "message_ja": ja, "message_en": en, "tries_left": tries}
    elif session.state is CardSessionState.EXPIRED:
        ja, en = _pair("card_session_expired")
        error = {"code": "session_expired", "message_ja": ja, "message_en": en}
    return {
        "session_id": session.id,
        "state": session.state.value,
        "stage": event.get("stage"),
        "order": session.bridge_order,
        "tries_left": session.tries_left,
        "expires_at": session.expires_at.isoformat().replace("+00:00", "Z"),
        "error": error,
        "done": session.state is CardSessionState.COMPLETED,
        "recipient_status": session.recipient.status.value,
    }


_CANCEL_TEXTS = frozenset(
    {"replaced", "user_cancelled", "locked", "wrong_password", "last_try_refused", "no_card",
     "card_removed", "not_jpki_card", "no_reader", "card_failure", "signature_check_failed",
     "no_password", "bridge_error", "document_closed"}
)  # fmt: skip


def latest_session(db: Session, recipient: Recipient) -> CardSession | None:
    """The party's newest card session."""
    return db.scalar(
        select(CardSession)
        .where(CardSession.recipient_id == recipient.id)
        .order_by(CardSession.created_at.desc(), CardSession.id)
        .limit(1)
    )


def current_status(ctx: ServiceContext, db: Session, recipient: Recipient) -> dict[str, Any] | None:
    """The newest session's status (expired first if its time is over), or None."""
    session = latest_session(db, recipient)
    if session is None:
        return None
    if _looks_due(ctx, session):  # ended once, by whoever takes the row's lock first
        db.refresh(session, with_for_update=True)
        if expire_if_due(ctx, db, session):
            _audit(db, session, f"card_session.{session.state.value}")
            db.commit()
            _publish(ctx, session)
    return status_of(session)


def _looks_due(ctx: ServiceContext, session: CardSession) -> bool:
    if session.state not in OPEN_STATES:
        return False
    if session.recipient.document.status is not DocumentStatus.SENT:
        return True
    grace = SIGNING_GRACE if session.state is CardSessionState.SIGNING else datetime.timedelta()
    return session.expires_at + grace <= ctx.now()


def status_for(ctx: ServiceContext, recipient_id: str) -> dict[str, Any] | None:
    """`current_status` in a database session of its own (for a status feed)."""
    with ctx.sessions() as db:
        return current_status(ctx, db, db.get_one(Recipient, recipient_id))


__all__ = [
    "END_STATES",
    "OPEN_STATES",
    "SESSION_LIFETIME",
    "ClaimRefused",
    "SigningRequest",
    "Snapshot",
    "StartedSession",
    "Verdict",
    "advance",
    "claim",
    "current_status",
    "expire_due",
    "judge_signature",
    "latest_session",
    "lookup",
    "record_bridge_cancel",
    "record_card_error",
    "record_progress",
    "resume",
    "same_name",
    "signing_request",
    "snapshot",
    "start",
    "status_for",
    "status_of",
    "store_progress",
]
