"""Downloading a finished document's agreement certificate (締結証明書): sender API, pages, parties.

    GET /api/v1/documents/{id}/certificate   the sender, with an API token
    GET /documents/{id}/certificate          the sender's page (signed in)
    GET /r/{token}/certificate               a party, with the session of their opened link

Each download is recorded in the audit chain (who, IP address, user agent) and committed
before the file is sent. Until the document is complete: 404 `certificate_not_ready`.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from webapp.api_models import SENDER_ERRORS, error_responses
from webapp.audit.access import record_certificate_download
from webapp.audit.actor import Audit
from webapp.certificate import issued_certificate
from webapp.db.models import Document
from webapp.deps import ApiSender, Context, Db, SenderAudit
from webapp.errors import UnauthorizedError
from webapp.pages import PageAudit, PageDb, PageSender, context_of
from webapp.routers.api_recipients import RecipientWho
from webapp.services import documents, recipients, revisions
from webapp.services.context import ServiceContext
from webapp.web_session import RECIPIENT_COOKIE

router = APIRouter(tags=["agreement certificate"])
CHUNK = 1024 * 1024


def _certificate_download(
    context: ServiceContext,
    db: Session,
    document: Document,
    who: Audit,
    recipient_id: str | None = None,
) -> StreamingResponse:
    certificate = issued_certificate(db, document)
    assert certificate.blob_name is not None  # noqa: S101 - issued_certificate checks
    reader = context.files.open_read(revisions.data_key(context, document), certificate.blob_name)
    try:
        record_certificate_download(
            db, who, document.id, certificate_id=certificate.id, sha256=certificate.sha256,
            recipient_id=recipient_id,
        )  # fmt: skip
        db.commit()  # on record before a byte is sent
    except BaseException:
        reader.close()
        raise

    def chunks() -> Iterator[bytes]:
        with reader:
            while chunk := reader.read(CHUNK):
                yield chunk

    return StreamingResponse(
        chunks(), media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="certificate-{certificate.id}.pdf"',
            "Cache-Control": "no-store",
        },
    )  # fmt: skip


@router.get(
    "/api/v1/documents/{document_id}/certificate",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "the certificate (PDF)"},
        **error_responses(*SENDER_ERRORS),
    },
)
def api_certificate(
    document_id: str, context: Context, db: Db, sender: ApiSender, who: SenderAudit
) -> StreamingResponse:
    """The agreement certificate of a completed document (PDF, sealed and timestamped)."""
    document = documents.owned_document(db, sender, document_id)
    return _certificate_download(context, db, document, who)


@router.get("/documents/{document_id}/certificate", include_in_schema=False)
def sender_page_certificate(
    request: Request, document_id: str, sender: PageSender, who: PageAudit, db: PageDb
) -> StreamingResponse:
    document = documents.owned_document(db, sender, document_id)
    return _certificate_download(context_of(request), db, document, who)


@router.get("/r/{token}/certificate", include_in_schema=False)
def party_certificate(request: Request, token: str, db: PageDb, who: RecipientWho) -> Response:
    """A party's download; without an opened session, the link's page (terms first)."""
    context = context_of(request)
    session = request.cookies.get(RECIPIENT_COOKIE)
    if not session:
        return RedirectResponse(f"/r/{token}", status_code=303)
    try:
        recipient = recipients.recipient_for_session(context, db, token, session)
    except UnauthorizedError:
        return RedirectResponse(f"/r/{token}", status_code=303)
    return _certificate_download(context, db, recipient.document, who, recipient.id)
