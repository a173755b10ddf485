"""A party's side, without an account: open the link, then agree, reject or forward."""

from __future__ import annotations

import datetime
import logging
import math
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from webapp.audit.actor import Audit
from webapp.audit.anchors import anchor_completion
from webapp.certificate import (
    PreparedCertificate,
    discard_certificate,
    prepare_certificate,
    record_certificate,
)
from webapp.db.leases import leased
from webapp.db.models import (
    ActorKind,
    CardSession,
    CardSessionState,
    Document,
    DocumentStatus,
    Recipient,
    RecipientSession,
    RecipientStatus,
    RevisionKind,
    RevocationList,
)
from webapp.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    GoneError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
)
from webapp.mail.messages import render_access_code_locked
from webapp.mail.outbox import enqueue_mail
from webapp.security import hash_secret, new_token, token_hash, verify_secret
from webapp.services import revisions
from webapp.services.accounts import check_email
from webapp.services.context import ServiceContext
from webapp.services.documents import ACCESS_CODE_MAX_LENGTH, expire_if_due
from webapp.services.notify import (
    OPEN_STATUSES,
    invite,
    next_recipient,
    notify_next_recipient,
    send_completion_mails,
    tell_sender_of_rejection,
)
from webapp.services.sealing import finalize_step, seal_step

log = logging.getLogger(__name__)
SESSION_LIFETIME = datetime.timedelta(hours=2)
REASON_MAX_LENGTH = 2000
DONE_STATUSES = (RecipientStatus.AGREED, RecipientStatus.REJECTED)
COMPLETION_LEASE = datetime.timedelta(minutes=5)
"""Longest a closing step may take before another instance may try it (TSA and OCSP
waits included)."""


def recipient_for_link(ctx: ServiceContext, db: Session, link_token: str) -> Recipient:
    """The party a link belongs to, or why the link no longer works."""
    hashed = token_hash(link_token)
    recipient = db.scalar(
        select(Recipient).where(
            or_(Recipient.link_token_hash == hashed, Recipient.completion_link_hash == hashed)
        )
    )
    if recipient is None:
        raise NotFoundError("link_invalid")
    document = recipient.document
    expire_if_due(ctx, db, document)
    if document.status is DocumentStatus.CANCELLED or recipient.status is RecipientStatus.CANCELLED:
        raise GoneError("link_cancelled")
    if recipient.status is RecipientStatus.FORWARDED:
        raise GoneError("link_forwarded")
    expires = recipient.link_expires_at
    if document.status is DocumentStatus.EXPIRED or (expires is not None and expires <= ctx.now()):
        raise GoneError("link_expired")
    return recipient


@dataclass(frozen=True)
class Opened:
    recipient: Recipient
    session_token: str


def open_link(
    ctx: ServiceContext,
    db: Session,
    link_token: str,
    *,
    accept_terms: bool,
    access_code: str | None,
    who: Audit,
) -> Opened:
    """Terms accepted and the access code right (if one is set): a session for this party."""
    recipient = recipient_for_link(ctx, db, link_token)
    document = recipient.document
    if not accept_terms:
        raise DomainError("terms_required")
    now = ctx.now()
    if recipient.access_code_hash is not None:
        _refuse_while_locked(ctx, db, recipient, who)
        if not verify_secret((access_code or "").strip(), recipient.access_code_hash):
            _wrong_code(ctx, db, recipient, who)
            raise UnauthorizedError("access_code_wrong")
        recipient.failed_code_attempts = 0
        recipient.code_locked_until = None
    if recipient.status is RecipientStatus.NOTIFIED:
        recipient.status = RecipientStatus.OPENED
        recipient.opened_at = now
    token = new_token()
    expires = now + SESSION_LIFETIME
    db.add(
        RecipientSession(
            recipient_id=recipient.id, token_hash=token_hash(token), expires_at=expires
        )
    )
    who.event(db, "recipient.opened", document.id, recipient_id=recipient.id)
    return Opened(recipient, token)


# --- access codes (issue 10): locks that grow, then stay until the sender sets a new code ---

LOCK_CAP = datetime.timedelta(days=1)


