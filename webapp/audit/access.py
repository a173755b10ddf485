"""Views and downloads on record: who looked at or took which document or file, from where.

The routes that show a document's page or hand out its PDF or certificate call these in
their own transaction (and commit before answering), so the audit chain holds every
access with the caller's IP address and user agent (`Audit`).

Page images (`webapp.page_images`) are fetched one request per page, but an auditor wants
to read "X viewed the document (page images)" once per viewing, not once per page: see
`record_page_images_view`.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.audit import lock_chain, stored_origin
from webapp.db.records import AuditEvent
from webapp.db.types import utc_now

if TYPE_CHECKING:
    from webapp.audit.actor import Audit

VIEWED = "document.viewed"
DOWNLOADED = "document.downloaded"
CERTIFICATE_DOWNLOADED = "certificate.downloaded"
PAGE_IMAGES_VIEWED = "document.page_images_viewed"
VIEWING_GAP = datetime.timedelta(minutes=30)
"""Page images fetched this long after the last recorded ones begin a new viewing."""
RECENT_VIEWS_SEEN = 200
"""How many of the document's newest view events are looked through for the party's."""


def record_view(
    db: Session, who: Audit, document_id: str, *, recipient_id: str | None = None
) -> None:
    """The document's page was shown to `who` (the sender, or the party `recipient_id`)."""
    who.event(db, VIEWED, document_id, **_party(recipient_id))


def record_download(
    db: Session,
    who: Audit,
    document_id: str,
    *,
    revision: int,
    sha256: str,
    recipient_id: str | None = None,
) -> None:
    """The document's PDF (revision `revision`, as it then stood) was handed to `who`."""
    who.event(
        db, DOWNLOADED, document_id, file="pdf", revision=revision, sha256=sha256,
        **_party(recipient_id),
    )  # fmt: skip


def record_certificate_download(
    db: Session,
    who: Audit,
    document_id: str,
    *,
    certificate_id: str,
    sha256: str | None,
    recipient_id: str | None = None,
) -> None:
    """The document's agreement certificate was handed to `who`."""
    who.event(
        db, CERTIFICATE_DOWNLOADED, document_id, certificate_id=certificate_id, sha256=sha256,
        **_party(recipient_id),
    )  # fmt: skip


def record_page_images_view(
    db: Session, who: Audit, document_id: str, *, recipient_id: str, revision: int, sha256: str
) -> bool:
    """The party `recipient_id` was shown the document's pages as images (revision
    `revision`); recorded once per viewing. Whether an event was added.

    A viewing is what one showing of the document's page loads: its page images follow the
    page's own `document.viewed`. So a page image is recorded unless the party's newest
    view event is already a page-images view of the same revision, from the same address
    and agent, less than `VIEWING_GAP` ago. Showing the page again (a reload, another
    device) starts a new viewing. The check runs under the chain's append lock, so the
    page images a browser fetches at once, on any instance, record one event.
    """
    if _viewing_on_record(db, who, document_id, recipient_id, revision):
        return False  # most page images of a viewing: no lock taken
    lock_chain(db)
    if _viewing_on_record(db, who, document_id, recipient_id, revision):
        return False  # another page image of this viewing recorded it meanwhile
    who.event(
        db, PAGE_IMAGES_VIEWED, document_id, recipient_id=recipient_id, revision=revision,
        sha256=sha256,
    )  # fmt: skip
    return True


def _viewing_on_record(
    db: Session, who: Audit, document_id: str, recipient_id: str, revision: int
) -> bool:
    newest = _newest_view(db, document_id, recipient_id)
    return (
        newest is not None
        and newest.action == PAGE_IMAGES_VIEWED
        and newest.detail.get("revision") == revision
        and (newest.ip, newest.user_agent) == stored_origin(who.ip, who.user_agent)
        and utc_now() - newest.occurred_at < VIEWING_GAP
    )


def _newest_view(db: Session, document_id: str, recipient_id: str) -> AuditEvent | None:
    recent = db.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.document_id == document_id,
            AuditEvent.action.in_((VIEWED, PAGE_IMAGES_VIEWED)),
        )
        .order_by(AuditEvent.seq.desc())
        .limit(RECENT_VIEWS_SEEN)
    )
    return next((e for e in recent if e.detail.get("recipient_id") == recipient_id), None)


def _party(recipient_id: str | None) -> dict[str, object]:
    return {"recipient_id": recipient_id} if recipient_id is not None else {}
