"""The closing revision of a finished document: validation data for all, then a timestamp.

One incremental update, appended in place to the already sealed file: a DSS holding the
certificates, OCSP responses and CRLs of every signature and signature timestamp in the
document (fetched now from the services the certificates name), and a document timestamp
over all of it. With the seals' own signature timestamps this makes PAdES B-LTA.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

from asn1crypto import crl, ocsp, x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.signers import PdfTimeStamper
from pyhanko.sign.signers.pdf_signer import TimestampDSSContentSettings
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.validation import EmbeddedPdfSignature
from pyhanko.sign.validation.dss import DocumentSecurityStore, collect_validation_info
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import (
    CertificateFetchError,
    InsufficientRevinfoError,
    PathBuildingError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.path import ValidationPath

from webapp.http_client import PooledFetcherBackend
from webapp.pdf.errors import SealingError, TimestampUnavailable, ValidationDataUnavailable

DOCUMENT_TIMESTAMP_FIELD = "mynasign-archive-timestamp"
FETCH_TIMEOUT_SECONDS = 10


async def add_validation_data_and_document_timestamp(
    document: BinaryIO,
    timestamper: TimeStamper,
    trust_roots: Sequence[x509.Certificate],
    md_algorithm: str,
    *,
    chunk_size: int,
    known_ocsp_responses: Sequence[bytes] = (),
    known_crls: Sequence[bytes] = (),
) -> None:
    """Append DSS + document timestamp to `document` (readable, writable, seekable) in place.

    Revocation is checked as the certificates declare it ("hard-fail"): a certificate that
    names an OCSP responder or CRL must have an answer, or `ValidationDataUnavailable`.
    `known_ocsp_responses` (DER) are answers obtained earlier, such as the one that said a
    card's certificate was good when its signature was accepted: they go into the DSS too.
    `known_crls` (DER) likewise: the CRL that let a card signature in when the service
    checks cards against a CRL file (a JPKI certificate names sources that only the
    operator's line reaches, so they could not be fetched here).
    """
    document.seek(0)
    writer = IncrementalPdfFileWriter(document, strict=True)
    # OCSP, CRL and issuer fetches go through the process's one HTTP client
    context = ValidationContext(
        trust_roots=list(trust_roots),
        allow_fetching=True,
        revocation_mode="hard-fail",
        ocsps=[ocsp.OCSPResponse.load(der) for der in known_ocsp_responses],
        crls=[crl.CertificateList.load(der) for der in known_crls],
        fetcher_backend=PooledFetcherBackend(FETCH_TIMEOUT_SECONDS),
    )
    paths: list[ValidationPath] = []
    for signature in writer.prev.embedded_signatures:
        paths.extend(await _paths_of(signature, context))
    DocumentSecurityStore.supply_dss_in_writer(
        writer, None, paths=paths, validation_context=context
    )
    stamper = PdfTimeStamper(timestamper, field_name=DOCUMENT_TIMESTAMP_FIELD)
    try:
        await stamper.async_timestamp_pdf(
            writer,
            md_algorithm,
            validation_context=context,
            dss_settings=TimestampDSSContentSettings(include_vri=False, update_before_ts=True),
            in_place=True,
            chunk_size=chunk_size,
        )
    except TimestampRequestError as exc:
        raise TimestampUnavailable(str(exc)) from exc
    except ValidationError as exc:  # the TSA's own certificate
        raise _certificate_problem(exc) from exc


async def _paths_of(
    signature: EmbeddedPdfSignature, context: ValidationContext
) -> list[ValidationPath]:
    """Validate the signer's (and its timestamps') certificates; the paths found."""
    try:
        paths: list[ValidationPath] = await collect_validation_info(signature, context)
    except (ValidationError, PathBuildingError) as exc:
        raise _certificate_problem(exc) from exc
    return paths


def _certificate_problem(exc: Exception) -> SealingError:
    """What a certificate validation failure means for the caller."""
    if isinstance(exc, RevokedError):
        return SealingError(
            "certificate_revoked",
            "文書内の署名の証明書が失効しているため、締結処理を完了できません。",
            "A certificate of a signature in the document has been revoked; "
            "the document cannot be completed.",
        )
    if isinstance(exc, InsufficientRevinfoError | CertificateFetchError):
        return ValidationDataUnavailable(str(exc))
    return SealingError(
        "certificate_untrusted",
        "文書内の署名の証明書を検証できません（信頼できない認証局、有効期間外など）。"
        "締結処理を完了できません。",
        "A certificate of a signature in the document cannot be validated (an untrusted "
        "issuer, outside its validity, or otherwise invalid); the document cannot be completed.",
    )