def lock_duration(ctx: ServiceContext, earlier_locks: int) -> datetime.timedelta:
    """15 minutes (the setting) for the first lock, then twice as long each time, up to a day."""
    base = datetime.timedelta(minutes=ctx.settings.access_code_lock_minutes)
    longer: datetime.timedelta = base * 2 ** min(earlier_locks, 16)
    return min(longer, LOCK_CAP)


def _refuse_while_locked(
    ctx: ServiceContext, db: Session, recipient: Recipient, who: Audit
) -> None:
    """A locked link refuses the attempt unseen (the code is not even compared); recorded."""
    now = ctx.now()
    error: DomainError
    if recipient.code_blocked_at is not None:
        error = ForbiddenError("access_code_locked_for_good")
    elif recipient.code_locked_until is not None and recipient.code_locked_until > now:
        seconds = math.ceil((recipient.code_locked_until - now).total_seconds())
        error = RateLimitedError(
            "access_code_locked", minutes=math.ceil(seconds / 60), retry_after=seconds
        )  # fmt: skip
    else:
        return
    who.event(
        db, "recipient.access_code_refused", recipient.document_id, recipient_id=recipient.id,
        reason=error.code, locked_until=_iso(recipient.code_locked_until),
        blocked=recipient.code_blocked_at is not None,
    )  # fmt: skip
    db.commit()  # recorded although the request fails
    raise error


