"""JSON API of a party's My Number Card signing: start a QR session, follow its status.

The card signature is the party's agreement: no `agree` call follows it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from webapp.card_feed import event_stream, status_events
from webapp.deps import BearerToken, Context, Db
from webapp.errors import NotFoundError
from webapp.rate_limits import limited
from webapp.routers.api_recipients import RecipientWho
from webapp.services import card_sessions
from webapp.services import recipients as party

router = APIRouter(prefix="/api/v1/r", tags=["recipients: My Number Card"])


@router.post("/{token}/card-session", status_code=201, dependencies=[limited("card_session")])
def start_card_session(
    token: str, session: BearerToken, context: Context, actor: RecipientWho
) -> dict[str, Any]:
    """A new 10-minute QR session (`bridge_url` goes into the QR code); older ones stop."""
    with context.sessions() as db:
        recipient_id = party.recipient_for_session(context, db, token, session).id
    started = card_sessions.start(context, recipient_id, actor)
    return {
        "session_id": started.session_id,
        "bridge_url": started.bridge_url,
        "expires_at": started.expires_at,
    }


@router.get("/{token}/card-session")
def card_session_status(token: str, session: BearerToken, context: Context, db: Db) -> Any:
    """The newest session's status: state, the bridge's stage, tries left, error, done."""
    recipient = party.recipient_for_session(context, db, token, session)
    status = card_sessions.current_status(context, db, recipient)
    if status is None:
        raise NotFoundError("card_session_not_found")
    return status


@router.get("/{token}/card-session/events")
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
