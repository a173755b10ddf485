"""Pages of a party's My Number Card signing: consent, what is needed, the QR code, its status.

A party who must sign with the card consents to three things (the document, the use of
their signing certificate, the card-signing terms), reads what they need and presses
"Next": a card session starts and its QR code is shown with a countdown, instructions for
each kind of device, and a live status (server-sent events, followed by `static/card.js`).
The session's token is a bearer secret: the POST that starts a session keeps it in an
HttpOnly cookie scoped to `/r/<link>/card` (never in a URL), so a reload shows the same QR
code while it is open. `/b/<token>` is what the QR code's URL shows in a browser.
"""

from __future__ import annotations

import re
from typing import Annotated

import qrcode  # type: ignore[import-untyped]
import qrcode.image.svg  # type: ignore[import-untyped]
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.card_signing import sessions as card_sessions
from webapp.card_signing.feed import event_stream, status_events
from webapp.db.models import AuditEvent, DocumentStatus, Recipient
from webapp.errors import NotFoundError
from webapp.i18n import Language, request_language, text
from webapp.pages import PRIVATE_PAGES, PageDb, context_of, redirect, render
from webapp.rate_limits import limited
from webapp.routers.api_recipients import RecipientWho
from webapp.routers.pages_recipient import PartySession
from webapp.services import recipients
from webapp.services.notify import OPEN_STATUSES
from webapp.web_session import secure_cookies

CARD_COOKIE = "mynasign_card"
CONSENTED = "recipient.card_consented"
CONSENTS = ("document", "certificate", "terms")
BRIDGE_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,128}")
PHONE = re.compile(r"iPhone|iPad|Android")
FEED_TEXTS = (
    "state_created", "state_claimed", "next_password", "next_card", "state_completed",
    "state_rejected", "replaced", "try_again", "reconnecting", "feed_closed",
    "copy_selected", *(f"stage_{stage}" for stage in (
        "waiting_for_password", "waiting_for_card", "card_present", "verifying",
        "reading_certificate", "signing", "sending",
    )),
)  # fmt: skip
"""The `card_page_*` texts the status script shows, handed over as JSON."""


router = APIRouter(
    tags=["pages: My Number Card"], include_in_schema=False,
    dependencies=[*PRIVATE_PAGES],
)  # fmt: skip
Checkbox = Annotated[str, Form()]


def _party(request: Request, db: Session, token: str, session: str) -> Recipient:
    return recipients.recipient_for_session(context_of(request), db, token, session)


def _signing_now(recipient: Recipient) -> bool:
    """Whether the party must sign with the card and it is their turn to."""
    return (
        recipient.require_card
        and recipient.status in OPEN_STATUSES
        and recipient.document.status is DocumentStatus.SENT
    )


def _consented(db: Session, recipient: Recipient) -> bool:
    details = db.scalars(
        select(AuditEvent.detail).where(
            AuditEvent.document_id == recipient.document_id, AuditEvent.action == CONSENTED
        )
    )
    return any(detail.get("recipient_id") == recipient.id for detail in details)


def _is_phone(request: Request) -> bool:
    return bool(PHONE.search(request.headers.get("user-agent", "")))


def _card_cookie_path(token: str) -> str:
    return f"/r/{token}/card"


def _leave(request: Request, token: str, target: str) -> Response:
    """Away from the session page; this browser forgets its ended session's token."""
    response = redirect(request, target)
    if CARD_COOKIE in request.cookies:
        response.delete_cookie(
            CARD_COOKIE, path=_card_cookie_path(token),
            secure=secure_cookies(context_of(request).settings), httponly=True, samesite="strict",
        )  # fmt: skip
    return response