def _iso(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _wrong_code(ctx: ServiceContext, db: Session, recipient: Recipient, who: Audit) -> None:
    """Count a wrong code: each series ends in a longer lock; at the total, locked for good."""
    settings = ctx.settings
    recipient.failed_code_attempts += 1
    recipient.code_failures_total += 1
    blocked = recipient.code_failures_total >= settings.access_code_max_total
    locked = blocked or recipient.failed_code_attempts >= settings.access_code_max_attempts
    who.event(
        db, "recipient.access_code_failed", recipient.document_id, recipient_id=recipient.id,
        locked=locked, failures=recipient.code_failures_total,
    )  # fmt: skip
    if blocked:
        recipient.code_blocked_at = ctx.now()
        recipient.code_locked_until = None
        recipient.failed_code_attempts = 0
        who.event(
            db, "recipient.access_code_locked", recipient.document_id, recipient_id=recipient.id,
            until_new_code=True, failures=recipient.code_failures_total,
        )  # fmt: skip
        tell_sender_of_code_lock(ctx, db, recipient)
    elif locked:
        until = ctx.now() + lock_duration(ctx, recipient.code_lock_count)
        recipient.code_lock_count += 1
        recipient.code_locked_until = until
        recipient.failed_code_attempts = 0
        who.event(
            db, "recipient.access_code_locked", recipient.document_id, recipient_id=recipient.id,
            until=until.isoformat(), lock=recipient.code_lock_count,
        )  # fmt: skip
    db.commit()  # the failure counts although the request fails
    if blocked:
        ctx.wake_mail()


def tell_sender_of_code_lock(ctx: ServiceContext, db: Session, recipient: Recipient) -> None:
    """Mail the sender: this party's link stays locked until they issue a new access code."""
    document = recipient.document
    message = render_access_code_locked(
        recipient_name=document.owner.display_name, party_name=recipient.name,
        party_email=recipient.email, document_title=document.title,
        failures=recipient.code_failures_total,
        link=ctx.link(f"/documents/{document.id}#recipients"),
        locked_at=recipient.code_blocked_at or ctx.now(),
    )  # fmt: skip
    enqueue_mail(db, to=document.owner.email, message=message, document_id=document.id)


def issue_access_code(
    ctx: ServiceContext, db: Session, document: Document, recipient_id: str, code: str, who: Audit
) -> Recipient:
    """The sender sets a new access code for a party: counters and locks start again.

    The code itself is never stored (argon2id) nor mailed; the sender tells the party.
    """
    recipient = next((r for r in document.recipients if r.id == recipient_id), None)
    if recipient is None or recipient.is_sender:
        raise NotFoundError("recipient_not_found")
    if document.status not in (DocumentStatus.DRAFT, DocumentStatus.SENT) or (
        recipient.status not in (RecipientStatus.WAITING, *OPEN_STATUSES)
    ):
        raise ConflictError("link_used")
    cleaned = code.strip()
    if not cleaned:
        raise DomainError("access_code_required")
    if len(cleaned) > ACCESS_CODE_MAX_LENGTH:
        raise DomainError("access_code_too_long")
    recipient.access_code_hash = hash_secret(cleaned)
    recipient.failed_code_attempts = 0
    recipient.code_failures_total = 0
    recipient.code_lock_count = 0
    recipient.code_locked_until = None
    recipient.code_blocked_at = None
    who.event(db, "recipient.access_code_reset", document.id, recipient_id=recipient.id)
    return recipient


def recipient_for_session(
    ctx: ServiceContext, db: Session, link_token: str, session_token: str
) -> Recipient:
    """The party of a link whose session token (from `open_link`) is still valid."""
    recipient = recipient_for_link(ctx, db, link_token)
    session = db.scalar(
        select(RecipientSession).where(
            RecipientSession.token_hash == token_hash(session_token),
            RecipientSession.recipient_id == recipient.id,
        )
    )
    if session is None or session.expires_at <= ctx.now():
        raise UnauthorizedError("session_expired")
    return recipient


def _actionable(recipient: Recipient) -> Document:
    if recipient.status in DONE_STATUSES:
        raise ConflictError("link_used")
    if recipient.status not in OPEN_STATUSES:
        raise ConflictError("not_your_turn")
    document = recipient.document
    if document.status is not DocumentStatus.SENT:
        raise ConflictError("link_used")
    return document


def agree(ctx: ServiceContext, link_token: str, session_token: str, who: Audit) -> Recipient:
    """The party agrees: a platform seal naming them, then the next party, or completion."""
    with ctx.sessions() as db:
        recipient = recipient_for_session(ctx, db, link_token, session_token)
        document = _actionable(recipient)
        if recipient.require_card:
            raise ConflictError("card_signature_required")
        base = document.current_revision
        current_blob = revisions.current_revision(db, document).blob_name
        recipient_id, document_id = recipient.id, document.id
        reason = f"Agreed by {recipient.name} <{recipient.email}> (mynasign)"
        field = f"mynasign-agreed-{recipient.position}-{recipient.id[:8]}"
    new = revisions.next_revision(
        ctx, document, current_blob, RevisionKind.AGREEMENT_SEAL, [seal_step(field, reason)]
    )
    try:
        with ctx.sessions() as db, db.begin():
            document = _locked_document(db, document_id)
            recipient = db.get_one(Recipient, recipient_id)
            if document.current_revision != base:
                raise ConflictError("link_used")
            _actionable(recipient)
            revisions.record_revision(db, document, new)
            recipient.status = RecipientStatus.AGREED
            recipient.agreed_at = ctx.now()
            who.event(
                db, "recipient.agreed", document.id, recipient_id=recipient.id,
                name=recipient.name, revision=new.number, sha256=new.blob.sha256,
            )  # fmt: skip
            notify_next_recipient(ctx, db, document, who)
    except BaseException:
        revisions.discard(ctx, new)
        raise
    ctx.wake_mail()
    try:
        complete_if_ready(ctx, document_id)
    except DomainError as exc:  # kept as agreed; completion is tried again later
        log.warning("document %s agreed by all but not completed yet: %s", document_id, exc.code)
    return recipient


def _locked_document(db: Session, document_id: str) -> Document:
    document = db.scalar(select(Document).where(Document.id == document_id).with_for_update())
    if document is None:
        raise NotFoundError("document_not_found")
    return document


def complete_if_ready(ctx: ServiceContext, document_id: str) -> bool:
    """When every party has agreed: final seal, DSS and document timestamp (B-LTA), mails.

    Safe to call again at any time, from any instance (after a TSA outage, say): it does
    nothing unless the document is sent and no party is left, and while one caller holds
    the document's completion lease the others leave it (the closing step runs once).
    """
    lease = f"complete:{document_id}"
    with leased(ctx.sessions, lease, clock=ctx.now, length=COMPLETION_LEASE) as mine:
        return mine and _complete(ctx, document_id)


def _complete(ctx: ServiceContext, document_id: str) -> bool:
    with ctx.sessions() as db:
        document = db.get_one(Document, document_id)
        if document.status is not DocumentStatus.SENT or next_recipient(document) is not None:
            return False
        base = document.current_revision
        current_blob = revisions.current_revision(db, document).blob_name
        closing = finalize_step(card_ocsp_responses(db, document), card_crls(db, document))
    new = revisions.next_revision(ctx, document, current_blob, RevisionKind.FINAL, [closing])
    certificate: PreparedCertificate | None = None  # issue 12: the agreement certificate
    try:
        certificate = prepare_certificate(ctx, document_id, new)
        with ctx.sessions() as db, db.begin():
            document = _locked_document(db, document_id)
            if document.status is not DocumentStatus.SENT or document.current_revision != base:
                revisions.discard(ctx, new)
                discard_certificate(ctx, certificate)
                return False
            revisions.record_revision(db, document, new)
            document.status = DocumentStatus.COMPLETED
            document.completed_at = ctx.now()
            system = Audit(ActorKind.SYSTEM, "system")
            system.event(
                db, "document.completed", document.id, revision=new.number, sha256=new.blob.sha256
            )
            record_certificate(db, certificate)
            send_completion_mails(ctx, db, document, new.blob.blob_name)
    except BaseException:
        revisions.discard(ctx, new)
        discard_certificate(ctx, certificate)
        raise
    ctx.wake_mail()
    anchor_completion(ctx, document_id)  # issue 12: the audit chain's head timestamped
    return True


def card_ocsp_responses(db: Session, document: Document) -> list[bytes]:
    """The OCSP answers that said each card signer's certificate was good, at signing."""
    found = db.scalars(
        select(CardSession.ocsp_response)
        .join(Recipient)
        .where(
            Recipient.document_id == document.id,
            CardSession.state == CardSessionState.COMPLETED,
            CardSession.ocsp_response.is_not(None),
        )
    )
    return [der for der in found if der]


def card_crls(db: Session, document: Document) -> list[bytes]:
    """The CRLs that said each card signer's certificate was good, at signing (CRL mode)."""
    return list(
        db.scalars(
            select(RevocationList.der)
            .where(
                RevocationList.sha256.in_(
                    select(CardSession.crl_sha256)
                    .join(Recipient)
                    .where(
                        Recipient.document_id == document.id,
                        CardSession.state == CardSessionState.COMPLETED,
                    )
                )
            )
            .order_by(RevocationList.sha256)
        )
    )


def reject(ctx: ServiceContext, db: Session, recipient: Recipient, reason: str, who: Audit) -> None:
    """The party rejects with a reason; the document stops and the sender is told."""
    document = _actionable(recipient)
    text = reason.strip()
    if not text:
        raise DomainError("reason_required")
    recipient.status = RecipientStatus.REJECTED
    recipient.rejected_at = ctx.now()
    recipient.reject_reason = text[:REASON_MAX_LENGTH]
    document.status = DocumentStatus.REJECTED
    who.event(
        db,
        "recipient.rejected",
        document.id,
        recipient_id=recipient.id,
        reason=recipient.reject_reason,
    )
    tell_sender_of_rejection(ctx, db, document, recipient)


def forward(
    ctx: ServiceContext,
    db: Session,
    recipient: Recipient,
    *,
    name: str,
    email: str,
    message: str | None,
    who: Audit,
) -> Recipient:
    """Hand the request to the right person; a card requirement carries over."""
    document = _actionable(recipient)
    if not name.strip():
        raise DomainError("name_required")
    address = check_email(email)
    if address == recipient.email:
        raise DomainError("forward_to_self")
    successor = Recipient(
        document_id=document.id, position=recipient.position, name=name.strip(), email=address,
        require_card=recipient.require_card, status=RecipientStatus.WAITING,
        forwarded_from_id=recipient.id,
    )  # fmt: skip
    db.add(successor)
    db.flush()
    recipient.status = RecipientStatus.FORWARDED
    recipient.forwarded_to_id = successor.id
    who.event(
        db, "recipient.forwarded", document.id, recipient_id=recipient.id,
        to_recipient_id=successor.id, to_email=address, message=(message or "")[:REASON_MAX_LENGTH],
    )  # fmt: skip
    invite(ctx, db, document, successor, who)
    return successor
