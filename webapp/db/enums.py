"""The states and kinds the models record, as string enums stored by value."""

from __future__ import annotations

from enum import StrEnum


class DocumentStatus(StrEnum):
    """Where a document is in its life."""

    DRAFT = "draft"
    SENT = "sent"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class RevisionKind(StrEnum):
    """What a PDF revision added, in the order a finished document holds them."""

    ORIGINAL = "original"
    STAMP_AND_SENDING_SEAL = "stamp_and_sending_seal"
    AGREEMENT_SEAL = "agreement_seal"
    CARD_SIGNATURE = "card_signature"
    EVENT_SEAL = "event_seal"
    FINAL = "final"


class RecipientStatus(StrEnum):
    """Where one party is: waiting for earlier parties, told, reading, or done."""

    WAITING = "waiting"
    NOTIFIED = "notified"
    OPENED = "opened"
    AGREED = "agreed"
    REJECTED = "rejected"
    FORWARDED = "forwarded"
    CANCELLED = "cancelled"


class CardSessionState(StrEnum):
    """A My Number Card signing session: created → claimed → signing → an end state."""

    CREATED = "created"
    CLAIMED = "claimed"
    SIGNING = "signing"
    COMPLETED = "completed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class ActorKind(StrEnum):
    """Who did what an audit event records."""

    SENDER = "sender"
    RECIPIENT = "recipient"
    SYSTEM = "system"
    BRIDGE = "bridge"