def qr_svg(data: str, label: str) -> Markup:
    """`data` as a QR code in inline SVG (one path, a quiet zone of four modules)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(data)
    attributes = {"class": "qr__code", "role": "img", "aria-label": label}
    image = code.make_image(image_factory=qrcode.image.svg.SvgPathImage, **attributes)
    return Markup(image.to_string(encoding="unicode"))  # noqa: S704 - serialised by ElementTree


def feed_texts(language: Language) -> dict[str, str]:
    texts = {name: text(language, f"card_page_{name}") for name in FEED_TEXTS}
    return texts | {"expired": text(language, "card_session_expired")}


@router.get("/r/{token}/card/consent")
def consent_form(request: Request, token: str, session: PartySession, db: PageDb) -> Response:
    """The three consents, for browsers without the dialog (no JavaScript)."""
    recipient = _party(request, db, token, session)
    if not _signing_now(recipient):
        return redirect(request, f"/r/{token}")
    return render(
        request, "r_card_consent.html", token=token, document=recipient.document, checked=()
    )


@router.post("/r/{token}/card/consent")
def consent(
    request: Request,
    token: str,
    session: PartySession,
    db: PageDb,
    who: RecipientWho,
    consent_document: Checkbox = "",
    consent_certificate: Checkbox = "",
    consent_terms: Checkbox = "",
) -> Response:
    recipient = _party(request, db, token, session)
    if not _signing_now(recipient):
        return redirect(request, f"/r/{token}")
    answers = (consent_document, consent_certificate, consent_terms)
    checked = [name for name, value in zip(CONSENTS, answers, strict=True) if value]
    if len(checked) < len(CONSENTS):
        return render(
            request, "r_card_consent.html", status=400, token=token,
            document=recipient.document, checked=checked,
            error=text(request_language(request), "card_page_consent_required"),
        )  # fmt: skip
    who.event(
        db, CONSENTED, recipient.document_id, recipient_id=recipient.id, consents=list(CONSENTS)
    )
    db.commit()
    return redirect(request, f"/r/{token}/card")


@router.get("/r/{token}/card")
def requirements(request: Request, token: str, session: PartySession, db: PageDb) -> Response:
    """What the party needs; "Next" starts the QR session. The last attempt's fate, if any."""
    recipient = _party(request, db, token, session)
    if not _signing_now(recipient):
        return redirect(request, f"/r/{token}")
    if not _consented(db, recipient):
        return redirect(request, f"/r/{token}/card/consent")
    last = card_sessions.current_status(context_of(request), db, recipient)
    error = last.error if last is not None and last.state in card_sessions.END_STATES else None
    last_error = None
    if error is not None and error.code != "replaced":
        last_error = error.message_ja if request_language(request) == "ja" else error.message_en
    return render(
        request, "r_card_requirements.html", token=token, document=recipient.document,
        last_error=last_error,
    )  # fmt: skip


@router.post("/r/{token}/card/session", dependencies=[limited("card_session")])
def start_session(
    request: Request, token: str, session: PartySession, who: RecipientWho
) -> Response:
    """A new QR session (any older one stops working); its token goes into a cookie."""
    context = context_of(request)
    with context.sessions() as db:
        recipient = _party(request, db, token, session)
        if not _signing_now(recipient):
            return redirect(request, f"/r/{token}")
        if not _consented(db, recipient):
            return redirect(request, f"/r/{token}/card/consent")
        recipient_id = recipient.id
    started = card_sessions.start(context, recipient_id, who)
    response = redirect(request, f"/r/{token}/card/session")
    lifetime = started.expires_at - context.now()
    response.set_cookie(
        CARD_COOKIE, started.token, max_age=max(1, int(lifetime.total_seconds())),
        path=_card_cookie_path(token), secure=secure_cookies(context.settings), httponly=True,
        samesite="strict",
    )  # fmt: skip
    return response


@router.get("/r/{token}/card/session")
def session_page(request: Request, token: str, session: PartySession, db: PageDb) -> Response:
    """The QR code of this browser's open session, else back to where one is started."""
    context = context_of(request)
    card_token = request.cookies.get(CARD_COOKIE)
    # before `db` is used: lookup has a session of its own, and one at a time is the rule
    found = card_sessions.lookup(context, card_token) if card_token else None
    recipient = _party(request, db, token, session)
    if not _signing_now(recipient):
        return _leave(request, token, f"/r/{token}")
    if (
        card_token is None
        or found is None
        or found.recipient_id != recipient.id
        or found.state not in card_sessions.OPEN_STATES
    ):
        return _leave(request, token, f"/r/{token}/card")
    language = request_language(request)
    url = card_sessions.bridge_url(context, card_token)
    remaining = max(0, int((found.expires_at - context.now()).total_seconds()))
    return render(
        request, "r_card_session.html", token=token, document=recipient.document,
        session_id=found.session_id, state=found.state.value, bridge_url=url,
        qr=qr_svg(url, text(language, "card_page_qr_label")), expires_at=found.expires_at,
        remaining=remaining, countdown=f"{remaining // 60:02d}:{remaining % 60:02d}",
        is_phone=_is_phone(request), texts=feed_texts(language),
    )  # fmt: skip


@router.get("/r/{token}/card/events")
def session_events(
    request: Request, token: str, session: PartySession, db: PageDb
) -> StreamingResponse:
    """The party's card status as server-sent events (first the current one)."""
    context = context_of(request)
    recipient = _party(request, db, token, session)
    if not recipient.require_card:
        raise NotFoundError("card_session_not_found")
    recipient_id = recipient.id
    return event_stream(
        status_events(
            context, recipient_id, lambda: card_sessions.status_for(context, recipient_id)
        )
    )


@router.get("/b/{token}")
def bridge_link(request: Request, token: str) -> HTMLResponse:
    """The QR code's URL in a browser: open it with the app (or `jpki-bridge sign`)."""
    context = context_of(request)
    found = card_sessions.lookup(context, token) if BRIDGE_TOKEN.fullmatch(token) else None
    usable = found is not None and found.state in card_sessions.OPEN_STATES
    return render(
        request, "b_phone.html", status=200 if usable else 404, usable=usable,
        bridge_url=card_sessions.bridge_url(context, token) if usable else "",
        is_phone=_is_phone(request),
    )  # fmt: skip
