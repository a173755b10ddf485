"""Telling parties by mail: the next party's link, rejections, forwards, completion."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from webapp.db.models import Document, Recipient, RecipientStatus
from webapp.mail.messages import render_completion, render_invitation, render_rejection_notice
from webapp.mail.outbox import enqueue_mail
from webapp.security import new_token, token_hash
from webapp.services.context import ServiceContext

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from webapp.audit.actor import Audit

OPEN_STATUSES = (RecipientStatus.NOTIFIED, RecipientStatus.OPENED)


def next_recipient(document: Document) -> Recipient | None:
    """The first party in signing order who has not answered yet."""
    for recipient in sorted(document.recipients, key=lambda r: (r.position, r.notified_at is None)):
        if recipient.status in (RecipientStatus.WAITING, *OPEN_STATUSES):
            return recipient
    return None


def notify_next_recipient(
    ctx: ServiceContext, db: Session, document: Document, who: Audit
) -> Recipient | None:
    """Give the next party a fresh link by mail; None when every party has answered."""
    recipient = next_recipient(document)
    if recipient is None or recipient.status in OPEN_STATUSES:
        return recipient
    invite(ctx, db, document, recipient, who)
    return recipient


def invite(
    ctx: ServiceContext, db: Session, document: Document, recipient: Recipient, who: Audit
) -> str:
    """A new unguessable link for the party (only its hash is kept), mailed to them."""
    token = new_token()
    recipient.link_token_hash = token_hash(token)
    recipient.link_expires_at = document.expires_at
    recipient.status = RecipientStatus.NOTIFIED
    recipient.notified_at = ctx.now()
    if recipient.is_sender:  # the sender signs from their own page: no mail
        who.event(db, "recipient.notified", document.id, recipient_id=recipient.id, sender=True)
        return token
    link = ctx.link(f"/r/{token}")
    assert document.expires_at is not None  # noqa: S101 - sent documents have an expiry
    message = render_invitation(
        recipient_name=recipient.name, sender_name=document.owner.display_name,
        document_title=document.title, message=document.message, link=link,
        expires_at=document.expires_at,
        card_app_link=ctx.link("/app") if recipient.require_card else None,  # issue 12.7
    )  # fmt: skip
    enqueue_mail(db, to=recipient.email, message=message, document_id=document.id)
    who.event(
        db, "recipient.notified", document.id, recipient_id=recipient.id, email=recipient.email
    )
    return token


def tell_sender_of_rejection(
    ctx: ServiceContext, db: Session, document: Document, recipient: Recipient
) -> None:
    message = render_rejection_notice(
        recipient_name=document.owner.display_name, rejected_by=recipient.name,
        document_title=document.title, reason=recipient.reject_reason or "",
        link=ctx.link(f"/documents/{document.id}"), rejected_at=recipient.rejected_at or ctx.now(),
    )  # fmt: skip
    enqueue_mail(db, to=document.owner.email, message=message, document_id=document.id)


def send_completion_mails(
    ctx: ServiceContext, db: Session, document: Document, final_blob: str
) -> None:
    """Every party and the sender get the finished PDF (if the sender wants it attached)."""
    attachment = f"{document.id}.pdf" if document.attach_pdf_to_completion_mail else None
    owner_link = ctx.link(f"/documents/{document.id}")
    people = {document.owner.email: (document.owner.display_name, owner_link)}
    for recipient in document.recipients:
        if recipient.status is RecipientStatus.AGREED and recipient.email not in people:
            token = new_token()  # a second link, to the finished document; the first still works
            recipient.completion_link_hash = token_hash(token)
            validity = timedelta(days=ctx.settings.request_validity_days)
            recipient.link_expires_at = ctx.now() + validity
            people[recipient.email] = (recipient.name, ctx.link(f"/r/{token}"))
    for email, (name, link) in people.items():
        message = render_completion(
            recipient_name=name, document_title=document.title, link=link,
            completed_at=document.completed_at or ctx.now(), attachment_name=attachment,
            certificate_link=f"{link}/certificate",  # issue 12: the agreement certificate
        )  # fmt: skip
        enqueue_mail(
            db, to=email, message=message, document_id=document.id,
            attachment_blob_name=final_blob if attachment else None, attachment_filename=attachment,
        )  # fmt: skip
