"""A sender's documents: upload, recipients, send (stamp + seal), cancel, read."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.audit import append_event
from webapp.audit.actor import Audit
from webapp.certificate import new_certificate_id, reserve_certificate
from webapp.db.models import (
    ActorKind,
    Document,
    DocumentStatus,
    Recipient,
    RecipientStatus,
    RevisionKind,
    User,
    new_document_id,
)
from webapp.errors import ConflictError, DomainError, NotFoundError
from webapp.pdf import PdfRejected, check_sendable, inspect_pdf
from webapp.pdf.workers import StampJob
from webapp.security import hash_secret
from webapp.services import revisions
from webapp.services.accounts import check_email
from webapp.services.context import ServiceContext
from webapp.services.notify import OPEN_STATUSES, invite, notify_next_recipient
from webapp.services.sealing import pdf_failure, seal_step

SENDING_SEAL_FIELD = "mynasign-sent"
ACCESS_CODE_MAX_LENGTH = 64


@dataclass(frozen=True)
class DocumentFields:
    """What a sender says about an upload."""

    title: str
    message: str | None = None
    amount: Decimal | None = None
    counterparty: str | None = None
    transaction_date: datetime.date | None = None
    attach_pdf_to_completion_mail: bool = True


def create_document(
    ctx: ServiceContext,
    db: Session,
    owner: User,
    upload: BinaryIO,
    *,
    fields: DocumentFields,
    who: Audit,
) -> Document:
    """A draft from an uploaded PDF, committed; refused with a clear message if it is not a
    usable PDF (nothing is then stored)."""
    title = fields.title.strip()
    if not title:
        raise DomainError("title_required")
    try:
        info = inspect_pdf(
            upload, max_bytes=ctx.settings.max_upload_bytes, max_pages=ctx.settings.max_pages
        )
    except PdfRejected as exc:
        raise DomainError(f"pdf_{exc.code}", messages=(exc.message_ja, exc.message_en)) from None
    upload.seek(0)
    data_key, wrapped = ctx.kek.new_data_key()
    del data_key  # unwrapped again when needed
    document = Document(
        id=new_document_id(), owner_id=owner.id, title=title, message=fields.message,
        amount=fields.amount, counterparty=fields.counterparty,
        transaction_date=fields.transaction_date,
        attach_pdf_to_completion_mail=fields.attach_pdf_to_completion_mail,
        status=DocumentStatus.DRAFT, data_key_wrapped=wrapped,
    )  # fmt: skip
    # The file is encrypted and written before the transaction begins: the database's
    # write turn is held for milliseconds, not for the seconds a 20 MB file may take.
    original = revisions.store_original(ctx, document, upload)
    try:
        db.add(document)
        db.flush()
        revisions.record_revision(db, document, original)
        who.event(
            db, "document.uploaded", document.id, pages=info.pages, size=info.size,
            sha256=info.sha256,
        )  # fmt: skip
        db.commit()
    except BaseException:
        db.rollback()
        revisions.discard(ctx, original)
        raise
    return document


def owned_document(
    db: Session, owner: User, document_id: str, *, for_update: bool = False
) -> Document:
    """The sender's own document; another sender's ID is simply not found."""
    query = select(Document).where(Document.id == document_id, Document.owner_id == owner.id)
    document = db.scalar(query.with_for_update() if for_update else query)
    if document is None:
        raise NotFoundError("document_not_found")
    return document


def add_recipient(
    db: Session,
    document: Document,
    *,
    name: str,
    email: str,
    access_code: str | None,
    require_card: bool,
    who: Audit,
) -> Recipient:
    """The next party in signing order (drafts only)."""
    if document.status is not DocumentStatus.DRAFT:
        raise ConflictError("document_not_draft")
    if not name.strip():
        raise DomainError("name_required")
    code = (access_code or "").strip()
    if len(code) > ACCESS_CODE_MAX_LENGTH:
        raise DomainError("access_code_too_long")
    position = 1 + max((r.position for r in document.recipients), default=0)
    recipient = Recipient(
        document_id=document.id, position=position, name=name.strip(), email=check_email(email),
        access_code_hash=hash_secret(code) if code else None, require_card=require_card,
        status=RecipientStatus.WAITING,
    )  # fmt: skip
    db.add(recipient)
    db.flush()
    who.event(
        db, "recipient.added", document.id, recipient_id=recipient.id, position=position,
        access_code=bool(code), require_card=require_card,
    )  # fmt: skip
    return recipient


def add_sender_signature(db: Session, document: Document, who: Audit) -> Recipient:
    """The sender as the first party, signing with their own card before anyone is told."""
    if document.status is not DocumentStatus.DRAFT:
        raise ConflictError("document_not_draft")
    if any(recipient.is_sender for recipient in document.recipients):
        raise ConflictError("sender_signature_already_required")
    owner = document.owner
    recipient = Recipient(
        document_id=document.id, position=0, name=owner.display_name, email=owner.email,
        require_card=True, is_sender=True, status=RecipientStatus.WAITING,
    )  # fmt: skip
    db.add(recipient)
    db.flush()
    who.event(
        db, "recipient.added", document.id, recipient_id=recipient.id, position=0,
        access_code=False, require_card=True, sender=True,
    )  # fmt: skip
    return recipient


def sender_signing_link(ctx: ServiceContext, db: Session, document: Document, who: Audit) -> str:
    """A fresh link for the sender's own card signature, while it is their turn."""
    party = next((r for r in document.recipients if r.is_sender), None)
    if party is None:
        raise NotFoundError("sender_signature_not_required")
    if document.status is not DocumentStatus.SENT or party.status not in OPEN_STATUSES:
        raise ConflictError("link_used")
    return ctx.link(f"/r/{invite(ctx, db, document, party, who)}")


