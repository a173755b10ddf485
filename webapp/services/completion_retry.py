"""Finishes documents whose completion failed (a TSA or OCSP outage), until it succeeds."""

from __future__ import annotations

import logging

from sqlalchemy import select

from webapp.db.models import Document, DocumentStatus, Recipient, RecipientStatus
from webapp.errors import DomainError
from webapp.services.context import ServiceContext
from webapp.services.notify import OPEN_STATUSES
from webapp.services.periodic import PeriodicTask, shared_round
from webapp.services.recipients import complete_if_ready

log = logging.getLogger(__name__)
RETRY_SECONDS = 60.0


def documents_awaiting_completion(ctx: ServiceContext) -> list[str]:
    """Sent documents every party has answered: only the closing step is missing."""
    open_party = (
        select(Recipient.id)
        .where(
            Recipient.document_id == Document.id,
            Recipient.status.in_((RecipientStatus.WAITING, *OPEN_STATUSES)),
        )
        .exists()
    )
    with ctx.sessions() as db:  # one query: a minute's round must not load every document
        query = select(Document.id).where(Document.status == DocumentStatus.SENT, ~open_party)
        return list(db.scalars(query))


def complete_pending(ctx: ServiceContext) -> int:
    """Try the closing step of each waiting document once; how many were completed.

    Blocking: run it in a worker thread. Each document's closing step is leased, so two
    instances never run it twice.
    """
    done = 0
    for document_id in documents_awaiting_completion(ctx):
        try:
            done += complete_if_ready(ctx, document_id)
        except DomainError as exc:
            log.warning("document %s still cannot be completed: %s", document_id, exc.code)
    return done


def completion_retry(ctx: ServiceContext, interval: float = RETRY_SECONDS) -> PeriodicTask:
    """The lifespan's background task running `complete_pending` every minute."""
    return shared_round(ctx, "completion-retry", complete_pending, interval)
