"""A document's audit events told in words: who did what, when to the second, from where.

Each action has a sentence in `webapp.i18n` (`history_<action>`, dots as underscores) with
`{who}` and what the action's detail names (`{party}`, `{to}`, `{reason}`, ...). Who is a
person's name: the sender's display name for a sender's event, the party's name for a
recipient's or the card bridge's (found through the event's `recipient_id`), "the service"
for the system. An action without a sentence (added later by another feature) still reads
as "who: label" from its `event_<action>` label, or its code as the last resort.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.audit import events_for_document
from webapp.db.models import ActorKind, AuditEvent, Document, Recipient, User
from webapp.i18n import TEXTS, Language, text
from webapp.mail.messages import JST


@dataclass(frozen=True)
class HistoryLine:
    """One event as a person reads it."""

    at: datetime.datetime
    when: str
    """Japan time to the second: `2026-12-06 21:03:05`."""
    text: str
    ip: str | None
    user_agent: str | None
    action: str


def format_jst_seconds(moment: datetime.datetime) -> str:
    """`2026-12-06 21:03:05` in Japan time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")


def document_history(db: Session, document: Document, language: Language) -> list[HistoryLine]:
    """The document's events, oldest first, in `language`."""
    events = events_for_document(db, document.id)
    names = _Names(db, document, events, language)
    return [_line(event, names, language) for event in events]


class _Names:
    """Who the IDs in a document's events are."""

    def __init__(
        self, db: Session, document: Document, events: list[AuditEvent], language: Language
    ) -> None:
        self.language = language
        self.parties: dict[str, Recipient] = {r.id: r for r in document.recipients}
        sender_ids = {e.actor for e in events if e.actor_kind is ActorKind.SENDER}
        self.users = {document.owner_id: document.owner.display_name}
        missing = sender_ids - self.users.keys()
        if missing:
            found = db.execute(select(User.id, User.display_name).where(User.id.in_(missing)))
            self.users.update({row.id: row.display_name for row in found})

    def party(self, recipient_id: object) -> str | None:
        party = self.parties.get(recipient_id) if isinstance(recipient_id, str) else None
        return party.name if party is not None else None

    def party_with_address(self, recipient_id: object) -> str:
        party = self.parties.get(recipient_id) if isinstance(recipient_id, str) else None
        if party is None:
            return text(self.language, "history_someone")
        return f"{party.name} <{party.email}>"

    def actor(self, event: AuditEvent) -> str:
        detail = event.detail
        if event.actor_kind is ActorKind.SENDER:
            return self.users.get(event.actor) or text(self.language, "actor_sender")
        if event.actor_kind in (ActorKind.RECIPIENT, ActorKind.BRIDGE):
            name = self.party(detail.get("recipient_id"))
            return name or text(self.language, f"actor_{event.actor_kind.value}")
        return text(self.language, "history_the_service")


def _line(event: AuditEvent, names: _Names, language: Language) -> HistoryLine:
    return HistoryLine(
        at=event.occurred_at, when=format_jst_seconds(event.occurred_at),
        text=describe(event, names, language), ip=event.ip, user_agent=event.user_agent,
        action=event.action,
    )  # fmt: skip


def describe(event: AuditEvent, names: _Names, language: Language) -> str:
    """One event as a sentence."""
    key = "history_" + event.action.replace(".", "_")
    if event.action == "recipient.notified" and event.detail.get("sender"):
        key = "history_recipient_notified_sender"  # the sender's own turn: no mail
    who = names.actor(event)
    if key not in TEXTS:
        label_key = "event_" + event.action.replace(".", "_")
        label = text(language, label_key) if label_key in TEXTS else event.action
        return f"{who}: {label}"
    sentence = text(language, key, **_params(event.detail, names, who))
    extra = _extra(event, language)
    return f"{sentence}{extra}"


def _params(detail: dict[str, Any], names: _Names, who: str) -> dict[str, object]:
    to_name = names.party(detail.get("to_recipient_id"))
    to_email = detail.get("to_email") or ""
    return {
        "who": who,
        "party": names.party_with_address(detail.get("recipient_id")),
        "to": f"{to_name} <{to_email}>" if to_name else str(to_email),
        "reason": str(detail.get("reason") or ""),
        "signer": str(detail.get("signer_name") or "—"),
        "revision": detail.get("revision", "—"),
        "pages": detail.get("pages", "—"),
        "certificate_id": str(detail.get("certificate_id") or "—"),
    }


def _extra(event: AuditEvent, language: Language) -> str:
    """What some events add: a lock after wrong codes, a name that differs on the card."""
    detail = event.detail
    if event.action == "recipient.access_code_failed" and detail.get("locked"):
        return text(language, "history_extra_locked")
    if event.action == "recipient.card_signed" and detail.get("name_mismatch"):
        return text(language, "history_extra_name_differs")
    return ""
