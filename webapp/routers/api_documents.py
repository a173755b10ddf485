"""JSON API for senders: upload, recipients, send, cancel, status, list, PDF."""

from __future__ import annotations

import datetime
import tempfile
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from webapp.audit import events_for_document
from webapp.audit.access import record_download
from webapp.db.models import Document, DocumentStatus, Recipient
from webapp.deps import ApiSender, Context, Db, SenderAudit
from webapp.search import DocumentSearch, csv_filename, search_documents
from webapp.search.export import CSV_MEDIA_TYPE, JST, write_csv
from webapp.services import documents as service
from webapp.services import recipients as party_access
from webapp.services import revisions
from webapp.text_input import AccessCodeText, MultiLineText, SearchText, SingleLineText

router = APIRouter(prefix="/api/v1/documents", tags=["documents (senders)"])
UPLOAD_CHUNK = 1024 * 1024
MAX_LIST_OFFSET = 1_000_000_000  # issue 10: an offset past 2**63 reached the database


class Created(BaseModel):
    id: str


class RecipientIn(BaseModel):
    name: SingleLineText = Field(min_length=1, max_length=200)
    email: SingleLineText = Field(min_length=3, max_length=254)
    access_code: AccessCodeText | None = None
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
def upload_document(
    context: Context,
    db: Db,
    sender: ApiSender,
    who: SenderAudit,
    file: Annotated[UploadFile, File(description="the contract, a PDF")],
    title: Annotated[SingleLineText, Form(min_length=1, max_length=500)],
    message: Annotated[MultiLineText | None, Form(max_length=5000)] = None,
    amount: Annotated[
        Decimal | None, Form(max_digits=18, decimal_places=2, ge=0, allow_inf_nan=False)
    ] = None,
    counterparty: Annotated[SingleLineText | None, Form(max_length=300)] = None,
    transaction_date: Annotated[datetime.date | None, Form()] = None,
    attach_pdf_to_completion_mail: Annotated[bool, Form()] = True,
) -> Created:
    # A plain `def`: the check, the encryption and the commit run in a worker thread. The
    # upload is already spooled (memory, then a temporary file) by the form parser.
    fields = service.DocumentFields(
        title, message, amount, counterparty, transaction_date, attach_pdf_to_completion_mail
    )
    file.file.seek(0)
    document = service.create_document(context, db, sender, file.file, fields=fields, who=who)
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
def send_document(
    document_id: str, context: Context, sender: ApiSender, who: SenderAudit
) -> dict[str, Any]:
    """Stamp, seal and tell the first party; when the sender signs first, their link."""
    document = service.send_document(context, sender, document_id, who)
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


# --- issue 12: search (電子帳簿保存法) and CSV export, one query in webapp.search -------------


def document_search(
    status: DocumentStatus | None = None,
    q: Annotated[
        SearchText | None, Query(max_length=200, description="title or counterparty contains")
    ] = None,
    counterparty: Annotated[
        SearchText | None, Query(max_length=200, description="counterparty contains")
    ] = None,
    date_from: Annotated[
        datetime.date | None, Query(description="transaction date on or after")
    ] = None,
    date_to: Annotated[
        datetime.date | None, Query(description="transaction date on or before")
    ] = None,
    amount_min: Annotated[Decimal | None, Query(ge=0, max_digits=18, decimal_places=2)] = None,
    amount_max: Annotated[Decimal | None, Query(ge=0, max_digits=18, decimal_places=2)] = None,
    sort: Annotated[
        Literal["created_at", "transaction_date", "amount", "counterparty", "title"],
        Query(description="what to order by; empty values come last"),
    ] = "created_at",
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
) -> DocumentSearch:
    """The search filters of the list and of the CSV export (all combine with AND)."""
    return DocumentSearch(
        status=status, q=q, counterparty=counterparty, date_from=date_from, date_to=date_to,
        amount_min=amount_min, amount_max=amount_max, sort=sort, descending=order == "desc",
    )  # fmt: skip


Search = Annotated[DocumentSearch, Depends(document_search)]


@router.get("")
def list_documents(
    db: Db,
    sender: ApiSender,
    search: Search,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_LIST_OFFSET)] = 0,
) -> dict[str, Any]:
    """The sender's documents matching every given filter, sorted, one page; `total` counts all."""
    found = search_documents(db, sender.id, search, limit=limit, offset=offset)
    return {
        "documents": [document_view(d) for d in found.documents], "total": found.total,
        "limit": limit, "offset": offset,
    }  # fmt: skip


@router.get(".csv", response_class=StreamingResponse)
def export_documents_csv(
    context: Context, db: Db, sender: ApiSender, search: Search
) -> StreamingResponse:
    """Every matching document as CSV (UTF-8 with BOM, for Excel), in the asked order."""
    spool = tempfile.SpooledTemporaryFile(max_size=UPLOAD_CHUNK)  # noqa: SIM115 - streamed
    try:
        write_csv(db, sender.id, search, spool)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)

    def chunks() -> Any:
        with spool:
            while chunk := spool.read(UPLOAD_CHUNK):
                yield chunk

    filename = csv_filename(context.now().astimezone(JST).date())
    return StreamingResponse(
        chunks(), media_type=CSV_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )  # fmt: skip


@router.get("/{document_id}/pdf")
def document_pdf(
    document_id: str, context: Context, db: Db, sender: ApiSender, who: SenderAudit
) -> StreamingResponse:
    document = service.owned_document(db, sender, document_id)
    revision = revisions.current_revision(db, document)
    record_download(db, who, document.id, revision=revision.number, sha256=revision.sha256)
    db.commit()  # issue 12: the download is on record before a byte is sent
    return pdf_response(context, document, revision.blob_name)


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


# --- issue 10: the sender issues a new access code (after too many wrong ones) -----------


class AccessCodeIn(BaseModel):
    access_code: AccessCodeText = Field(min_length=1)


@router.post("/{document_id}/recipients/{recipient_id}/access-code")
def issue_access_code(
    document_id: str,
    recipient_id: str,
    body: AccessCodeIn,
    context: Context,
    db: Db,
    sender: ApiSender,
    who: SenderAudit,
) -> dict[str, Any]:
    """A new access code for a party: their link opens again (tell them the code yourself)."""
    document = service.owned_document(db, sender, document_id, for_update=True)
    recipient = party_access.issue_access_code(
        context, db, document, recipient_id, body.access_code, who
    )
    db.commit()
    return recipient_view(recipient)
