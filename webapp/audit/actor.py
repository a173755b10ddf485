"""Who acts, from where: the actor, IP address and user agent every audit event records.

Services take an `Audit` from the route (`webapp.deps`, `webapp.pages`) and call
`who.event(db, action, document_id, **detail)`; it lives here, beside the chain it
appends to, so that the services that record events import nothing of one another for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from webapp.audit import append_event
from webapp.db.enums import ActorKind


@dataclass(frozen=True)
class Audit:
    """Who acts, from where: what every audit event records besides the action."""

    actor_kind: ActorKind
    actor: str
    ip: str | None = None
    user_agent: str | None = None

    def event(self, db: Session, action: str, document_id: str | None, **detail: object) -> None:
        append_event(
            db, action=action, actor_kind=self.actor_kind, actor=self.actor,
            document_id=document_id, detail=dict(detail), ip=self.ip, user_agent=self.user_agent,
        )  # fmt: skip
