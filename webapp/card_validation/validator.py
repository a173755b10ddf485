"""The server's acceptance check of a card's CMS: may this signature be embedded?

    validator = CardSignatureValidator(anchors, OcspRevocationChecker(url))
    accepted = await validator.validate(cms_der, prepared_digest)  # or CardSignatureRejected

In order, stopping at the first failure: the CMS itself (`card.cms_check`), the path to
a configured anchor, validity at `clock()`, key usage nonRepudiation and the JPKI
profile, then revocation through the injected checker. The CPU-bound steps run in a
worker thread; the revocation check is the only network step.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from card.cms_check import CmsCheckError, check_digest_length, verify_signed_data
from webapp.card_validation.chain import (
    CertificatePath,
    build_path,
    check_signing_certificate,
    check_validity,
)
from webapp.card_validation.rejection import CardSignatureRejected, RejectionCode
from webapp.card_validation.revocation import (
    RevocationChecker,
    RevocationEvidence,
    RevocationUnavailableError,
)

log = logging.getLogger(__name__)
_UNREADABLE_CERTIFICATE = (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)


@dataclass(frozen=True)
class AcceptedCardSignature:
    """A card signature that passed every check, with what the PDF's DSS should keep."""

    signer_certificate: bytes
    issuer_certificate: bytes
    """DER of the anchor, or of the intermediate, that issued the signer's certificate."""
    signer_name: str
    certificate_serial: str
    """Upper-case hex, no separators."""
    revocation_method: str
    """"ocsp", "crl" or "none"."""
    ocsp_response: bytes | None
    crl: bytes | None


@dataclass(frozen=True)
class _CheckedCertificate:
    path: CertificatePath
    signer_der: bytes
    signer_name: str


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class CardSignatureValidator:
    """Checks card CMSes against DER `trust_anchors` and a revocation checker."""

    def __init__(
        self,
        trust_anchors: Sequence[bytes],
        revocation: RevocationChecker,
        *,
        clock: Callable[[], datetime.datetime] = _utc_now,
    ) -> None:
        if not trust_anchors:
            raise ValueError("no trust anchors: no card signature could ever be accepted")
        self._anchors = [x509.load_der_x509_certificate(der) for der in trust_anchors]
        self._revocation = revocation
        self._clock = clock

    async def validate(self, cms_der: bytes, message_digest: bytes) -> AcceptedCardSignature:
        """The accepted signature, or `CardSignatureRejected` naming the first failed check.

        `message_digest` is the digest the session prepared (a wrong length is the
        caller's mistake: `ValueError`).
        """
        check_digest_length(message_digest)
        at = self._clock()
        if at.tzinfo is None:
            raise ValueError("the clock must give aware (UTC) datetimes")
        checked = await asyncio.to_thread(self._check_certificate, cms_der, message_digest, at)
        evidence = await self._check_revocation(checked.path, at)
        return AcceptedCardSignature(
            signer_certificate=checked.signer_der,
            issuer_certificate=checked.path.issuer.public_bytes(Encoding.DER),
            signer_name=checked.signer_name,
            certificate_serial=f"{checked.path.signer.serial_number:X}",
            revocation_method=evidence.method,
            ocsp_response=evidence.ocsp_response if evidence.method == "ocsp" else None,
            crl=evidence.crl if evidence.method == "crl" else None,
        )

    def _check_certificate(
        self, cms_der: bytes, message_digest: bytes, at: datetime.datetime
    ) -> _CheckedCertificate:
        try:
            verified = verify_signed_data(cms_der, message_digest)
        except CmsCheckError as exc:
            raise CardSignatureRejected(exc.code, detail=exc.message) from exc
        try:
            signer = x509.load_der_x509_certificate(verified.signer_certificate)
            others = [_load_or_none(der) for der in verified.certificates]
            path = build_path(signer, [c for c in others if c is not None], self._anchors)
            check_validity(path, at)
            name = check_signing_certificate(verified.signer_certificate, signer)
        except _UNREADABLE_CERTIFICATE as exc:
            raise CardSignatureRejected(
                RejectionCode.UNTRUSTED_CERTIFICATE,
                detail=f"a certificate is unreadable: {type(exc).__name__}",
            ) from exc
        return _CheckedCertificate(path, verified.signer_certificate, name)

    async def _check_revocation(
        self, path: CertificatePath, at: datetime.datetime
    ) -> RevocationEvidence:
        try:
            evidence = await self._revocation.check(path.signer, path.issuer, at)
        except RevocationUnavailableError as exc:
            log.warning("card certificate revocation status unknown: %s", exc)
            raise CardSignatureRejected(RejectionCode.REVOCATION_UNKNOWN, detail=str(exc)) from exc
        except Exception as exc:  # a checker's bug must not let a signature through
            log.exception("the revocation checker failed")
            raise CardSignatureRejected(
                RejectionCode.REVOCATION_UNKNOWN, detail=f"checker failed: {type(exc).__name__}"
            ) from exc
        if evidence.status == "revoked":
            raise CardSignatureRejected(RejectionCode.CERTIFICATE_REVOKED)
        if evidence.status == "good" or (
            evidence.status == "not_checked" and evidence.method == "none"
        ):
            return evidence
        raise CardSignatureRejected(
            RejectionCode.REVOCATION_UNKNOWN,
            detail=f"the checker answered {evidence.method}/{evidence.status}",
        )


def _load_or_none(der: bytes) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None
