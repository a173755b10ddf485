"""Independent checks of a signed PDF: pyHanko's validators, poppler's pdfsig and pdftotext.

The AdES-LTA check works from the document alone (no fetching): every certificate that
names an OCSP responder or a CRL must find its answer in the DSS, so a missing or stale
DSS fails it.
"""

from __future__ import annotations

import asyncio
import datetime
import io
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.ades import AdESLTAValidationResult, ades_lta_validation
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import SimpleTrustManager


def basic_statuses(path: Path, roots: Sequence[bytes]) -> dict[str, PdfSignatureStatus]:
    """pyHanko's validation of every regular signature now, by field name."""

    async def validate() -> dict[str, PdfSignatureStatus]:
        with path.open("rb") as stream:
            reader = PdfFileReader(stream)
            statuses: dict[str, PdfSignatureStatus] = {}
            for signature in reader.embedded_regular_signatures:
                context = ValidationContext(trust_roots=[x509.Certificate.load(r) for r in roots])
                statuses[signature.field_name] = await async_validate_pdf_signature(
                    signature, context, ts_validation_context=context
                )
            return statuses

    return asyncio.run(validate())


def lta_results(
    source: Path | bytes, roots: Sequence[bytes], when: datetime.datetime | None = None
) -> dict[str, AdESLTAValidationResult]:
    """AdES validation at LTA level of every regular signature, offline, by field name: from
    the document alone (revocation checked where a certificate declares it, answers only
    from the DSS), now or as of `when`."""
    declared = RevocationCheckingPolicy(
        ee_certificate_rule=RevocationCheckingRule.CHECK_IF_DECLARED,
        intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED,
    )
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(
                    trust_roots=[x509.Certificate.load(r) for r in roots]
                ),
                revinfo_policy=CertRevTrustPolicy(declared),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )
    timing = (
        None
        if when is None
        else ValidationTimingInfo(
            validation_time=when, best_signature_time=when, point_in_time_validation=False
        )
    )
    data = source if isinstance(source, bytes) else source.read_bytes()

    async def validate() -> dict[str, AdESLTAValidationResult]:
        reader = PdfFileReader(io.BytesIO(data))
        return {
            signature.field_name: await ades_lta_validation(signature, spec, timing)
            for signature in reader.embedded_regular_signatures
        }

    return asyncio.run(validate())


def passed(result: AdESLTAValidationResult) -> bool:
    return result.ades_subindic == AdESPassed.OK


def pdfsig(path: Path) -> dict[str, str]:
    """poppler's verdict on each signature's CMS, by field name (certificates not checked)."""
    completed = subprocess.run(
        ["pdfsig", "-nocert", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    verdicts: dict[str, str] = {}
    field = ""
    for line in completed.stdout.splitlines():
        if found := re.match(r"\s*- Signature Field Name: (.*)", line):
            field = found.group(1)
        elif found := re.match(r"\s*- Signature Validation: (.*)", line):
            verdicts[field] = found.group(1)
    return verdicts


def page_text(path: Path, page: int = 1) -> str:
    """pdftotext's text of one page."""
    completed = subprocess.run(
        ["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return completed.stdout


def revisions(path: Path) -> int:
    with path.open("rb") as stream:
        return PdfFileReader(stream).total_revisions
