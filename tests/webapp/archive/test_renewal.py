"""Timestamp renewal with the clock moved years ahead, against a TSA whose certificate ends.

The test PKI's TSA certificate is reissued to end in two years before the document is
completed; a round now renews nothing; with the service's clock 1.5 years ahead the
document is due, a new document timestamp (from a fresh TSA certificate) is added as
the next revision and recorded in the audit chain, exactly once, and the result
validates offline as PAdES B-LTA, the old TSA's certificate among the validation data.
"""

from __future__ import annotations

import asyncio
import datetime
import io
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore
from sqlalchemy import select

from jpkisim.pki import TestPki
from tests.webapp.conftest import Service
from tests.webapp.pdf.checks import lta_results, passed
from tests.webapp.verification.flow import completed_document, current_pdf
from webapp.archive import RENEWED_ACTION, renew_due
from webapp.audit import verify_chain
from webapp.db.models import ArchiveState, AuditEvent, DocumentRevision

YEAR = datetime.timedelta(days=365)


def test_renewal_when_the_tsa_certificate_runs_out(service: Service, tmp_path: Path) -> None:
    context = service.context
    pki = TestPki.load(Path(context.settings.data_dir) / "pki")
    short = pki.reissue_tsa(lifetime=2 * YEAR)
    document_id, _sent, final_pdf = completed_document(service)
    roots = context.sealer.trust_roots

    first = asyncio.run(renew_due(context))
    assert first.renewed == [] and first.examined == 1
    with context.sessions() as db:
        state = db.get_one(ArchiveState, document_id)
        assert state.timestamp_expires_at is not None
        assert abs(state.timestamp_expires_at - short.not_valid_after_utc) < datetime.timedelta(
            seconds=1
        )

    real_now = datetime.datetime.now(datetime.UTC)
    context.clock = lambda: real_now + 1.5 * YEAR  # within a year of the TSA certificate's end
    pki.reissue_tsa()  # the TSA's next certificate, for the years after
    second, racing = asyncio.run(_two_rounds_at_once(service))
    assert sorted(second.renewed + racing.renewed) == [document_id]  # once, by one of them
    assert not second.failed and not racing.failed

    renewed_pdf = current_pdf(service, document_id)
    assert renewed_pdf.startswith(final_pdf)  # an incremental update: nothing rewritten
    with context.sessions() as db:
        revisions = db.scalars(
            select(DocumentRevision).where(DocumentRevision.document_id == document_id)
        ).all()
        events = db.scalars(select(AuditEvent).where(AuditEvent.action == RENEWED_ACTION)).all()
        assert len(events) == 1 and events[0].document_id == document_id
        assert events[0].detail["revision"] == max(r.number for r in revisions)
        state = db.get_one(ArchiveState, document_id)
        assert state.renewals == 1 and state.claimed_until is None
        assert state.timestamp_expires_at is not None
        assert state.timestamp_expires_at > real_now + 5 * YEAR
        assert verify_chain(db).ok

    stamps = PdfFileReader(io.BytesIO(renewed_pdf)).embedded_timestamp_signatures
    assert [s.field_name for s in stamps] == [
        "mynasign-archive-timestamp", "mynasign-archive-timestamp-2",
    ]  # fmt: skip

    renewed_path = _file(tmp_path, "renewed.pdf", renewed_pdf)
    results = lta_results(renewed_path, roots)
    assert results and all(passed(result) for result in results.values()), results
    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(renewed_pdf)))
    held = {cert.dump() for cert in dss.load_certs()}
    assert short.public_bytes(serialization.Encoding.DER) in held  # the old TSA's validation data

    detail = service.client.get(f"/api/v1/documents/{document_id}", headers=service.auth).json()
    assert RENEWED_ACTION in [e["action"] for e in detail["events"]]

    again = asyncio.run(renew_due(context))
    assert again.renewed == []  # the new timestamp is good for years: nothing to do

    report = service.client.post(
        "/api/v1/verify", files={"file": ("r.pdf", renewed_pdf, "application/pdf")}
    ).json()
    assert report["record"]["is_final"] is True
    assert [s["kind"] for s in report["signatures"]][-2:] == ["document_timestamp"] * 2


async def _two_rounds_at_once(service: Service):
    return await asyncio.gather(renew_due(service.context), renew_due(service.context))


def _file(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path
