"""The JSON API's answers as models: the bilingual error, documents, parties, and links.

One module for the sender and the recipient routers, because they answer the same shapes
(a party sees the sender's document view less its revision, plus who sent it and where
they stand). The card session's answers are in `webapp.card_signing.status` and the
verification report in `webapp.verification`: each domain keeps its own. These models are
what `/openapi.json` (and so `/docs`) describes; `tests/webapp/api` checks `docs/api.md`
against them.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from webapp.db.models import ActorKind, Document, DocumentStatus, Recipient, RecipientStatus

# --- errors -------------------------------------------------------------------------------


class FieldProblem(BaseModel):
    """One refused part of a request (422): where, and what is wrong (never the input)."""

    field: str = Field(description="where, e.g. `body.name` or `query.offset`")
    type: str = Field(description="what is wrong, e.g. `string_too_long`")


class ErrorDetail(BaseModel):
    """What `webapp.errors.error_body` answers: a code for programs, text for people."""

    model_config = ConfigDict(extra="allow")  # the message's parameters (`limit_mb`, …)

    code: str = Field(description="stable; accept codes you do not know")
    message: str = Field(description="`<Japanese> / <English>`")
    message_ja: str
    message_en: str
    language: Literal["ja", "en"] = Field(description="the caller's language (`?lang=`)")
    retry_after: int | None = Field(
        default=None, description="seconds until a new try can succeed (429, with `Retry-After`)"
    )
    fields: list[FieldProblem] | None = Field(
        default=None, description="what was refused (422 only)"
    )


class ErrorAnswer(BaseModel):
    """Every refusal of the API: `{"error": {…}}`."""

    error: ErrorDetail


ERROR_MEANINGS = {
    400: "Bad input (the code says which: `pdf_<reason>`, `search_date_range_invalid`, …)",
    401: "No or a wrong token, session or access code (`WWW-Authenticate: Bearer`)",
    403: "Refused for good (`access_code_locked_for_good`)",
    404: "Not found, including another sender's document and malformed IDs",
    409: "Not in a state that allows it (`document_not_draft`, `link_used`, …)",
    410: "The link expired, was cancelled or forwarded",
    413: "The file is larger than `max_upload_bytes`",
    422: "Invalid request (`request_invalid`, `text_invalid_characters`), with `fields`",
    429: "Too many tries (`rate_limited`, `access_code_locked`), with `Retry-After`",
    503: "Try again later (`database_busy`, the timestamp service is down, …), with `Retry-After`",
}
ALWAYS = (422, 503)
"""What any route can answer: a refused request, a database that is busy or away."""


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with the bilingual error model."""
    return {
        status: {"model": ErrorAnswer, "description": ERROR_MEANINGS[status]}
        for status in sorted({*statuses, *ALWAYS})
    }


SENDER_ERRORS = (401, 404)
"""A sender's route: a wrong API token, a document that is not theirs."""
PARTY_ERRORS = (401, 404, 410)
"""A party's route: the link and its session (`open` first), a link that ended."""

# --- documents and parties ----------------------------------------------------------------


class Created(BaseModel):
    """What was made."""

    id: str


class SigningLink(BaseModel):
    """A fresh link to the sender's own card signature."""

    url: str = Field(description="`…/r/<token>`: use it like any party's link")


class DocumentFields(BaseModel):
    """What the sender and the parties both see of a document."""

    id: str
    title: str
    message: str | None
    status: DocumentStatus
    amount: str | None = Field(description="yen, a decimal string with up to 2 decimals")
    counterparty: str | None
    transaction_date: datetime.date | None
    created_at: datetime.datetime
    sent_at: datetime.datetime | None
    completed_at: datetime.datetime | None
    expires_at: datetime.datetime | None
    attach_pdf_to_completion_mail: bool

    @staticmethod
    def fields_of(document: Document) -> dict[str, Any]:
        return {
            "id": document.id, "title": document.title, "message": document.message,
            "status": document.status,
            "amount": str(document.amount) if document.amount is not None else None,
            "counterparty": document.counterparty,
            "transaction_date": document.transaction_date, "created_at": document.created_at,
            "sent_at": document.sent_at, "completed_at": document.completed_at,
            "expires_at": document.expires_at,
            "attach_pdf_to_completion_mail": document.attach_pdf_to_completion_mail,
        }  # fmt: skip


