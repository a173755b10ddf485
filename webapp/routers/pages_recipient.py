"""Pages for a recipient (no account) at `/r/<token>`: open, read, agree, reject, forward.

Opening takes the terms and the access code (if set) and keeps the session in a cookie
scoped to the link. Agreeing is confirmed in a dialog, or on a page without JavaScript.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy.orm import Session, object_session

from webapp.audit.access import record_download, record_page_images_view, record_view
from webapp.db.models import Document, DocumentStatus, Recipient
from webapp.errors import DomainError, GoneError, NotFoundError, UnauthorizedError
from webapp.i18n import request_language
from webapp.page_images import document_outline, page_png
from webapp.pages import PRIVATE_PAGES, PageDb, context_of, redirect, render
from webapp.rate_limits import limited
from webapp.routers.api_documents import pdf_response
from webapp.routers.api_recipients import RecipientWho
from webapp.services import recipients, revisions
from webapp.services.notify import OPEN_STATUSES
from webapp.text_input import clean_text
from webapp.web_session import RECIPIENT_COOKIE, set_recipient_cookie

router = APIRouter(
    prefix="/r", tags=["pages: recipients"], include_in_schema=False,
    dependencies=[*PRIVATE_PAGES],
)  # fmt: skip
Text = Annotated[str, Form()]


def party_session(request: Request) -> str:
    """The session token this link's cookie holds (set when the link was opened)."""
    token = request.cookies.get(RECIPIENT_COOKIE)
    if not token:
        raise UnauthorizedError("session_expired")
    return token


PartySession = Annotated[str, Depends(party_session)]


def _is_form_error(error: DomainError) -> bool:
    """Errors told on the form itself; link states and missing things get their own page."""
    return not isinstance(error, NotFoundError | GoneError)


def _open_page(
    request: Request, recipient: Recipient, token: str, *, status: int = 200, error: str | None
) -> HTMLResponse:
    return render(
        request, "r_open.html", status=status, error=error, token=token,
        document=recipient.document, recipient=recipient,
    )  # fmt: skip


def _document_page(request: Request, recipient: Recipient, token: str) -> HTMLResponse:
    document = recipient.document
    can_act = recipient.status in OPEN_STATUSES and document.status is DocumentStatus.SENT
    db = object_session(recipient)  # issue 12: the pages as images, and the attachments
    pages = document_outline(context_of(request), db, document) if db is not None else None
    return render(
        request, "r_document.html", token=token, document=document, recipient=recipient,
        can_act=can_act, completed=document.status is DocumentStatus.COMPLETED, pages=pages,
    )  # fmt: skip


@router.get("/{token}", dependencies=[limited("recipient_open")])
def link(request: Request, token: str, db: PageDb, who: RecipientWho) -> HTMLResponse:
    """The document when this browser opened the link already, else the terms."""
    context = context_of(request)
    recipient = recipients.recipient_for_link(context, db, token)
    session = request.cookies.get(RECIPIENT_COOKIE)
    if session:
        try:
            recipient = recipients.recipient_for_session(context, db, token, session)
        except UnauthorizedError as error:
            message = error.text(request_language(request))
            return _open_page(request, recipient, token, error=message)
        record_view(db, who, recipient.document_id, recipient_id=recipient.id)  # issue 12
        return _document_page(request, recipient, token)
    return _open_page(request, recipient, token, error=None)


@router.post(
    "/{token}/open",
    dependencies=[
        limited("recipient_open", record_refused=True),
        limited("access_code", per_link=True, record_refused=True),
    ],
)
def open_link(
    request: Request,
    token: str,
    db: PageDb,
    who: RecipientWho,
    accept_terms: Text = "",
    access_code: Text = "",
) -> Response:
    context = context_of(request)
    try:
        opened = recipients.open_link(
            context, db, token, accept_terms=bool(accept_terms),
            access_code=clean_text(access_code, "access_code")[:64], who=who,
        )  # fmt: skip
    except DomainError as error:
        if not _is_form_error(error):
            raise
        db.rollback()
        recipient = recipients.recipient_for_link(context, db, token)
        message = error.text(request_language(request))
        return _open_page(request, recipient, token, status=error.status_code, error=message)
    db.commit()
    response = redirect(request, f"/r/{token}")
    set_recipient_cookie(response, context.settings, token, opened.session_token)
    return response


def _party(request: Request, db: Session, token: str, session: str) -> Recipient:
    return recipients.recipient_for_session(context_of(request), db, token, session)


@router.get("/{token}/pdf")
def pdf(
    request: Request, token: str, session: PartySession, db: PageDb, who: RecipientWho
) -> StreamingResponse:
    recipient = _party(request, db, token, session)
    document = recipient.document
    revision = revisions.current_revision(db, document)
    record_download(
        db, who, document.id, revision=revision.number, sha256=revision.sha256,
        recipient_id=recipient.id,
    )  # fmt: skip
    db.commit()  # issue 12: the download is on record before a byte is sent
    return pdf_response(context_of(request), document, revision.blob_name)


