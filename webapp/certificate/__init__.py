"""The agreement certificate (締結証明書): made when a document completes, sealed, stored encrypted.

    certificate_id = new_certificate_id()             at sending: stamped on page 1 next to
    reserve_certificate(db, document_id, certificate_id)     the document ID, and kept
    prepared = prepare_certificate(ctx, document_id, final)   at completion, before its
    record_certificate(db, prepared)                          transaction; then inside it
    discard_certificate(ctx, prepared)                        if that transaction fails
    issued_certificate(db, document) -> AgreementCertificate  for downloads (404 until made)

Preparing gathers the facts (`facts`), lays them out (`render`: WeasyPrint, Noto CJK
embedded), seals the PDF with the platform's key and a signature timestamp (PAdES B-T,
`Sealer.seal`) and writes it to the encrypted store under the document's data key. It
runs in the completing worker thread; if the TSA is down it fails like the closing step
itself, nothing is recorded, and completion is tried again later.
"""

from __future__ import annotations

import datetime
import tempfile
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.audit import append_event
from webapp.certificate import render
from webapp.certificate.facts import CertificateFacts, gather, read_pdf_evidence
from webapp.certificate.render import CertificateFontMissingError, render_pdf
from webapp.db.models import (
    ActorKind,
    AgreementCertificate,
    CardSession,
    CardSessionState,
    Document,
    Recipient,
    new_document_id,
)
from webapp.errors import NotFoundError, UnavailableError
from webapp.pdf import Sealer
from webapp.services import revisions
from webapp.services.context import ServiceContext
from webapp.storage import StoredBlob

CERTIFICATE_SEAL_FIELD = "mynasign-certificate"
CERTIFICATE_SEAL_REASON = "締結証明書 / Certificate of agreement"
ISSUED_ACTION = "certificate.issued"

__all__ = [
    "CERTIFICATE_SEAL_FIELD",
    "PreparedCertificate",
    "discard_certificate",
    "issued_certificate",
    "new_certificate_id",
    "prepare_certificate",
    "record_certificate",
    "reserve_certificate",
]


def new_certificate_id() -> str:
    """A fresh certificate ID: random base32 like a document ID (people type it off paper)."""
    return new_document_id()


def reserve_certificate(db: Session, document_id: str, certificate_id: str) -> None:
    """Keep the ID stamped on the sent document for the certificate made at completion."""
    db.add(AgreementCertificate(id=certificate_id, document_id=document_id))


@dataclass(frozen=True)
class PreparedCertificate:
    """A sealed certificate in the file store, not yet recorded."""

    certificate_id: str
    document_id: str
    blob: StoredBlob
    issued_at: datetime.datetime


def prepare_certificate(
    ctx: ServiceContext, document_id: str, final: revisions.NewRevision
) -> PreparedCertificate:
    """Make, seal and store the certificate of a document whose final revision is `final`."""
    if not render.cjk_font_available():  # told here; the PDF worker checks again
        raise UnavailableError("certificate_font_missing")
    with ctx.sessions() as db:
        document = db.get_one(Document, document_id)
        reserved = db.scalar(
            select(AgreementCertificate.id).where(AgreementCertificate.document_id == document_id)
        )
        rows = db.execute(
            select(CardSession.field_name, CardSession.signer_name)
            .join(Recipient)
            .where(
                Recipient.document_id == document_id,
                CardSession.state == CardSessionState.COMPLETED,
                CardSession.field_name.is_not(None),
            )
        )
        card_names = {row.field_name: row.signer_name or "" for row in rows if row.field_name}
    certificate_id = reserved or new_certificate_id()  # documents sent before certificates
    with revisions.decrypted_copy(ctx, document, final.blob.blob_name) as final_pdf:
        evidence = read_pdf_evidence(final_pdf, card_names)
    issued_at = ctx.now()
    with ctx.sessions() as db:
        facts = gather(
            db, db.get_one(Document, document_id), certificate_id=certificate_id,
            evidence=evidence, final_sha256=final.blob.sha256, final_revision=final.number,
            issued_at=issued_at, service_url=ctx.settings.base_url,
        )  # fmt: skip
    with revisions.scratch_file(ctx) as unused, revisions.scratch_file(ctx) as sealed:
        try:  # laid out and sealed in a PDF worker process, off the server's interpreter
            revisions.run_job(ctx, CertificateJob(facts), unused, sealed)
        except CertificateFontMissingError:
            raise UnavailableError("certificate_font_missing") from None
        sealed.seek(0)
        key = revisions.data_key(ctx, document)
        blob = ctx.files.write(key, f"{document_id}-certificate", sealed)
    return PreparedCertificate(certificate_id, document_id, blob, issued_at)


@dataclass(frozen=True)
class CertificateJob:
    """Lay the certificate out and seal it (a PDF job of `webapp.pdf.workers`)."""

    facts: CertificateFacts

    async def run(self, sealer: Sealer, source: BinaryIO, output: BinaryIO) -> None:
        with tempfile.TemporaryFile() as plain:
            render_pdf(self.facts, plain)
            plain.seek(0)
            await sealer.seal(
                plain, output, field_name=CERTIFICATE_SEAL_FIELD, reason=CERTIFICATE_SEAL_REASON
            )


def record_certificate(db: Session, prepared: PreparedCertificate) -> AgreementCertificate:
    """Make the stored certificate the document's (in the completing transaction)."""
    row = db.scalar(
        select(AgreementCertificate).where(AgreementCertificate.document_id == prepared.document_id)
    )
    if row is None:
        row = AgreementCertificate(id=prepared.certificate_id, document_id=prepared.document_id)
        db.add(row)
    row.blob_name = prepared.blob.blob_name
    row.sha256 = prepared.blob.sha256
    row.size = prepared.blob.size
    row.issued_at = prepared.issued_at
    append_event(
        db, action=ISSUED_ACTION, actor_kind=ActorKind.SYSTEM, actor="system",
        document_id=prepared.document_id,
        detail={"certificate_id": prepared.certificate_id, "sha256": prepared.blob.sha256},
    )  # fmt: skip
    return row


def discard_certificate(ctx: ServiceContext, prepared: PreparedCertificate | None) -> None:
    """Remove a stored certificate that was never recorded."""
    if prepared is not None:
        ctx.files.delete(prepared.blob.blob_name)


def issued_certificate(db: Session, document: Document) -> AgreementCertificate:
    """The document's sealed certificate; `certificate_not_ready` (404) until completion."""
    row = db.scalar(
        select(AgreementCertificate).where(AgreementCertificate.document_id == document.id)
    )
    if row is None or row.blob_name is None:
        raise NotFoundError("certificate_not_ready")
    return row
