"""A document renewed before its first TSA certificate ends still validates as PAdES B-LTA
years later, when that certificate has long ended (pyHanko's AdES-LTA validation, offline,
with the validation time moved past it); the same document not renewed does not."""

from __future__ import annotations

import asyncio
import datetime
import io
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader

from tests.webapp.archive.conftest import YEAR, ShortLivedTsa
from tests.webapp.conftest import Service
from tests.webapp.pdf.checks import lta_results, passed
from tests.webapp.verification.flow import completed_document, current_pdf
from webapp.archive import renew_due


def tsa_of_newest_timestamp(pdf: bytes) -> bytes:
    newest = PdfFileReader(io.BytesIO(pdf)).embedded_timestamp_signatures[-1]
    return bytes(newest.signer_cert.dump())


def test_renewed_in_time_it_validates_as_b_lta_after_the_first_tsa_ended(
    service: Service, short_lived_tsa: ShortLivedTsa, tmp_path: Path
) -> None:
    context = service.context
    roots = context.sealer.trust_roots
    first_tsa = short_lived_tsa.certificate.public_bytes(serialization.Encoding.DER)
    document_id, _sent, final_pdf = completed_document(service)
    assert tsa_of_newest_timestamp(final_pdf) == first_tsa

    real_now = datetime.datetime.now(datetime.UTC)
    context.clock = lambda: real_now + 1.5 * YEAR  # the service's clock: within the window
    second = short_lived_tsa.pki.reissue_tsa()  # the second TSA, good for years
    report = asyncio.run(renew_due(context))
    assert report.renewed == [document_id] and not report.failed
    assert short_lived_tsa.crl_fetches  # the first TSA's status, now in the DSS
    renewed_pdf = current_pdf(service, document_id)
    assert tsa_of_newest_timestamp(renewed_pdf) == second.public_bytes(serialization.Encoding.DER)

    years_later = short_lived_tsa.ends + YEAR  # the first TSA's certificate ended a year ago
    assert second.not_valid_before_utc < years_later < second.not_valid_after_utc
    results = lta_results(renewed_pdf, roots, years_later)
    assert results, "no signature validated"
    assert all(passed(result) for result in results.values()), {
        name: (result.ades_subindic, result.api_status) for name, result in results.items()
    }

    # the control: the same document without the renewal no longer validates then, and
    # validated today (before the first TSA ended) it did
    not_renewed = lta_results(final_pdf, roots, years_later)
    assert not_renewed and not any(passed(result) for result in not_renewed.values())
    today = lta_results(final_pdf, roots, real_now)
    assert today and all(passed(result) for result in today.values())
