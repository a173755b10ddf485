"""A whole verification: read the PDF, check each signature, look the file up in the records."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import Document, DocumentRevision, DocumentStatus
from webapp.i18n import text
from webapp.verification.check import TrustedRoots, read_pdf, sha256_hex, verify_signatures
from webapp.verification.models import RecordMatch, VerificationReport


def record_match(db: Session, sha256: str) -> RecordMatch:
    """Whether the file is a revision this service stored, and whether it is the final one."""
    found = db.execute(
        select(DocumentRevision.number, Document.id, Document.current_revision, Document.status)
        .join(Document, Document.id == DocumentRevision.document_id)
        .where(DocumentRevision.sha256 == sha256)
        .order_by(DocumentRevision.number.desc())
        .limit(1)
    ).first()
    if found is None:
        return RecordMatch(
            found=False, message_ja=text("ja", "verify_record_unknown"),
            message_en=text("en", "verify_record_unknown"),
        )  # fmt: skip
    number, document_id, current, status = found
    final = number == current and status is DocumentStatus.COMPLETED
    key = "verify_record_final" if final else "verify_record_revision"
    params = {"document_id": document_id, "revision": number, "current": current}
    return RecordMatch(
        found=True, document_id=document_id, revision=number, current_revision=current,
        is_final=final, message_ja=text("ja", key, **params), message_en=text("en", key, **params),
    )  # fmt: skip


def verify_pdf(db: Session, data: bytes, roots: TrustedRoots) -> VerificationReport:
    """Everything the page and the API report about `data` (bytes of an uploaded file).

    `VerificationRefusedError` when the file cannot be verified at all; blocking work: call it
    from a plain `def` route or a worker thread.
    """
    reader = read_pdf(data)
    signatures = verify_signatures(reader, roots)
    digest = sha256_hex(data)
    all_valid = bool(signatures) and all(s.intact and s.trusted for s in signatures)
    if not signatures:
        key = "verify_no_signatures"
    else:
        key = "verify_summary_ok" if all_valid else "verify_summary_problem"
    return VerificationReport(
        sha256=digest, size=len(data), signatures=signatures, all_valid=all_valid,
        record=record_match(db, digest), summary_ja=text("ja", key), summary_en=text("en", key),
    )  # fmt: skip
