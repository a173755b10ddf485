"""Pages for a sender's documents: list, upload, recipients, send, detail, cancel, PDF.

The detail page shows the recipients in signing order and the document's audit history.
"""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from webapp.audit.access import record_download, record_view
from webapp.audit.history import document_history
from webapp.db.models import Document, DocumentStatus, User
from webapp.errors import DomainError, NotFoundError
from webapp.i18n import request_language
from webapp.pages import (
    PRIVATE_PAGES,
    PageAudit,
    PageDb,
    PageSender,
    context_of,
    redirect,
    render,
)
from webapp.routers import api_documents
from webapp.search import SORT_KEYS, DocumentSearch, search_documents
from webapp.services import documents, recipients, revisions
from webapp.services.notify import OPEN_STATUSES
from webapp.text_input import clean_text

router = APIRouter(
    prefix="/documents", tags=["pages: documents"], include_in_schema=False,
    dependencies=[*PRIVATE_PAGES],
)  # fmt: skip
Text = Annotated[str, Form()]
AMOUNT_MAX = Decimal("9999999999999999.99")
LIST_LIMIT = 50
LIST_MAX_PAGE = 100_000


# --- issue 12: the search (電子帳簿保存法: date and amount ranges, counterparty) -----------
SearchField = Annotated[str, Query(max_length=200)]


def _page_search(
    q: str, counterparty: str, status: str, date_from: str, date_to: str,
    amount_min: str, amount_max: str, sort: str, order: str,
) -> DocumentSearch:  # fmt: skip
    """The list form's fields as a search; `DomainError` names the first wrong one."""
    return DocumentSearch(
        status=DocumentStatus(status) if status in set(DocumentStatus) else None,
        q=clean_text(q, "q"), counterparty=clean_text(counterparty, "counterparty"),
        date_from=_date(date_from), date_to=_date(date_to),
        amount_min=_amount(amount_min), amount_max=_amount(amount_max),
        sort=sort if sort in SORT_KEYS else "created_at", descending=order != "asc",
    )  # fmt: skip


def list_form(
    q: SearchField = "",
    counterparty: SearchField = "",
    status: SearchField = "",
    date_from: SearchField = "",
    date_to: SearchField = "",
    amount_min: SearchField = "",
    amount_max: SearchField = "",
    sort: SearchField = "created_at",
    order: SearchField = "desc",
) -> dict[str, str]:
    """The list's search form as typed (the page shows it back; the search checks it)."""
    return {
        "q": q, "counterparty": counterparty, "status": status, "date_from": date_from,
        "date_to": date_to, "amount_min": amount_min, "amount_max": amount_max, "sort": sort,
        "order": order,
    }  # fmt: skip


ListForm = Annotated[dict[str, str], Depends(list_form)]


@router.get("")
def document_list(
    request: Request,
    sender: PageSender,
    db: PageDb,
    form: ListForm,
    page: Annotated[int, Query(ge=1, le=LIST_MAX_PAGE)] = 1,
) -> HTMLResponse:
    query = urlencode({k: v for k, v in form.items() if v})
    values: dict[str, Any] = {
        "form": form, "query": query, "statuses": list(DocumentStatus), "sort_keys": SORT_KEYS,
        "documents": [], "found": None, "filtered": False, "error": None,
    }  # fmt: skip
    try:
        search = _page_search(**form)
    except DomainError as error:
        values["error"] = error.text(request_language(request))
        return render(request, "documents.html", status=error.status_code, **values)
    offset = (page - 1) * LIST_LIMIT
    found = search_documents(db, sender.id, search, limit=LIST_LIMIT, offset=offset)
    values.update(documents=found.documents, found=found, filtered=search.filtered, page=page)
    return render(request, "documents.html", **values)


@router.get(".csv")
def document_list_csv(
    request: Request, sender: PageSender, db: PageDb, form: ListForm
) -> StreamingResponse:
    """The list's whole result as CSV, the same file as `GET /api/v1/documents.csv`."""
    search = _page_search(**form)
    return api_documents.export_documents_csv(context_of(request), db, sender, search)


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
            title=clean_text(title, "title")[:500],
            message=clean_text(message, "message", multi_line=True).strip()[:5000] or None,
            amount=_amount(amount),
            counterparty=clean_text(counterparty, "counterparty").strip()[:300] or None,
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
        recipients=list(document.recipients),
        history=document_history(db, document, request_language(request)),
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
def detail(
    request: Request, document_id: str, sender: PageSender, who: PageAudit, db: PageDb
) -> HTMLResponse:
    page = _detail(request, db, sender, document_id)
    record_view(db, who, document_id)  # issue 12: every view on record
    return page


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
            db, document, name=clean_text(name, "name")[:200],
            email=clean_text(email, "email")[:254],
            access_code=clean_text(access_code, "access_code") or None,
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


@router.post("/{document_id}/recipients/{recipient_id}/access-code")
def issue_access_code(
    request: Request,
    document_id: str,
    recipient_id: str,
    sender: PageSender,
    who: PageAudit,
    db: PageDb,
    access_code: Text = "",
) -> Response:
    """Issue 10: a new access code for a party whose link is locked; it opens again."""
    document = documents.owned_document(db, sender, document_id, for_update=True)
    try:
        code = clean_text(access_code, "access_code")
        recipients.issue_access_code(context_of(request), db, document, recipient_id, code, who)
    except NotFoundError:
        raise
    except DomainError as error:
        return _refused(request, db, sender, document_id, error)
    db.commit()
    return redirect(request, f"/documents/{document_id}#recipients")


@router.post("/{document_id}/send")
def send(request: Request, document_id: str, sender: PageSender, who: PageAudit) -> Response:
    """Stamp, seal and mail the first party (takes a few seconds: the TSA is asked)."""
    context = context_of(request)
    try:
        documents.send_document(context, sender, document_id, who)
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
def pdf(
    request: Request, document_id: str, sender: PageSender, who: PageAudit, db: PageDb
) -> StreamingResponse:
    """The PDF as it stands (the signed, timestamped one once completed)."""
    document = documents.owned_document(db, sender, document_id)
    revision = revisions.current_revision(db, document)
    record_download(db, who, document.id, revision=revision.number, sha256=revision.sha256)
    db.commit()  # issue 12: the download is on record before a byte is sent
    return api_documents.pdf_response(context_of(request), document, revision.blob_name)
