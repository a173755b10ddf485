"""JSON API for senders: upload, recipients, send, cancel, status, list, PDF."""

from __future__ import annotations

import datetime
import tempfile
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import or_, select

from webapp.audit import events_for_document
from webapp.db.models import Document, DocumentStatus, Recipient
from webapp.deps import ApiSender, Context, Db, SenderAudit
from webapp.services import documents as service
from webapp.services import revisions

router = APIRouter(prefix="/api/v1/documents", tags=["documents (senders)"])
UPLOAD_CHUNK = 1024 * 1024


class Created(BaseModel):
    id: str


class RecipientIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    access_code: str | None = Field(default=None, max_length=64)
    require_mynumber_card: bool = False


def recipient_view(recipient: Recipient) -> dict[str, Any]:
    return {
        "id": recipient.id,
        "position": recipient.position,
        "name": recipient.name,
        "email": recipient.email,
        "status": recipient.status.value,
        "require_mynumber_card": recipient.require_card,
        "access_code": recipient.access_code_hash is not None,
        "notified_at": recipient.notified_at,
        "opened_at": recipient.opened_at,
        "agreed_at": recipient.agreed_at,
        "rejected_at": recipient.rejected_at,
        "reject_reason": recipient.reject_reason,
        "forwarded_to": recipient.forwarded_to_id,
        "forwarded_from": recipient.forwarded_from_id,
        "card_signer_name": recipient.card_signer_name,
        "card_signer_name_differs": recipient.signer_name_mismatch,
        "is_sender": recipient.is_sender,
    }


def document_view(document: Document) -> dict[str, Any]:
    return {
        "id": document.id,
        "title": document.title,
        "message": document.message,
        "status": document.status.value,
        "amount": str(document.amount) if document.amount is not None else None,
        "counterparty": document.counterparty,
        "transaction_date": document.transaction_date,
        "created_at": document.created_at,
        "sent_at": document.sent_at,
        "completed_at": document.completed_at,
        "expires_at": document.expires_at,
        "revision": document.current_revision,
        "attach_pdf_to_completion_mail": document.attach_pdf_to_completion_mail,
    }


@router.post("", status_code=201, response_model=Created)
async def upload_document(
    context: Context,
    db: Db,
    sender: ApiSender,
    who: SenderAudit,
    file: Annotated[UploadFile, File(description="the contract, a PDF")],
    title: Annotated[str, Form(min_length=1, max_length=500)],
    message: Annotated[str | None, Form(max_length=5000)] = None,
    amount: Annotated[Decimal | None, Form(max_digits=18, decimal_places=2)] = None,
    counterparty: Annotated[str | None, Form(max_length=300)] = None,
    transaction_date: Annotated[datetime.date | None, Form()] = None,
    attach_pdf_to_completion_mail: Annotated[bool, Form()] = True,
) -> Created:
    with tempfile.SpooledTemporaryFile(max_size=UPLOAD_CHUNK) as upload:
        while chunk := await file.read(UPLOAD_CHUNK):
            upload.write(chunk)
        upload.seek(0)
        fields = service.DocumentFields(
            title, message, amount, counterparty, transaction_date, attach_pdf_to_completion_mail
        )
        document = service.create_document(context, db, sender, upload, fields=fields, who=who)  # type: ignore[arg-type]
    return Created(id=document.id)


@router.post("/{document_id}/recipients", status_code=201, response_model=Created)
def add_recipient(
    document_id: str, body: RecipientIn, db: Db, sender: ApiSender, who: SenderAudit
) -> Created:
    document = service.owned_document(db, sender, document_id, for_update=True)
    recipient = service.add_recipient(
        db, document, name=body.name, email=body.email, access_code=body.access_code,
        require_card=body.require_mynumber_card, who=who,
    )  # fmt: skip
    return Created(id=recipient.id)


@router.post("/{document_id}/sender-signature", status_code=201, response_model=Created)
def require_sender_signature(
    document_id: str, db: Db, sender: ApiSender, who: SenderAudit
) -> Created:
    """The sender signs first, with their own My Number Card (before anyone is told)."""
    document = service.owned_document(db, sender, document_id, for_update=True)
    return Created(id=service.add_sender_signature(db, document, who).id)


@router.post("/{document_id}/sender-signing-link")
def sender_signing_link(
    document_id: str, context: Context, db: Db, sender: ApiSender, who: SenderAudit
) -> dict[str, str]:
    """A fresh link to the sender's own card-signing flow (the recipient API works with it)."""
    document = service.owned_document(db, sender, document_id, for_update=True)
    url = service.sender_signing_link(context, db, document, who)
    db.commit()
    return {"url": url}


@router.post("/{document_id}/send")
async def send_document(
    document_id: str, context: Context, sender: ApiSender, who: SenderAudit
) -> dict[str, Any]:
    """Stamp, seal and tell the first party; when the sender signs first, their link."""
    document = await service.send_document(context, sender, document_id, who)
    view = document_view(document)
    with context.sessions() as db:
        document = service.owned_document(db, sender, document_id)
        if any(r.is_sender and r.status.value == "notified" for r in document.recipients):
            view["sender_signing_url"] = service.sender_signing_link(context, db, document, who)
            db.commit()
    return view


@router.post("/{document_id}/cancel")
def cancel_document(
    document_id: str, context: Context, db: Db, sender: ApiSender, who: SenderAudit
) -> dict[str, Any]:
    return document_view(service.cancel_document(context, db, sender, document_id, who))


@router.get("/{document_id}")
def get_document(document_id: str, context: Context, db: Db, sender: ApiSender) -> dict[str, Any]:
    document = service.owned_document(db, sender, document_id)
    service.expire_if_due(context, db, document)
    view = document_view(document)
    view["recipients"] = [recipient_view(r) for r in document.recipients]
    view["events"] = [
        {"seq": e.seq, "at": e.occurred_at, "action": e.action, "actor_kind": e.actor_kind.value,
         "detail": e.detail}
        for e in events_for_document(db, document.id)
    ]  # fmt: skip
    return view


@router.get("")
def list_documents(
    db: Db,
    sender: ApiSender,
    status: DocumentStatus | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="title or counterparty contains")
    ] = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    query = select(Document).where(Document.owner_id == sender.id)
    if status is not None:
        query = query.where(Document.status == status)
    if q:
        pattern = f"%{q}%"
        query = query.where(
            or_(Document.title.ilike(pattern), Document.counterparty.ilike(pattern))
        )
    if date_from is not None:
        query = query.where(Document.transaction_date >= date_from)
    if date_to is not None:
        query = query.where(Document.transaction_date <= date_to)
    rows = db.scalars(query.order_by(Document.created_at.desc()).limit(limit).offset(offset)).all()
    return {"documents": [document_view(d) for d in rows], "limit": limit, "offset": offset}


@router.get("/{document_id}/pdf")
def document_pdf(
    document_id: str, context: Context, db: Db, sender: ApiSender
) -> StreamingResponse:
    document = service.owned_document(db, sender, document_id)
    return pdf_response(context, document, revisions.current_revision(db, document).blob_name)


def pdf_response(context: Any, document: Document, blob_name: str) -> StreamingResponse:
    """The revision decrypted as it streams out; never cached."""
    reader = context.files.open_read(revisions.data_key(context, document), blob_name)

    def chunks() -> Any:
        with reader:
            while chunk := reader.read(UPLOAD_CHUNK):
                yield chunk

    return StreamingResponse(
        chunks(), media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{document.id}.pdf"',
            "Cache-Control": "no-store",
        },
    )  # fmt: skip
