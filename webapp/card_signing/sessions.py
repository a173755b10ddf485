"""My Number Card signing sessions: the QR session, the bridge's claim, the signature's fate.

A party required to sign with the card starts a session ("Next" on the page, or the API):
the next revision is prepared at once (a signature field with room for the CMS), and the
session's token goes into the QR code. The bridge claims the session, reports its
progress, and sends a CMS, which is accepted only after every check of
`webapp.card_signing.validation`; it is then timestamped, embedded, and sealed by the platform,
and the party has agreed. Everything is in the database: a restart loses nothing, and
the same CMS sent again gets the same verdict.

Protocol v2 (`announce_certificate`): after VERIFY, while the card is held, the bridge
sends the card's signing certificate; once it passes a quick check (a JPKI signing
certificate issued by a configured anchor), the digest is computed again with the
certificate's name in the prepared revision's `/Name` room, and that is what the card
signs. The final check then also requires the CMS's certificate to be the one announced.
A v1 bridge signs the revision as prepared (`/Name`: the party's name as typed).
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

from sqlalchemy import ColumnElement, Select, and_, select, union, update
from sqlalchemy.orm import Session

from bridge.protocol import CardErrorCode, Order, Stage
from card.certificate import CertificateParseError, JpkiCertificate
from webapp.audit.actor import Audit
from webapp.card_signing.embedding import (
    PreparedCardSignature,
    byte_range_digest,
)
from webapp.card_signing.kept_crls import keep_crl
from webapp.card_signing.status import CardSessionStatus, CardStatusError, known
from webapp.card_signing.validation import (
    AcceptedCardSignature,
    CardSignatureRejected,
    RejectionCode,
)
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
from webapp.pdf.errors import PdfError
from webapp.pdf.workers import EmbedCardJob, PrepareCardJob
from webapp.security import new_token, token_hash, token_matches
from webapp.services import revisions
from webapp.services.context import ServiceContext
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

_S = CardSessionState
TRANSITIONS: dict[CardSessionState, frozenset[CardSessionState]] = {
    _S.CREATED: frozenset({_S.CLAIMED, _S.REJECTED, _S.CANCELLED, _S.EXPIRED}),
    _S.CLAIMED: frozenset({_S.SIGNING, _S.REJECTED, _S.CANCELLED, _S.EXPIRED}),
    # SIGNING -> SIGNING: a bridge that reconnected sends its signature again
    _S.SIGNING: frozenset({_S.SIGNING, _S.COMPLETED, _S.REJECTED, _S.CANCELLED, _S.EXPIRED}),
    # a verdict reached after the session ran out is still recorded, as a rejection
    _S.EXPIRED: frozenset({_S.REJECTED}),
    _S.CANCELLED: frozenset({_S.REJECTED}),
    _S.REJECTED: frozenset(),
    _S.COMPLETED: frozenset(),
}
"""The card session's state machine: every state it may move to from each state. Every
change of state goes through `_move`."""


class InvalidTransitionError(RuntimeError):
    """A change of state the machine does not have: a defect, never the user's doing."""


def _move(
    session: CardSession,
    to: CardSessionState,
    now: datetime.datetime,
    *,
    reason: str | None = None,
) -> None:
    """Move the session to `to` (the one place a session's state changes): an end state
    records when it ended and, given, why."""
    if to not in TRANSITIONS[session.state]:
        raise InvalidTransitionError(f"card session {session.id}: {session.state} -> {to}")
    session.state = to
    if to in END_STATES:
        session.finished_at = now
    if reason is not None:
        session.reject_reason = reason


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
        _move(old, CardSessionState.CANCELLED, now, reason=reason)
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
    protocol_version: int = 1
    """The version the claiming bridge and the server agreed on."""
    announced: Announced | None = None
    """v2: the certificate the bridge announced and the digest it must sign."""


@dataclass(frozen=True)
class Announced:
    """v2: the card's certificate (by its SHA-256) and the digest to sign with its name."""

    certificate_sha256: str
    digest_hex: str


def _layout(session: CardSession) -> dict[str, Any]:
    """The prepared revision's offsets (the session's `byte_range` JSON)."""
    return dict(session.byte_range or {})


def _protocol(session: CardSession) -> int:
    return session.protocol_version or 1


def _announced(session: CardSession) -> Announced | None:
    fingerprint = session.certificate_sha256
    if fingerprint is None or session.prepared_digest is None:
        return None
    return Announced(fingerprint, session.prepared_digest)


