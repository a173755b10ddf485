"""Views and downloads on record: who looked at or took which document or file, from where.

The routes that show a document's page or hand out its PDF or certificate call these in
their own transaction (and commit before answering), so the audit chain holds every
access with the caller's IP address and user agent (`Audit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from webapp.services.documents import Audit

VIEWED = "document.viewed"
DOWNLOADED = "document.downloaded"
CERTIFICATE_DOWNLOADED = "certificate.downloaded"


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


def _party(recipient_id: str | None) -> dict[str, object]:
    return {"recipient_id": recipient_id} if recipient_id is not None else {}
