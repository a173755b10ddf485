"""Pages for a sender's documents: list, upload, recipients, send, detail, cancel, PDF.

The detail page shows the recipients in signing order and the document's audit history.
"""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from webapp.audit import events_for_document
from webapp.db.models import Document, DocumentStatus, User
from webapp.errors import DomainError, NotFoundError
from webapp.i18n import request_language
from webapp.pages import (
    PageAudit,
    PageDb,
    PageSender,
    context_of,
    redirect,
    render,
    require_csrf,
)
from webapp.routers import api_documents
from webapp.services import documents, revisions
from webapp.services.notify import OPEN_STATUSES


def _no_store(request: Request) -> None:
    request.state.no_store = True


router = APIRouter(
    prefix="/documents", tags=["pages: documents"], include_in_schema=False,
    dependencies=[Depends(require_csrf), Depends(_no_store)],
)  # fmt: skip
Text = Annotated[str, Form()]
AMOUNT_MAX = Decimal("9999999999999999.99")
LIST_LIMIT = 200


@router.get("")
def document_list(
    request: Request,
    sender: PageSender,
    db: PageDb,
    q: Annotated[str, Query(max_length=200)] = "",
    status: str = "",
) -> HTMLResponse:
    chosen = DocumentStatus(status) if status in set(DocumentStatus) else None
    found = api_documents.list_documents(
        db, sender, status=chosen, q=q.strip() or None, date_from=None, date_to=None,
        limit=LIST_LIMIT, offset=0,
    )  # fmt: skip
    return render(
        request, "documents.html", documents=found["documents"], q=q, chosen_status=chosen,
        statuses=list(DocumentStatus),
    )  # fmt: skip


@router.get("/new")
def upload_form(request: Request, sender: PageSender) -> HTMLResponse:
    del sender  # the form is for signed-in senders only
    return render(request, "document_new.html", form={})


def _amount(value: str) -> Decimal | None:
    cleaned = value.replace(",", "").replace("，", "").replace("¥", "").replace("円", "").strip()
    if not cleaned:
        return None
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise DomainError("amount_invalid") from None
    if not amount.is_finite() or amount < 0 or amount > AMOUNT_MAX or amount != round(amount, 2):
        raise DomainError("amount_invalid")
    return amount


def _date(value: str) -> datetime.date | None:
    if not value.strip():
        return None
    try:
        return datetime.date.fromisoformat(value.strip())
    except ValueError:
        raise DomainError("date_invalid") from None


