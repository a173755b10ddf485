"""The card session's status: one model for the API, the status feed, the hub and the pages.

`webapp.card_signing.sessions.status_of` builds it from the database row; the bridge's
websocket moves it on a `progress` frame (`sessions.advance`); the hub hands the same
object to every watcher of the party, and each server-sent event is its `json_text`,
serialised once per change however many feeds show it (issue 9: thousands of feeds).
The page's JavaScript (`webapp/static/card.js`) reads the same JSON.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from bridge.protocol import Order, Stage
from webapp.db.models import CardSessionState, RecipientStatus

FEED_ENDING_PARTY_STATUSES = frozenset({RecipientStatus.AGREED, RecipientStatus.REJECTED})
E = TypeVar("E", Stage, Order)


def known(kind: type[E], value: object) -> E | None:
    """`value` as a member of `kind`, or None: a row stored by an older version never fails."""
    try:
        return kind(value) if isinstance(value, str) else None
    except ValueError:
        return None


class CardStatusError(BaseModel):
    """Why a session is in trouble or ended, in both languages (never a secret)."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(
        description="a reason code (see docs/api.md, Reason codes); accept codes you do not know"
    )
    message_ja: str
    message_en: str
    tries_left: int | None = Field(
        default=None, description="signing-password tries left, for a card error; else null"
    )


class CardSessionStatus(BaseModel):
    """A party's newest card session as the PC page and the API's status feed show it.

    Frozen: the hub hands one object to many watchers. `model_copy` (how a progress frame
    moves it on) makes a new status with its own `json_text`.
    """

    model_config = ConfigDict(frozen=True)

    session_id: str = Field(
        description="the session; another one than you started means a newer one replaced it"
    )
    state: CardSessionState
    stage: Stage | None = Field(description="the bridge's last `progress` stage, or null")
    order: Order | None = Field(
        description="password or card first, as the bridge said; null before a bridge claimed it"
    )
    tries_left: int | None = Field(
        description="signing-password tries left, as the bridge last reported; null if unknown"
    )
    expires_at: datetime.datetime = Field(description="the end of the session's 10 minutes (UTC)")
    error: CardStatusError | None
    done: bool = Field(description="the card signature was accepted and sealed: the party agreed")
    recipient_status: RecipientStatus

    @functools.cached_property
    def json_text(self) -> str:
        """The status as compact JSON (UTF-8 text, no ASCII escapes): made once, then kept."""
        return self.model_dump_json()

    @property
    def ends_feed(self) -> bool:
        """Whether a status feed stops after this one: the party is done."""
        return self.done or self.recipient_status in FEED_ENDING_PARTY_STATUSES

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with `update` applied; its JSON is made anew (not the original's)."""
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("json_text", None)
        return copied


class StartedCardSession(BaseModel):
    """A new card session: what goes into the QR code, and until when it works."""

    session_id: str
    bridge_url: str = Field(
        description="the QR code's URL (`…/b/<token>`): a bearer secret until `expires_at`"
    )
    expires_at: datetime.datetime


__all__ = ["CardSessionStatus", "CardStatusError", "StartedCardSession"]