def send_document(ctx: ServiceContext, owner: User, document_id: str, who: Audit) -> Document:
    """Stamp the document ID on page 1, seal the sending, and notify the first party.

    The PDF work happens before anything is recorded: if the TSA is down, the document
    stays a draft and the sender can send again.
    """
    with ctx.sessions() as db:
        document = owned_document(db, owner, document_id)
        if document.status is not DocumentStatus.DRAFT:
            raise ConflictError("document_not_draft")
        if not document.recipients:
            raise ConflictError("no_recipients")
        base = document.current_revision
        current_blob = revisions.current_revision(db, document).blob_name
    certificate_id = new_certificate_id()  # issue 12: stamped now, its certificate made at the end
    stamp = StampJob(document.id, certificate_id)
    seal = seal_step(SENDING_SEAL_FIELD, f"Sent by {owner.email} for signature (mynasign)")
    with revisions.decrypted_copy(ctx, document, current_blob) as plain:
        # The upload check again, in this process's sandbox (not in a PDF worker, which
        # would start a sandbox helper of its own): a file it refuses today fails with its
        # words (`PdfRejected`) instead of halfway through sending.
        try:
            check_sendable(plain)
        except PdfRejected as exc:
            raise pdf_failure(exc) from None
        new = revisions.next_revision_from_plain(
            ctx, document, plain, base + 1, RevisionKind.STAMP_AND_SENDING_SEAL, [stamp, seal]
        )
    try:
        with ctx.sessions() as db, db.begin():
            document = owned_document(db, owner, document_id, for_update=True)
            if document.status is not DocumentStatus.DRAFT or document.current_revision != base:
                raise ConflictError("document_not_draft")
            revisions.record_revision(db, document, new)
            reserve_certificate(db, document.id, certificate_id)
            now = ctx.now()
            document.status = DocumentStatus.SENT
            document.sent_at = now
            document.expires_at = now + datetime.timedelta(days=ctx.settings.request_validity_days)
            who.event(db, "document.sent", document.id, revision=new.number, sha256=new.blob.sha256)
            notify_next_recipient(ctx, db, document, who)
    except BaseException:
        revisions.discard(ctx, new)
        raise
    ctx.wake_mail()
    return document


def cancel_document(
    ctx: ServiceContext, db: Session, owner: User, document_id: str, who: Audit
) -> Document:
    """Stop an unfinished document; every open link then says it was cancelled."""
    document = owned_document(db, owner, document_id, for_update=True)
    if document.status not in (DocumentStatus.DRAFT, DocumentStatus.SENT):
        raise ConflictError("document_not_cancellable")
    document.status = DocumentStatus.CANCELLED
    for recipient in document.recipients:
        if recipient.status in (
            RecipientStatus.WAITING,
            RecipientStatus.NOTIFIED,
            RecipientStatus.OPENED,
        ):
            recipient.status = RecipientStatus.CANCELLED
    who.event(db, "document.cancelled", document.id)
    return document


def expire_if_due(ctx: ServiceContext, db: Session, document: Document) -> None:
    """A sent document past its expiry becomes expired (checked whenever it is touched)."""
    if (
        document.status is DocumentStatus.SENT
        and document.expires_at is not None
        and document.expires_at <= ctx.now()
    ):
        document.status = DocumentStatus.EXPIRED
        append_event(
            db,
            action="document.expired",
            actor_kind=ActorKind.SYSTEM,
            actor="system",
            document_id=document.id,
        )
