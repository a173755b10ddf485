"""A document renewed before its first TSA certificate ends still validates as PAdES B-LTA
years later, when that certificate has long ended (pyHanko's AdES-LTA validation, offline,
with the validation time moved past it); the same document not renewed does not."""

from __future__ import annotations

import asyncio
import datetime
import io
from collections.abc import Sequence
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.ades import AdESLTAValidationResult, ades_lta_validation
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import SimpleTrustManager

from tests.webapp.archive.conftest import YEAR, ShortLivedTsa
from tests.webapp.conftest import Service
from tests.webapp.pdf.checks import passed
from tests.webapp.verification.flow import completed_document, current_pdf
from webapp.archive import renew_due


def lta_results_at(
    pdf: bytes, roots: Sequence[bytes], when: datetime.datetime
) -> dict[str, AdESLTAValidationResult]:
    """AdES-LTA validation of every regular signature as of `when`, from the document alone
    (revocation checked where a certificate declares it, answers only from the DSS)."""
    declared = RevocationCheckingRule.CHECK_IF_DECLARED
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(
                    trust_roots=[asn1_x509.Certificate.load(root) for root in roots]
                ),
                revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy(declared, declared)),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )
    timing = ValidationTimingInfo(
        validation_time=when, best_signature_time=when, point_in_time_validation=False
    )

    async def validate() -> dict[str, AdESLTAValidationResult]:
        reader = PdfFileReader(io.BytesIO(pdf))
        return {
            signature.field_name: await ades_lta_validation(signature, spec, timing)
            for signature in reader.embedded_regular_signatures
        }

    return asyncio.run(validate())


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
    results = lta_results_at(renewed_pdf, roots, years_later)
    assert results, "no signature validated"
    assert all(passed(result) for result in results.values()), {
        name: (result.ades_subindic, result.api_status) for name, result in results.items()
    }

    # the control: the same document without the renewal no longer validates then, and
    # validated today (before the first TSA ended) it did
    not_renewed = lta_results_at(final_pdf, roots, years_later)
    assert not_renewed and not any(passed(result) for result in not_renewed.values())
    today = lta_results_at(final_pdf, roots, real_now)
    assert today and all(passed(result) for result in today.values())
