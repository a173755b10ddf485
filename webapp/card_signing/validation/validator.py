"""The server's acceptance check of a card's CMS: may this signature be embedded?

    validator = CardSignatureValidator(anchors, OcspRevocationChecker(url))
    accepted = await validator.validate(cms_der, prepared_digest)  # or CardSignatureRejected

In order, stopping at the first failure: the CMS itself (`card.cms_check`); then
pyhanko-certvalidator validates the signer's certificate at `clock()`: a path to a
configured anchor through the CMS's certificates only, validity, revocation through the
configured source (hard-fail), then key usage digitalSignature and nonRepudiation; last
what is JPKI's own: a card's signing certificate is no CA, at most one CA stands between
it and a root, and it names its holder as JPKI signing certificates do.

Everything runs on a worker thread's private event loop (`webapp.offload.in_private_loop`,
as `webapp.card_signing.sessions` calls it); called anywhere else, `validate` moves there.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from asn1crypto import x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.authority import CertTrustAnchor, TrustQualifiers
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

from card.certificate import CertificateParseError, JpkiCertificate
from card.cms_check import CmsCheckError, check_digest_length, verify_signed_data
from webapp.card_signing.validation.crl import CrlFileRevocationChecker, CrlSetup
from webapp.card_signing.validation.crl_index import CertificateListedError
from webapp.card_signing.validation.rejection import CardSignatureRejected, RejectionCode
from webapp.card_signing.validation.revocation import (
    RevocationChecker,
    RevocationSetup,
    RevocationUnavailableError,
)
from webapp.offload import in_private_loop, on_private_loop

log = logging.getLogger(__name__)

SIGNING_KEY_USAGE = frozenset({"digital_signature", "non_repudiation"})
"""The key usage of a JPKI signing certificate (critical, exactly these two)."""
MAX_CAS_BELOW_THE_ROOT = 1
"""JPKI issues card certificates directly from its root; one CA between is tolerated."""


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


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _anchor(certificate: x509.Certificate) -> CertTrustAnchor:
    """A trust anchor as configured: its own path length constraint holds, its validity is
    not checked (a root's dates are the operator's business)."""
    certificate.native  # noqa: B018 - a bad anchor fails now, not at first use
    limit = certificate.max_path_length  # both, or pyhanko-certvalidator 0.33 trips on None
    quals = TrustQualifiers(max_path_length=limit, max_aa_path_length=limit)
    return CertTrustAnchor(certificate, quals)


def _untrusted(detail: str) -> CardSignatureRejected:
    return CardSignatureRejected(RejectionCode.UNTRUSTED_CERTIFICATE, detail=detail)


class CardSignatureValidator:
    """Checks card CMSes against DER `trust_anchors` and a revocation source."""

    def __init__(
        self,
        trust_anchors: Sequence[bytes],
        revocation: RevocationChecker,
        *,
        clock: Callable[[], datetime.datetime] = _utc_now,
    ) -> None:
        if not trust_anchors:
            raise ValueError("no trust anchors: no card signature could ever be accepted")
        self._anchors = [_anchor(x509.Certificate.load(der)) for der in trust_anchors]
        self._anchor_ders = frozenset(trust_anchors)
        self._revocation = revocation
        self._clock = clock
        if isinstance(revocation, CrlFileRevocationChecker):  # verify its CRLs when read
            revocation.trust_issuers(trust_anchors)

    async def validate(self, cms_der: bytes, message_digest: bytes) -> AcceptedCardSignature:
        """The accepted signature, or `CardSignatureRejected` naming the first failed check.

        `message_digest` is the digest the session prepared (a wrong length is the
        caller's mistake: `ValueError`).
        """
        check_digest_length(message_digest)
        at = self._clock()
        if at.tzinfo is None:
            raise ValueError("the clock must give aware (UTC) datetimes")
        checks = self._validate(cms_der, message_digest, at)
        if on_private_loop():
            return await checks
        return await asyncio.to_thread(in_private_loop, checks)

    async def _validate(
        self, cms_der: bytes, message_digest: bytes, at: datetime.datetime
    ) -> AcceptedCardSignature:
        try:
            verified = verify_signed_data(cms_der, message_digest)
        except CmsCheckError as exc:
            raise CardSignatureRejected(exc.code, detail=exc.message) from exc
        try:
            revocation = self._revocation.setup(at)
        except RevocationUnavailableError as exc:
            log.warning("card certificate revocation status unknown: %s", exc)
            raise CardSignatureRejected(RejectionCode.REVOCATION_UNKNOWN, detail=str(exc)) from exc
        except Exception as exc:  # a source's bug must not let a signature through
            log.exception("the revocation source failed")
            raise CardSignatureRejected(
                RejectionCode.REVOCATION_UNKNOWN, detail=f"source failed: {type(exc).__name__}"
            ) from exc
        signer = x509.Certificate.load(verified.signer_certificate)
        others = [  # the CMS's CA certificates; the signer and the anchors are known already
            x509.Certificate.load(der)
            for der in verified.certificates
            if der != verified.signer_certificate and der not in self._anchor_ders
        ]
        context = self._context(at, revocation)
        certificate = CertificateValidator(signer, others, context)
        path = await _validated_path(certificate)
        if isinstance(revocation, CrlSetup):
            _check_signer_on_crl(revocation, path)
        try:
            await certificate.async_validate_usage(set(SIGNING_KEY_USAGE))  # type: ignore[no-untyped-call]
        except InvalidCertificateError as exc:
            raise CardSignatureRejected(RejectionCode.KEY_USAGE, detail=str(exc)) from exc
        name = _check_jpki_profile(verified.signer_certificate, path)
        issuer = path.find_issuing_authority(signer).certificate
        evidence = revocation.evidence(context, path)
        return AcceptedCardSignature(
            signer_certificate=verified.signer_certificate,
            issuer_certificate=issuer.dump(),
            signer_name=name,
            certificate_serial=f"{signer.serial_number:X}",
            revocation_method=evidence.method,
            ocsp_response=evidence.ocsp_response,
            crl=evidence.crl,
        )

    def _context(self, at: datetime.datetime, revocation: RevocationSetup) -> ValidationContext:
        intermediates = (  # the signer's rule may be NO_CHECK for a CRL's own lookup
            RevocationCheckingRule.NO_CHECK
            if revocation.method == "none"
            else RevocationCheckingRule.CHECK_IF_DECLARED
        )
        policy = CertRevTrustPolicy(
            RevocationCheckingPolicy(revocation.signer_rule, intermediates),
            retroactive_revinfo=True,  # answers dated ahead: bounded by the setup (CLOCK_SKEW)
        )
        return ValidationContext(
            trust_roots=list(self._anchors),
            moment=at,
            allow_fetching=revocation.fetchers is not None,
            fetchers=revocation.fetchers,
            crls=revocation.crls,
            revinfo_policy=policy,
            time_tolerance=datetime.timedelta(0),  # validity is judged by our own clock
        )


async def _validated_path(certificate: CertificateValidator) -> ValidationPath:
    """pyhanko-certvalidator's path, or the refusal its failure means."""
    try:
        return await certificate.async_validate_path()
    except RevokedError as exc:
        raise CardSignatureRejected(RejectionCode.CERTIFICATE_REVOKED, detail=str(exc)) from exc
    except InsufficientRevinfoError as exc:  # and StaleRevinfoError: no usable answer
        log.warning("card certificate revocation status unknown: %s", exc)
        raise CardSignatureRejected(RejectionCode.REVOCATION_UNKNOWN, detail=str(exc)) from exc
    except ExpiredError as exc:
        raise CardSignatureRejected(RejectionCode.CERTIFICATE_EXPIRED, detail=str(exc)) from exc
    except NotYetValidError as exc:
        raise CardSignatureRejected(
            RejectionCode.CERTIFICATE_NOT_YET_VALID, detail=str(exc)
        ) from exc
    except (PathBuildingError, PathValidationError, ValidationError) as exc:
        raise _untrusted(f"{type(exc).__name__}: {exc}") from exc
    except (ValueError, TypeError, KeyError) as exc:  # a certificate that does not parse
        raise _untrusted(f"a certificate is unreadable: {type(exc).__name__}") from exc


def _check_signer_on_crl(revocation: CrlSetup, path: ValidationPath) -> None:
    """The signer's status in the CRL file's index (pyhanko-certvalidator checked the rest)."""
    try:
        revocation.check_signer(path)
    except CertificateListedError as exc:
        raise CardSignatureRejected(RejectionCode.CERTIFICATE_REVOKED, detail=str(exc)) from exc
    except RevocationUnavailableError as exc:
        log.warning("card certificate revocation status unknown: %s", exc)
        raise CardSignatureRejected(RejectionCode.REVOCATION_UNKNOWN, detail=str(exc)) from exc
    except Exception as exc:  # a bug here must not let a signature through
        log.exception("the CRL lookup failed")
        raise CardSignatureRejected(
            RejectionCode.REVOCATION_UNKNOWN, detail=f"CRL lookup failed: {type(exc).__name__}"
        ) from exc


def _check_jpki_profile(signer_der: bytes, path: ValidationPath) -> str:
    """What pyhanko-certvalidator leaves to us; the holder's name."""
    if path.pkix_len - 1 > MAX_CAS_BELOW_THE_ROOT:
        raise _untrusted("more than one CA between the root and the signer's certificate")
    leaf = path.leaf
    assert isinstance(leaf, x509.Certificate)  # noqa: S101 - a certificate was validated
    if leaf.ca:
        raise _untrusted("the signer's certificate is a CA certificate")
    try:
        parsed = JpkiCertificate.from_der(signer_der)
    except CertificateParseError as exc:
        raise _untrusted(f"not a JPKI certificate: {type(exc).__name__}") from exc
    if parsed.name is None or not parsed.is_jpki_signing_certificate:
        raise _untrusted("the certificate does not name its holder as JPKI signing ones do")
    return parsed.name