def snapshot_of(session: CardSession) -> Snapshot:
    verdict = None if session.result is None else Verdict.from_stored(session.result)
    return Snapshot(
        session.id, session.recipient_id, session.state, session.expires_at,
        signing_request(session), verdict, session.reject_reason,
        _protocol(session), _announced(session),
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
        _move(session, CardSessionState.CANCELLED, ctx.now(), reason="document_closed")
        return True
    grace = SIGNING_GRACE if session.state is CardSessionState.SIGNING else datetime.timedelta()
    if session.expires_at + grace <= ctx.now():
        _move(session, CardSessionState.EXPIRED, ctx.now())
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


def claim(
    ctx: ServiceContext,
    session_id: str,
    order: Order,
    protocol_version: int = 1,
    who: Audit = BRIDGE,
) -> tuple[str, Snapshot]:
    """The first bridge's claim: a claim key for reconnecting, and the session.

    `protocol_version` is the version agreed with the bridge (1 or 2), kept for resuming.
    """
    with _session_row(ctx, session_id) as (db, session):
        if session.state is not CardSessionState.CREATED:
            raise ClaimRefused("already_claimed", "this QR code has been used by another device")
        key = new_token()
        _move(session, CardSessionState.CLAIMED, ctx.now())
        session.claim_key_hash = token_hash(key)
        session.claimed_at = ctx.now()
        session.bridge_order = order.value
        session.protocol_version = protocol_version
        _audit(
            db, session, "card_session.claimed", who, order=order.value, protocol=protocol_version
        )
        db.commit()
        _publish(ctx, session)
        return key, snapshot_of(session)


def resume(
    ctx: ServiceContext, session_id: str, claim_key: str, protocol_version: int | None = None
) -> Snapshot:
    """A reconnecting bridge, recognised by its claim key (and speaking the claim's version)."""
    with _session_row(ctx, session_id) as (_db, session):
        if session.claim_key_hash is None or not token_matches(claim_key, session.claim_key_hash):
            raise ClaimRefused("invalid_claim_key", "the claim key is not this session's")
        found = snapshot_of(session)
    if protocol_version is not None and protocol_version != found.protocol_version:
        raise ClaimRefused(
            "unsupported_version",
            f"this session was claimed with protocol version {found.protocol_version}",
        )
    return found


# --- v2: the certificate before the digest ----------------------------------------------

MAX_CERTIFICATES = 5
"""Different certificates one session may announce (a card put back may be another card;
each costs one pass over the prepared revision)."""


def precheck_certificate(anchors: tuple[bytes, ...], certificate_der: bytes) -> str:
    """The holder's name, if `certificate_der` is a JPKI signing certificate issued by one
    of `anchors`; else `CardSignatureRejected`. A quick check before the card signs (no
    revocation, no validity): the final check of the CMS stays the judge."""
    try:
        certificate = JpkiCertificate.from_der(certificate_der)
    except CertificateParseError as exc:
        ja, en = _pair("card_certificate_unreadable")
        raise CardSignatureRejected("certificate_unreadable", ja, en, detail=str(exc)) from None
    if not certificate.non_repudiation:
        raise CardSignatureRejected(RejectionCode.KEY_USAGE, detail="no nonRepudiation")
    named = {f"anchor {number}": der for number, der in enumerate(anchors)}
    if certificate.name is None or certificate.root_generation(named) is None:
        raise CardSignatureRejected(
            RejectionCode.UNTRUSTED_CERTIFICATE,
            detail="no JPKI name, or not issued by a configured anchor",
        )
    return certificate.name


def announce_certificate(
    ctx: ServiceContext, session_id: str, certificate_der: bytes, who: Audit = BRIDGE
) -> Announced | Verdict:
    """v2: the certificate read after VERIFY; the digest the card must sign, or a verdict.

    The digest is the prepared revision's ByteRange with the certificate's name in its
    `/Name` room (computed from the stored revision in one streaming read; see
    `webapp.card_signing.embedding`). The same certificate again gets the same digest at
    once (a bridge that resumed); another one replaces it while nothing is signed yet (a
    card put back may be another card). A certificate that fails the quick check ends the
    session with a verdict, as a refused signature would.
    """
    fingerprint = hashlib.sha256(certificate_der).hexdigest()
    with _session_row(ctx, session_id) as (_db, session):
        early = _announce_state(session, fingerprint)
        if early is not None:
            return early
        document = session.recipient.document
        key = revisions.data_key(ctx, document)
        prepared = PreparedCardSignature.from_stored(
            session.field_name or "", session.prepared_digest or "", session.byte_range or {}
        )
        prepared_blob = session.prepared_blob_name or ""
    try:
        name = precheck_certificate(ctx.card_trust_anchors, certificate_der)
        with ctx.files.open_read(key, prepared_blob) as stored:
            digest = byte_range_digest(stored, prepared, name).hex()
    except CardSignatureRejected as exc:
        log.info("card session %s: certificate refused: %s %s", session_id, exc.code, exc.detail)
        verdict = Verdict(False, exc.code, exc.message_ja, exc.message_en)
        return _record_verdict(ctx, session_id, None, verdict, who)
    except PdfError as exc:
        verdict = Verdict(False, exc.code, exc.message_ja, exc.message_en)
        return _record_verdict(ctx, session_id, None, verdict, who)
    with _session_row(ctx, session_id) as (db, session):
        early = _announce_state(session, fingerprint)
        if early is not None:
            return early
        if session.prepared_blob_name != prepared_blob:
            return _refusal("session_ended")
        session.certificate_sha256 = fingerprint
        session.certificate_name = name
        session.certificates_announced += 1
        session.prepared_digest = digest
        _audit(db, session, "card_session.certificate", who, certificate_sha256=fingerprint)
        db.commit()
    return Announced(fingerprint, digest)


def _announce_state(session: CardSession, fingerprint: str) -> Announced | Verdict | None:
    """What a certificate frame gets without any work: a verdict, the same answer again,
    or None (go on). Raises `ClaimRefused` when no certificate is expected."""
    if session.result is not None:
        return Verdict.from_stored(session.result)
    if _protocol(session) < 2:
        raise ClaimRefused("unexpected_message", "certificate is a v2 message")
    if session.state is CardSessionState.EXPIRED:
        return _refusal("session_expired")
    if session.state is CardSessionState.SIGNING:
        raise ClaimRefused("unexpected_message", "the signature is being judged already")
    if session.state is not CardSessionState.CLAIMED:
        return _refusal("session_ended")
    announced = _announced(session)
    if announced is not None and announced.certificate_sha256 == fingerprint:
        return announced
    if session.certificates_announced >= MAX_CERTIFICATES:
        raise ClaimRefused("unexpected_message", "too many different certificates")
    return None


def record_progress(ctx: ServiceContext, session_id: str, stage: Stage) -> None:
    """The bridge reached a stage (the websocket's quick path is `advance` + `store_progress`)."""
    with _session_row(ctx, session_id) as (db, session):
        if session.state not in OPEN_STATES:
            return
        status, session.last_event = advance(status_of(session), stage)
        db.commit()
    ctx.card_events.publish(session.recipient_id, status)


def record_card_error(
    ctx: ServiceContext,
    session_id: str,
    code: CardErrorCode,
    tries_left: int | None,
    who: Audit = BRIDGE,
) -> CardSessionStatus | None:
    """A card problem the person at the PC must see (never a secret); the new status."""
    with _session_row(ctx, session_id) as (db, session):
        if session.state not in OPEN_STATES:
            return None
        session.last_event = {"card_error": code.value, "tries_left": tries_left}
        if tries_left is not None:
            session.tries_left = tries_left
        _audit(db, session, "card_session.card_error", who, code=code.value, tries_left=tries_left)
        db.commit()
        _publish(ctx, session)
        return status_of(session)


def advance(status: CardSessionStatus, stage: Stage) -> tuple[CardSessionStatus, dict[str, Any]]:
    """The status after a `progress` frame, and the `last_event` to store for it.

    This is the hot path of a watched session (a bridge sends a frame per stage): the
    page is told from the status in hand, and the database is written afterwards with one
    UPDATE (`store_progress`), off the event loop. After a card error, the stages that
    ask again keep showing it.
    """
    event: dict[str, Any] = {"stage": stage.value}
    error = status.error
    if error is not None and error.code in _CARD_ERROR_CODES and stage in _ASKING_AGAIN:
        event.update(card_error=error.code, tries_left=error.tries_left)
    else:
        error = None
    return status.model_copy(update={"stage": stage, "error": error}), event


def store_progress(ctx: ServiceContext, session_id: str, event: dict[str, Any]) -> None:
    """Write a progress event, unless the session has ended meanwhile."""
    with ctx.sessions() as db:
        db.execute(
            update(CardSession)
            .where(CardSession.id == session_id, CardSession.state.in_(OPEN_STATES))
            .values(last_event=event)
        )
        db.commit()


def record_bridge_cancel(
    ctx: ServiceContext, session_id: str, reason: str, who: Audit = BRIDGE
) -> None:
    """The bridge gave up (the person cancelled, the card is locked, …)."""
    with _session_row(ctx, session_id) as (db, session):
        if session.state not in OPEN_STATES:
            return
        _move(session, CardSessionState.CANCELLED, ctx.now(), reason=reason)
        _audit(db, session, "card_session.cancelled", who, reason=reason)
        db.commit()
        _publish(ctx, session)


def expire_due(ctx: ServiceContext) -> int:
    """End every open session whose time is over (or whose document closed), tell the
    watchers, and remove the prepared revisions of ended sessions; how many ended.

    Runs every second: it first looks in a read-only session, so a round with nothing to
    do takes no write turn (on SQLite, the one writer's; see `webapp.db.engine`).
    """
    with ctx.reading() as db:
        if not db.scalars(_due(ctx.now()).limit(1)).first() and not db.scalar(
            _with_leftover_blob().limit(1)
        ):
            return 0
    with ctx.sessions() as db:
        candidates = db.scalars(_due(ctx.now()).with_for_update(skip_locked=True)).all()
        due = [session for session in candidates if expire_if_due(ctx, db, session)]
        for session in due:  # (SKIP LOCKED above: one instance ends each)
            _audit(db, session, f"card_session.{session.state.value}")
        leftovers = db.scalars(select(CardSession).where(_with_leftover_blob_clause())).all()
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


def _due(now: datetime.datetime) -> Select[CardSession]:
    """Open sessions whose time is over or whose document closed.

    A union of two reads, not one with OR: the first is a range of the (state,
    expires_at) index; the OR across the join made every round visit every open session
    (9,500 a second in `benchmarks/card_sessions_load.py`).
    """
    timed_out = select(CardSession.id).where(
        CardSession.state.in_(OPEN_STATES), CardSession.expires_at <= now
    )
    closed = (
        select(CardSession.id)
        .join(Recipient)
        .join(Document)
        .where(CardSession.state.in_(OPEN_STATES), Document.status != DocumentStatus.SENT)
    )
    return select(CardSession).where(CardSession.id.in_(union(timed_out, closed)))


def _with_leftover_blob_clause() -> ColumnElement[bool]:
    """Ended sessions still holding a prepared revision (partial index, migration 0007)."""
    return and_(CardSession.prepared_blob_name.is_not(None), CardSession.state.in_(END_STATES))


def _with_leftover_blob() -> Select[str]:
    return select(CardSession.id).where(_with_leftover_blob_clause())


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


def _audit(db: Session, session: CardSession, kind: str, who: Audit = BRIDGE, **data: Any) -> None:
    """An audit event of the session; `who`: the bridge with its address and agent when a
    bridge's frame caused it, else the service's bridge actor without them."""
    recipient = session.recipient
    who.event(
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
    ctx: ServiceContext, session_id: str, digest_hex: str, cms_der: bytes, who: Audit = BRIDGE
) -> Verdict:
    """Check, timestamp, embed and seal a card's CMS; the same CMS again, the same verdict.

    Blocking (PDF and certificate work): run it in a worker thread. One signature of a
    session is judged once, by whichever request first moves the session to `signing`
    under the row's lock, on any instance; the same signature arriving meanwhile (a bridge
    that reconnected, perhaps to another instance) waits for that verdict. `who`: the
    bridge's connection, whose address and agent go on the signature's audit events.
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
        announced_certificate = session.certificate_sha256
        if _protocol(session) >= 2 and announced_certificate is None:
            raise ClaimRefused("unexpected_message", "send the certificate before the signature")
        wrong_digest = digest_hex != session.prepared_digest
        if not wrong_digest and not judging_elsewhere:
            _move(session, CardSessionState.SIGNING, ctx.now())
            session.signature_sha256 = fingerprint  # this request judges it
            session.last_event = {"stage": Stage.SENDING.value}
            db.commit()
            _publish(ctx, session)
        judging = _Judging(
            session_id=session_id,
            fingerprint=fingerprint,
            cms_der=cms_der,
            prepared=PreparedCardSignature.from_stored(
                session.field_name or "",
                session.prepared_digest or "",
                _layout(session),
                session.certificate_name,
            ),
            prepared_blob=session.prepared_blob_name or "",
            base=session.base_revision,
            document_id=session.recipient.document_id,
            recipient_id=session.recipient_id,
            who=who,
            announced_certificate=announced_certificate,
        )
    if judging_elsewhere:
        return _wait_for_verdict(ctx, session_id)
    if wrong_digest:
        return judging.rejected(ctx, _refusal("digest_mismatch"))
    return _judge(ctx, judging)


@dataclass(frozen=True)
class _Judging:
    """One signature being judged: what it needs of its session, read under the row lock."""

    session_id: str
    fingerprint: str
    """The CMS's SHA-256."""
    cms_der: bytes
    prepared: PreparedCardSignature
    prepared_blob: str
    base: int | None
    """The document's revision the prepared one was made from."""
    document_id: str
    recipient_id: str
    who: Audit
    announced_certificate: str | None
    """v2: the SHA-256 of the certificate the bridge announced."""

    def rejected(self, ctx: ServiceContext, verdict: Verdict) -> Verdict:
        return _record_verdict(ctx, self.session_id, self.fingerprint, verdict, self.who)


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


def _judge(ctx: ServiceContext, judging: _Judging) -> Verdict:
    validator = ctx.card_validator
    if validator is None:
        raise RuntimeError("no card signature validator is configured")
    try:
        with pdf_slot():
            accepted = in_private_loop(validator.validate(judging.cms_der, judging.prepared.digest))
    except CardSignatureRejected as exc:
        return judging.rejected(ctx, Verdict(False, exc.code, exc.message_ja, exc.message_en))
    signed_with = hashlib.sha256(accepted.signer_certificate).hexdigest()
    announced = judging.announced_certificate
    if announced is not None and signed_with != announced:
        log.warning(
            "card session %s: the CMS's certificate is not the announced one", judging.session_id
        )
        return judging.rejected(ctx, _refusal("certificate_mismatch"))
    try:
        _embed_and_record(ctx, judging, accepted)
    except DomainError as exc:  # the TSA is down, say: nothing recorded, sign again later
        return judging.rejected(ctx, Verdict(False, exc.code, exc.text("ja"), exc.text("en")))
    from webapp.services.recipients import complete_if_ready  # noqa: PLC0415 - cycle

    try:
        complete_if_ready(ctx, judging.document_id)
    except DomainError as exc:  # kept as agreed; completion is tried again later
        log.warning(
            "document %s signed by all but not completed yet: %s", judging.document_id, exc.code
        )
    return Verdict(True)


def _pair(key: str, **params: object) -> tuple[str, str]:
    return text("ja", key, **params), text("en", key, **params)


def _refusal(code: str) -> Verdict:
    ja, en = _pair(f"card_{code}")
    return Verdict(False, code, ja, en)


def _record_verdict(
    ctx: ServiceContext,
    session_id: str,
    fingerprint: str | None,
    verdict: Verdict,
    who: Audit = BRIDGE,
) -> Verdict:
    """A final rejection: the session ends; the party may start a new one. `fingerprint`:
    the CMS's SHA-256 (None: refused before any signature, at the certificate)."""
    with _session_row(ctx, session_id) as (db, session):
        if session.result is not None:  # judged already (once is enough)
            return Verdict.from_stored(session.result)
        if session.state is CardSessionState.COMPLETED:
            return Verdict.from_stored(Verdict(True).stored())
        _move(session, CardSessionState.REJECTED, ctx.now(), reason=verdict.reason)
        session.result = verdict.stored()
        session.signature_sha256 = fingerprint
        _audit(db, session, "card_signature.rejected", who, reason=verdict.reason)
        db.commit()
        _publish(ctx, session)
    return verdict


def _embed_and_record(
    ctx: ServiceContext, judging: _Judging, accepted: AcceptedCardSignature
) -> None:
    """Timestamp + embed (revision n+1), the platform's seal of the event (n+2), agreed."""
    document_id, base = judging.document_id, judging.base
    with ctx.sessions() as db:
        document = db.get_one(Document, document_id)
        recipient = db.get_one(Recipient, judging.recipient_id)
        key = revisions.data_key(ctx, document)
        seal_reason = f"Signed with a My Number Card by {accepted.signer_name} (mynasign)"
        seal_field = f"mynasign-card-event-{recipient.position}-{recipient.id[:8]}"
    number = (base or 0) + 1
    signed_name = f"{document_id}-r{number}"
    with revisions.decrypted_copy(ctx, document, judging.prepared_blob) as signed:
        with revisions.scratch_file(ctx) as unused:  # the CMS goes into `signed` in place
            embed = EmbedCardJob(judging.prepared, judging.cms_der)
            revisions.run_job(ctx, embed, signed, unused)
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
        _record_signed(ctx, judging, accepted, card_revision, sealed)
    except BaseException:
        revisions.discard(ctx, card_revision)
        revisions.discard(ctx, sealed)
        raise


def _record_signed(
    ctx: ServiceContext,
    judging: _Judging,
    accepted: AcceptedCardSignature,
    card_revision: revisions.NewRevision,
    sealed: revisions.NewRevision,
) -> None:
    who = judging.who
    with ctx.sessions() as db, db.begin():
        session = db.get_one(CardSession, judging.session_id)
        recipient = session.recipient
        document = db.scalar(
            select(Document).where(Document.id == recipient.document_id).with_for_update()
        )
        assert document is not None  # noqa: S101 - the session's document
        if (
            document.status is not DocumentStatus.SENT
            or document.current_revision != judging.base
            or session.state is not CardSessionState.SIGNING
        ):
            raise ConflictError("link_used")
        revisions.record_revision(db, document, card_revision)
        revisions.record_revision(db, document, sealed)
        now = ctx.now()
        mismatch = not same_name(accepted.signer_name, recipient.name)
        _move(session, CardSessionState.COMPLETED, now)
        session.result = Verdict(True).stored()
        session.signature_sha256 = judging.fingerprint
        session.signer_name = accepted.signer_name
        session.ocsp_response = accepted.ocsp_response
        session.crl_sha256 = keep_crl(db, accepted.crl, now)
        session.last_event = None
        recipient.status = RecipientStatus.AGREED
        recipient.agreed_at = now
        recipient.card_signer_name = accepted.signer_name
        recipient.signer_name_mismatch = mismatch
        who.event(  # the bridge's address and agent (issue 12's certificate)
            db, "recipient.card_signed", document.id, recipient_id=recipient.id,
            card_session_id=session.id, signer_name=accepted.signer_name,
            name_mismatch=mismatch, certificate_serial=accepted.certificate_serial,
            revocation=accepted.revocation_method, revision=card_revision.number,
            sha256=card_revision.blob.sha256,
        )  # fmt: skip
        who.event(
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


def status_of(session: CardSession) -> CardSessionStatus:
    """The session as the PC page and the API's status feed show it (no personal data)."""
    event = session.last_event or {}
    error: CardStatusError | None = None
    if session.state is CardSessionState.REJECTED and session.result is not None:
        ja, en = _pair("card_session_ended")  # only if the verdict kept no text of its own
        error = CardStatusError(
            code=session.result.get("reason") or "rejected",
            message_ja=session.result.get("message_ja") or ja,
            message_en=session.result.get("message_en") or en,
        )
    elif "card_error" in event and session.state in OPEN_STATES:
        code = str(event["card_error"])
        tries = event.get("tries_left")
        ja, en = _pair(f"card_error_{code}", tries_left=tries if tries is not None else "?")
        error = CardStatusError(code=code, message_ja=ja, message_en=en, tries_left=tries)
    elif session.state is CardSessionState.CANCELLED:
        reason = session.reject_reason or "cancelled"
        key = f"card_cancelled_{reason}" if reason in _CANCEL_TEXTS else "card_cancelled"
        tries = session.tries_left
        ja, en = _pair(key, tries_left=tries if tries is not None else "?")
        error = CardStatusError(code=reason, message_ja=ja, message_en=en, tries_left=tries)
    elif session.state is CardSessionState.EXPIRED:
        ja, en = _pair("card_session_expired")
        error = CardStatusError(code="session_expired", message_ja=ja, message_en=en)
    return CardSessionStatus(
        session_id=session.id, state=session.state, stage=known(Stage, event.get("stage")),
        order=known(Order, session.bridge_order), tries_left=session.tries_left,
        expires_at=session.expires_at, error=error,
        done=session.state is CardSessionState.COMPLETED,
        recipient_status=session.recipient.status,
    )  # fmt: skip


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


def current_status(
    ctx: ServiceContext, db: Session, recipient: Recipient
) -> CardSessionStatus | None:
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


def status_for(ctx: ServiceContext, recipient_id: str) -> CardSessionStatus | None:
    """`current_status` in a database session of its own (for a status feed).

    Read first in a read-only session: thousands of feeds open at once must not queue
    for SQLite's one writer; only a session that looks due is ended in a write.
    """
    with ctx.reading() as db:
        session = latest_session(db, db.get_one(Recipient, recipient_id))
        if session is None:
            return None
        if not _looks_due(ctx, session):
            return status_of(session)
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