@router.post("")
def upload(
    request: Request,
    sender: PageSender,
    who: PageAudit,
    db: PageDb,
    title: Text = "",
    message: Text = "",
    amount: Text = "",
    counterparty: Text = "",
    transaction_date: Text = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    form = {
        "title": title, "message": message, "amount": amount, "counterparty": counterparty,
        "transaction_date": transaction_date,
    }  # fmt: skip
    try:
        fields = documents.DocumentFields(
            title=title[:500], message=message.strip()[:5000] or None, amount=_amount(amount),
            counterparty=counterparty.strip()[:300] or None,
            transaction_date=_date(transaction_date),
        )  # fmt: skip
        if file is None or not file.filename:
            raise DomainError("file_required")
        document = documents.create_document(
            context_of(request), db, sender, file.file, fields=fields, who=who
        )
    except DomainError as error:
        db.rollback()
        return render(
            request, "document_new.html", status=error.status_code, form=form,
            error=error.text(request_language(request)),
        )  # fmt: skip
    db.commit()
    return redirect(request, f"/documents/{document.id}")


def _detail(
    request: Request,
    db: PageDb,
    sender: User,
    document_id: str,
    *,
    status: int = 200,
    error: str | None = None,
    recipient_form: dict[str, Any] | None = None,
) -> HTMLResponse:
    document = documents.owned_document(db, sender, document_id)
    documents.expire_if_due(context_of(request), db, document)
    return render(
        request, "document.html", status=status, error=error, document=document,
        recipients=list(document.recipients), events=events_for_document(db, document.id),
        recipient_form=recipient_form or {}, draft=document.status is DocumentStatus.DRAFT,
        cancellable=document.status in (DocumentStatus.DRAFT, DocumentStatus.SENT),
        sender_can_sign=_sender_can_sign(document),
    )  # fmt: skip


def _refused(
    request: Request, db: PageDb, sender: User, document_id: str, error: DomainError
) -> HTMLResponse:
    """The document page again, with why the action was refused; nothing was changed."""
    db.rollback()
    return _detail(
        request, db, sender, document_id, status=error.status_code,
        error=error.text(request_language(request)),
    )  # fmt: skip


@router.get("/{document_id}")
def detail(request: Request, document_id: str, sender: PageSender, db: PageDb) -> HTMLResponse:
    return _detail(request, db, sender, document_id)


@router.post("/{document_id}/recipients")
def add_recipient(
    request: Request,
    document_id: str,
    sender: PageSender,
    who: PageAudit,
    db: PageDb,
    name: Text = "",
    email: Text = "",
    access_code: Text = "",
    require_card: Text = "",
) -> Response:
    document = documents.owned_document(db, sender, document_id, for_update=True)
    try:
        documents.add_recipient(
            db, document, name=name[:200], email=email[:254], access_code=access_code or None,
            require_card=bool(require_card), who=who,
        )  # fmt: skip
    except DomainError as error:
        db.rollback()
        form = {"name": name, "email": email, "require_card": bool(require_card)}
        return _detail(
            request, db, sender, document_id, status=error.status_code,
            error=error.text(request_language(request)), recipient_form=form,
        )  # fmt: skip
    db.commit()
    return redirect(request, f"/documents/{document_id}#recipients")


@router.post("/{document_id}/send")
async def send(request: Request, document_id: str, sender: PageSender, who: PageAudit) -> Response:
    """Stamp, seal and mail the first party (takes a few seconds: the TSA is asked)."""
    context = context_of(request)
    try:
        await documents.send_document(context, sender, document_id, who)
    except NotFoundError:
        raise
    except DomainError as error:
        with context.sessions() as db:
            return _detail(
                request, db, sender, document_id, status=error.status_code,
                error=error.text(request_language(request)),
            )  # fmt: skip
    with context.sessions() as db:
        document = documents.owned_document(db, sender, document_id)
        if _sender_can_sign(document):  # the sender signs first: straight to their card flow
            url = documents.sender_signing_link(context, db, document, who)
            db.commit()
            return redirect(request, url.removeprefix(context.settings.base_url))
    return redirect(request, f"/documents/{document_id}")


def _sender_can_sign(document: Document) -> bool:
    return document.status is DocumentStatus.SENT and any(
        r.is_sender and r.status in OPEN_STATUSES for r in document.recipients
    )


@router.post("/{document_id}/sender-signature")
def require_sender_signature(
    request: Request, document_id: str, sender: PageSender, who: PageAudit, db: PageDb
) -> Response:
    """The sender will sign first, with their own My Number Card."""
    document = documents.owned_document(db, sender, document_id, for_update=True)
    try:
        documents.add_sender_signature(db, document, who)
    except DomainError as error:
        return _refused(request, db, sender, document_id, error)
    db.commit()
    return redirect(request, f"/documents/{document_id}#recipients")


@router.post("/{document_id}/sign")
def sign_as_sender(
    request: Request, document_id: str, sender: PageSender, who: PageAudit, db: PageDb
) -> Response:
    """A fresh link to the sender's own card signature, and there."""
    document = documents.owned_document(db, sender, document_id, for_update=True)
    url = documents.sender_signing_link(context_of(request), db, document, who)
    db.commit()
    return redirect(request, url.removeprefix(context_of(request).settings.base_url))


@router.get("/{document_id}/cancel")
def cancel_confirm(
    request: Request, document_id: str, sender: PageSender, db: PageDb
) -> HTMLResponse:
    """The confirmation step, for browsers without the dialog (no JavaScript)."""
    document = documents.owned_document(db, sender, document_id)
    return render(
        request, "confirm.html", kind="cancel", action=f"/documents/{document.id}/cancel",
        back=f"/documents/{document.id}", document=document,
    )  # fmt: skip


@router.post("/{document_id}/cancel")
def cancel(
    request: Request, document_id: str, sender: PageSender, who: PageAudit, db: PageDb
) -> Response:
    context = context_of(request)
    try:
        documents.cancel_document(context, db, sender, document_id, who)
    except NotFoundError:
        raise
    except DomainError as error:
        return _refused(request, db, sender, document_id, error)
    db.commit()
    return redirect(request, f"/documents/{document_id}")


@router.get("/{document_id}/pdf")
def pdf(request: Request, document_id: str, sender: PageSender, db: PageDb) -> StreamingResponse:
    """The PDF as it stands (the signed, timestamped one once completed)."""
    document = documents.owned_document(db, sender, document_id)
    blob = revisions.current_revision(db, document).blob_name
    return api_documents.pdf_response(context_of(request), document, blob)
