"""JSON API for recipients (no account): the steps the pages take, for a phone app too."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from webapp.api_models import (
    PARTY_ERRORS,
    Forwarded,
    OpenedLink,
    PartyDocument,
    error_responses,
)
from webapp.audit.access import record_download
from webapp.audit.actor import Audit
from webapp.db.models import ActorKind, Recipient
from webapp.deps import BearerToken, Context, Db, client
from webapp.rate_limits import limited
from webapp.routers.api_documents import PDF_ANSWER, pdf_response
from webapp.security import token_hash
from webapp.services import recipients as service
from webapp.services import revisions
from webapp.text_input import AccessCodeText, MultiLineText, SingleLineText

router = APIRouter(
    prefix="/api/v1/r", tags=["recipients"], responses=error_responses(*PARTY_ERRORS)
)


class OpenIn(BaseModel):
    accept_terms: bool
    access_code: AccessCodeText | None = None


class RejectIn(BaseModel):
    reason: MultiLineText = Field(min_length=1, max_length=2000)


class ForwardIn(BaseModel):
    name: SingleLineText = Field(min_length=1, max_length=200)
    email: SingleLineText = Field(min_length=3, max_length=254)
    message: MultiLineText | None = Field(default=None, max_length=2000)


def who(request: Request, token: str) -> Audit:
    """Recipient actions are recorded by the link's hash prefix (never the token itself)."""
    ip, agent = client(request)
    return Audit(ActorKind.RECIPIENT, f"link:{token_hash(token)[:16]}", ip, agent)


RecipientWho = Annotated[Audit, Depends(who)]


@router.post(
    "/{token}/open",
    dependencies=[
        limited("recipient_open", record_refused=True),
        limited("access_code", per_link=True, record_refused=True),
    ],
    response_model=OpenedLink,
    responses=error_responses(400, 403, 409, 429),
)
def open_link(
    token: str, body: OpenIn, context: Context, db: Db, actor: RecipientWho
) -> OpenedLink:
    opened = service.open_link(
        context, db, token, accept_terms=body.accept_terms, access_code=body.access_code, who=actor
    )
    return OpenedLink(
        session_token=opened.session_token, document=PartyDocument.of(opened.recipient)
    )


@router.get("/{token}/pdf", response_class=StreamingResponse, responses=PDF_ANSWER)
def recipient_pdf(
    token: str, session: BearerToken, context: Context, db: Db, actor: RecipientWho
) -> StreamingResponse:
    recipient = service.recipient_for_session(context, db, token, session)
    document = recipient.document
    revision = revisions.current_revision(db, document)
    record_download(
        db, actor, document.id, revision=revision.number, sha256=revision.sha256,
        recipient_id=recipient.id,
    )  # fmt: skip
    db.commit()  # issue 12: the download is on record before a byte is sent
    return pdf_response(context, document, revision.blob_name)


@router.post("/{token}/agree", response_model=PartyDocument, responses=error_responses(409))
def agree(token: str, session: BearerToken, context: Context, actor: RecipientWho) -> PartyDocument:
    recipient = service.agree(context, token, session, actor)
    with context.sessions() as db:  # reloaded: completion may have changed the document
        return PartyDocument.of(db.get_one(Recipient, recipient.id))


@router.post("/{token}/reject", response_model=PartyDocument, responses=error_responses(400, 409))
def reject(
    token: str, body: RejectIn, session: BearerToken, context: Context, db: Db, actor: RecipientWho
) -> PartyDocument:
    recipient = service.recipient_for_session(context, db, token, session)
    service.reject(context, db, recipient, body.reason, actor)
    db.commit()
    context.wake_mail()
    return PartyDocument.of(recipient)


@router.post("/{token}/forward", response_model=Forwarded, responses=error_responses(400, 409))
def forward(
    token: str, body: ForwardIn, session: BearerToken, context: Context, db: Db, actor: RecipientWho
) -> Forwarded:
    recipient = service.recipient_for_session(context, db, token, session)
    service.forward(
        context, db, recipient, name=body.name, email=body.email, message=body.message, who=actor
    )
    db.commit()
    context.wake_mail()
    return Forwarded(forwarded_to=body.email)
