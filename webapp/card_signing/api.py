"""JSON API of a party's My Number Card signing: start a QR session, follow its status.

The card signature is the party's agreement: no `agree` call follows it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from webapp.api_models import PARTY_ERRORS, error_responses
from webapp.card_signing import sessions as card_sessions
from webapp.card_signing.feed import MEDIA_TYPE, event_stream, status_events
from webapp.card_signing.status import CardSessionStatus, StartedCardSession
from webapp.deps import BearerToken, Context, Db
from webapp.errors import NotFoundError
from webapp.rate_limits import limited
from webapp.routers.api_recipients import RecipientWho
from webapp.services import recipients as party

router = APIRouter(
    prefix="/api/v1/r", tags=["recipients: My Number Card"],
    responses=error_responses(*PARTY_ERRORS),
)  # fmt: skip
EVENTS_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`retry: 2000`, then one `CardSessionStatus` as JSON per `data:` line",
        "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
    }
}


@router.post(
    "/{token}/card-session", status_code=201, dependencies=[limited("card_session")],
    response_model=StartedCardSession, responses=error_responses(409, 429),
)  # fmt: skip
def start_card_session(
    token: str, session: BearerToken, context: Context, actor: RecipientWho
) -> StartedCardSession:
    """A new 10-minute QR session (`bridge_url` goes into the QR code); older ones stop."""
    with context.sessions() as db:
        recipient_id = party.recipient_for_session(context, db, token, session).id
    started = card_sessions.start(context, recipient_id, actor)
    return StartedCardSession(
        session_id=started.session_id, bridge_url=started.bridge_url,
        expires_at=started.expires_at,
    )  # fmt: skip


@router.get("/{token}/card-session", response_model=CardSessionStatus)
def card_session_status(
    token: str, session: BearerToken, context: Context, db: Db
) -> CardSessionStatus:
    """The newest session's status: state, the bridge's stage, tries left, error, done."""
    recipient = party.recipient_for_session(context, db, token, session)
    status = card_sessions.current_status(context, db, recipient)
    if status is None:
        raise NotFoundError("card_session_not_found")
    return status


@router.get(
    "/{token}/card-session/events", response_class=StreamingResponse, responses=EVENTS_ANSWER
)
def card_session_events(token: str, session: BearerToken, context: Context) -> StreamingResponse:
    """The same status as server-sent events, each change as it happens.

    No database session stays open while the stream runs (SQLite would stay locked).
    """
    with context.sessions() as db:
        recipient_id = party.recipient_for_session(context, db, token, session).id
    return event_stream(
        status_events(
            context, recipient_id, lambda: card_sessions.status_for(context, recipient_id)
        )
    )
