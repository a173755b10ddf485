"""JSON API for senders: upload, recipients, send, cancel, status, list, PDF."""

from __future__ import annotations

import datetime
import tempfile
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from webapp.api_models import (
    SENDER_ERRORS,
    Created,
    DocumentDetail,
    DocumentList,
    DocumentView,
    EventView,
    RecipientView,
    SentDocument,
    SigningLink,
    error_responses,
)
from webapp.audit import events_for_document
from webapp.audit.access import record_download
from webapp.db.models import Document, DocumentStatus, RecipientStatus
from webapp.deps import ApiReader, ApiSender, Context, Db, ReadDb, SenderAudit
from webapp.search import DocumentSearch, csv_filename, search_documents
from webapp.search.export import CSV_MEDIA_TYPE, JST, write_csv
from webapp.services import documents as service
from webapp.services import recipients as party_access
from webapp.services import revisions
from webapp.text_input import AccessCodeText, MultiLineText, SearchText, SingleLineText

router = APIRouter(
    prefix="/api/v1/documents", tags=["documents (senders)"],
    responses=error_responses(*SENDER_ERRORS),
)  # fmt: skip
UPLOAD_CHUNK = 1024 * 1024
MAX_LIST_OFFSET = 1_000_000_000  # issue 10: an offset past 2**63 reached the database
PDF_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "the PDF"}
}


class RecipientIn(BaseModel):
    name: SingleLineText = Field(min_length=1, max_length=200)
    email: SingleLineText = Field(min_length=3, max_length=254)
    access_code: AccessCodeText | None = None
    require_mynumber_card: bool = False


@router.post("", status_code=201, response_model=Created, responses=error_responses(400))
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


@router.post(
    "/{document_id}/recipients", status_code=201, response_model=Created,
    responses=error_responses(400, 409),
)  # fmt: skip
def add_recipient(
    document_id: str, body: RecipientIn, db: Db, sender: ApiSender, who: SenderAudit
) -> Created:
    document = service.owned_document(db, sender, document_id, for_update=True)
    recipient = service.add_recipient(
        db, document, name=body.name, email=body.email, access_code=body.access_code,
        require_card=body.require_mynumber_card, who=who,
    )  # fmt: skip
    return Created(id=recipient.id)


@router.post(
    "/{document_id}/sender-signature", status_code=201, response_model=Created,
    responses=error_responses(409),
)  # fmt: skip
def require_sender_signature(
    document_id: str, db: Db, sender: ApiSender, who: SenderAudit
) -> Created:
    """The sender signs first, with their own My Number Card (before anyone is told)."""
    document = service.owned_document(db, sender, document_id, for_update=True)
    return Created(id=service.add_sender_signature(db, document, who).id)


@router.post(
    "/{document_id}/sender-signing-link", response_model=SigningLink,
    responses=error_responses(409),
)  # fmt: skip
def sender_signing_link(
    document_id: str, context: Context, db: Db, sender: ApiSender, who: SenderAudit
) -> SigningLink:
    """A fresh link to the sender's own card-signing flow (the recipient API works with it)."""
    document = service.owned_document(db, sender, document_id, for_update=True)
    url = service.sender_signing_link(context, db, document, who)
    db.commit()
    return SigningLink(url=url)


@router.post(
    "/{document_id}/send", response_model=SentDocument, responses=error_responses(400, 409)
)
def send_document(
    document_id: str, context: Context, sender: ApiSender, who: SenderAudit
) -> SentDocument:
    """Stamp, seal and tell the first party; when the sender signs first, their link."""
    document = service.send_document(context, sender, document_id, who)
    view = DocumentView.of(document)
    signing_url = None
    with context.sessions() as db:
        document = service.owned_document(db, sender, document_id)
        if any(r.is_sender and r.status is RecipientStatus.NOTIFIED for r in document.recipients):
            signing_url = service.sender_signing_link(context, db, document, who)
            db.commit()
    return SentDocument(**dict(view), sender_signing_url=signing_url)


@router.post("/{document_id}/cancel", response_model=DocumentView, responses=error_responses(409))
def cancel_document(
    document_id: str, context: Context, db: Db, sender: ApiSender, who: SenderAudit
) -> DocumentView:
    return DocumentView.of(service.cancel_document(context, db, sender, document_id, who))


@router.get("/{document_id}", response_model=DocumentDetail)
def get_document(document_id: str, context: Context, db: Db, sender: ApiSender) -> DocumentDetail:
    document = service.owned_document(db, sender, document_id)
    service.expire_if_due(context, db, document)
    events = [
        EventView(seq=e.seq, at=e.occurred_at, action=e.action, actor_kind=e.actor_kind,
                  detail=e.detail)
        for e in events_for_document(db, document.id)
    ]  # fmt: skip
    return DocumentDetail(
        **dict(DocumentView.of(document)),
        recipients=[RecipientView.of(r) for r in document.recipients], events=events,
    )  # fmt: skip


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


@router.get("", response_model=DocumentList, responses=error_responses(400))
def list_documents(
    db: ReadDb,
    sender: ApiReader,
    search: Search,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_LIST_OFFSET)] = 0,
) -> DocumentList:
    """The sender's documents matching every given filter, sorted, one page; `total` counts all."""
    found = search_documents(db, sender.id, search, limit=limit, offset=offset)
    return DocumentList(
        documents=[DocumentView.of(d) for d in found.documents], total=found.total,
        limit=limit, offset=offset,
    )  # fmt: skip


@router.get(
    ".csv", response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "every match (UTF-8 with BOM)"},
        **error_responses(400),
    },
)  # fmt: skip
def export_documents_csv(
    context: Context, db: ReadDb, sender: ApiReader, search: Search
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


@router.get("/{document_id}/pdf", response_class=StreamingResponse, responses=PDF_ANSWER)
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


@router.post(
    "/{document_id}/recipients/{recipient_id}/access-code", response_model=RecipientView,
    responses=error_responses(400, 409),
)  # fmt: skip
def issue_access_code(
    document_id: str,
    recipient_id: str,
    body: AccessCodeIn,
    context: Context,
    db: Db,
    sender: ApiSender,
    who: SenderAudit,
) -> RecipientView:
    """A new access code for a party: their link opens again (tell them the code yourself)."""
    document = service.owned_document(db, sender, document_id, for_update=True)
    recipient = party_access.issue_access_code(
        context, db, document, recipient_id, body.access_code, who
    )
    db.commit()
    return RecipientView.of(recipient)