@router.get("/{token}/page/{number}")
def page_image(
    request: Request, token: str, number: int, session: PartySession, db: PageDb,
    who: RecipientWho,
) -> Response:  # fmt: skip
    """One page of the document as a PNG (issue 12: readable on a phone); this party only.
    The viewing is on record (once, not per page) before a byte is sent."""
    context = context_of(request)
    recipient = _party(request, db, token, session)
    document = recipient.document
    revision = revisions.current_revision(db, document)
    db.commit()  # (SQLite) the writer's turn is not held while a page is decrypted and drawn
    with context.reading() as reading:
        png = page_png(context, reading, reading.get_one(Document, document.id), number)
    record_page_images_view(
        db, who, document.id, recipient_id=recipient.id, revision=revision.number,
        sha256=revision.sha256,
    )  # fmt: skip
    db.commit()
    return Response(png, media_type="image/png")


@router.get("/{token}/agree")
def agree_confirm(request: Request, token: str, session: PartySession, db: PageDb) -> Response:
    """The confirmation step, for browsers without the dialog (no JavaScript)."""
    recipient = _party(request, db, token, session)
    if recipient.status not in OPEN_STATUSES:
        return redirect(request, f"/r/{token}")
    if recipient.require_card:  # the card signature is the agreement: webapp.card_signing.pages
        return redirect(request, f"/r/{token}/card/consent")
    return render(
        request, "confirm.html", kind="agree", action=f"/r/{token}/agree", back=f"/r/{token}",
        document=recipient.document, recipient=recipient,
    )  # fmt: skip


@router.post("/{token}/agree")
def agree(request: Request, token: str, session: PartySession, who: RecipientWho) -> HTMLResponse:
    """Sealed by the platform (a few seconds); a card signer is told the card is needed.

    Answered with a page rather than a redirect: the last agreement completes the
    document, and completion mails every party a fresh link in place of this one.
    """
    context = context_of(request)
    agreed = recipients.agree(context, token, session, who)
    with context.sessions() as db:  # reloaded: completion may have changed the document
        recipient = db.get_one(Recipient, agreed.id)
        return render(
            request, "r_agreed.html", document=recipient.document, recipient=recipient,
            completed=recipient.document.status is DocumentStatus.COMPLETED,
        )  # fmt: skip


@router.get("/{token}/reject")
def reject_form(request: Request, token: str, session: PartySession, db: PageDb) -> HTMLResponse:
    recipient = _party(request, db, token, session)
    return render(request, "r_reject.html", token=token, document=recipient.document, reason="")


@router.post("/{token}/reject")
def reject(
    request: Request,
    token: str,
    session: PartySession,
    db: PageDb,
    who: RecipientWho,
    reason: Text = "",
) -> Response:
    recipient = _party(request, db, token, session)
    try:
        recipients.reject(
            context_of(request), db, recipient, clean_text(reason, "reason", multi_line=True), who
        )
    except DomainError as error:
        if not _is_form_error(error):
            raise
        db.rollback()
        return render(
            request, "r_reject.html", status=error.status_code, token=token,
            document=recipient.document, reason=reason,
            error=error.text(request_language(request)),
        )  # fmt: skip
    db.commit()
    context_of(request).wake_mail()
    return redirect(request, f"/r/{token}")


@router.get("/{token}/forward")
def forward_form(request: Request, token: str, session: PartySession, db: PageDb) -> HTMLResponse:
    recipient = _party(request, db, token, session)
    return render(
        request, "r_forward.html", token=token, document=recipient.document,
        recipient=recipient, form={},
    )  # fmt: skip


@router.post("/{token}/forward")
def forward(
    request: Request,
    token: str,
    session: PartySession,
    db: PageDb,
    who: RecipientWho,
    name: Text = "",
    email: Text = "",
    message: Text = "",
) -> HTMLResponse:
    context = context_of(request)
    recipient = _party(request, db, token, session)
    try:
        successor = recipients.forward(
            context, db, recipient, name=clean_text(name, "name")[:200],
            email=clean_text(email, "email")[:254],
            message=clean_text(message, "message", multi_line=True).strip() or None, who=who,
        )  # fmt: skip
    except DomainError as error:
        if not _is_form_error(error):
            raise
        db.rollback()
        return render(
            request, "r_forward.html", status=error.status_code, token=token,
            document=recipient.document, recipient=recipient,
            form={"name": name, "email": email, "message": message},
            error=error.text(request_language(request)),
        )  # fmt: skip
    db.commit()
    context.wake_mail()
    return render(
        request, "r_forwarded.html", document=recipient.document, name=successor.name,
        email=successor.email, require_card=successor.require_card,
    )  # fmt: skip