class DocumentView(DocumentFields):
    """A document as its sender sees it."""

    revision: int = Field(description="the number of the current PDF revision")

    @classmethod
    def of(cls, document: Document) -> DocumentView:
        return cls(**cls.fields_of(document), revision=document.current_revision)


class SentDocument(DocumentView):
    """The answer to `send`."""

    sender_signing_url: str | None = Field(
        default=None, description="when the sender signs first: their link (else null)"
    )


class RecipientView(BaseModel):
    """A party of a document, as the sender sees it."""

    id: str
    position: int = Field(description="the order in which parties are asked (0: the sender)")
    name: str
    email: str
    status: RecipientStatus
    require_mynumber_card: bool = Field(description="must sign with a My Number Card")
    access_code: bool = Field(description="the link asks for an access code")
    notified_at: datetime.datetime | None
    opened_at: datetime.datetime | None
    agreed_at: datetime.datetime | None
    rejected_at: datetime.datetime | None
    reject_reason: str | None
    forwarded_to: str | None = Field(description="the recipient ID this party forwarded to")
    forwarded_from: str | None = Field(description="the recipient ID that forwarded to this one")
    card_signer_name: str | None = Field(
        description="the name in the certificate the party signed with, once they have"
    )
    card_signer_name_differs: bool | None = Field(
        description="that name differs from `name` beyond spacing, width, case, middle dot; "
        "null until the party signed with a card"
    )
    is_sender: bool = Field(description="the sender, signing first with their own card")

    @classmethod
    def of(cls, recipient: Recipient) -> RecipientView:
        return cls(
            id=recipient.id, position=recipient.position, name=recipient.name,
            email=recipient.email, status=recipient.status,
            require_mynumber_card=recipient.require_card,
            access_code=recipient.access_code_hash is not None,
            notified_at=recipient.notified_at, opened_at=recipient.opened_at,
            agreed_at=recipient.agreed_at, rejected_at=recipient.rejected_at,
            reject_reason=recipient.reject_reason, forwarded_to=recipient.forwarded_to_id,
            forwarded_from=recipient.forwarded_from_id,
            card_signer_name=recipient.card_signer_name,
            card_signer_name_differs=recipient.signer_name_mismatch,
            is_sender=recipient.is_sender,
        )  # fmt: skip


class EventView(BaseModel):
    """One event of the document's audit log."""

    seq: int
    at: datetime.datetime
    action: str = Field(description="e.g. `recipient.agreed`, `recipient.card_signed`")
    actor_kind: ActorKind
    detail: dict[str, Any]


class DocumentDetail(DocumentView):
    """A document with its parties and its audit events."""

    recipients: list[RecipientView]
    events: list[EventView]


class DocumentList(BaseModel):
    """One page of the sender's matching documents."""

    documents: list[DocumentView]
    total: int = Field(description="how many match in all")
    limit: int
    offset: int


class PartyStanding(BaseModel):
    """Where the party holding the link stands."""

    name: str
    status: RecipientStatus
    require_mynumber_card: bool


class PartyDocument(DocumentFields):
    """A document as a party sees it."""

    sender: str = Field(description="the sender's display name")
    you: PartyStanding

    @classmethod
    def of(cls, recipient: Recipient) -> PartyDocument:
        document = recipient.document
        you = PartyStanding(
            name=recipient.name, status=recipient.status,
            require_mynumber_card=recipient.require_card,
        )  # fmt: skip
        return cls(**cls.fields_of(document), sender=document.owner.display_name, you=you)


class OpenedLink(BaseModel):
    """An opened link: the session for the other calls, and the document."""

    session_token: str = Field(description="send it as `Authorization: Bearer <session_token>`")
    document: PartyDocument


class Forwarded(BaseModel):
    """Where the party's turn went."""

    forwarded_to: str = Field(description="the address the request was forwarded to")
