"""The certificate checks of a card signature: path to an anchor, validity, key usage, profile.

JPKI signing certificates are issued directly by a self-signed root; one CA certificate
between the signer and an anchor, taken from the CMS, is also accepted. All JPKI roots
share one name, so an issuer is found by name and confirmed by signature. Anchors are
trusted as configured (their own validity is not checked). A critical extension that
cannot be processed here (unknown to `cryptography`, or a name / policy constraint on
the intermediate) makes a certificate untrusted, as RFC 5280 asks.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from card.certificate import CertificateParseError, JpkiCertificate
from webapp.card_validation.rejection import CardSignatureRejected, RejectionCode
from webapp.card_validation.revocation import is_directly_issued_by

_UNPROCESSED_CA_CONSTRAINTS = (x509.NameConstraints, x509.PolicyConstraints, x509.InhibitAnyPolicy)


@dataclass(frozen=True)
class CertificatePath:
    """The signer's certificate, the certificate that issued it, and the anchor above."""

    signer: x509.Certificate
    issuer: x509.Certificate
    """The anchor itself, or the intermediate."""
    anchor: x509.Certificate
    intermediate: x509.Certificate | None


def _untrusted(detail: str) -> CardSignatureRejected:
    return CardSignatureRejected(RejectionCode.UNTRUSTED_CERTIFICATE, detail=detail)


def build_path(
    signer: x509.Certificate,
    cms_certificates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
) -> CertificatePath:
    """The path from `signer` to an anchor, directly or through one CA from the CMS."""
    if _unprocessed_critical_extension(signer, is_ca=False) or _basic_constraints_ca(signer):
        raise _untrusted(
            "the signer's certificate is a CA or has an unprocessed critical extension"
        )
    for anchor in anchors:
        if is_directly_issued_by(signer, anchor):
            return CertificatePath(signer, anchor, anchor, None)
    for candidate in cms_certificates:
        if candidate == signer or not is_directly_issued_by(signer, candidate):
            continue
        for anchor in anchors:
            if _may_issue_through(candidate, anchor):
                return CertificatePath(signer, candidate, anchor, candidate)
    raise _untrusted("the signer's certificate does not chain to a configured anchor")


def _may_issue_through(intermediate: x509.Certificate, anchor: x509.Certificate) -> bool:
    if not (_basic_constraints_ca(intermediate) and is_directly_issued_by(intermediate, anchor)):
        return False
    if _unprocessed_critical_extension(intermediate, is_ca=True):
        return False
    try:
        usage = intermediate.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.key_cert_sign:
            return False
    except x509.ExtensionNotFound:
        pass
    try:
        constraints = anchor.extensions.get_extension_for_class(x509.BasicConstraints).value
    except (x509.ExtensionNotFound, ValueError):
        return True
    return constraints.path_length is None or constraints.path_length >= 1


def _basic_constraints_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _unprocessed_critical_extension(certificate: x509.Certificate, *, is_ca: bool) -> bool:
    for extension in certificate.extensions:
        if not extension.critical:
            continue
        if isinstance(extension.value, x509.UnrecognizedExtension):
            return True
        if is_ca and isinstance(extension.value, _UNPROCESSED_CA_CONSTRAINTS):
            return True
    return False


def check_validity(path: CertificatePath, at: datetime.datetime) -> None:
    """The signer's certificate and the intermediate, if any, must be valid at `at`."""
    for certificate in (path.signer, path.intermediate):
        if certificate is None:
            continue
        if at < certificate.not_valid_before_utc:
            raise CardSignatureRejected(RejectionCode.CERTIFICATE_NOT_YET_VALID)
        if at > certificate.not_valid_after_utc:
            raise CardSignatureRejected(RejectionCode.CERTIFICATE_EXPIRED)


def check_signing_certificate(signer_der: bytes, signer: x509.Certificate) -> str:
    """KeyUsage with nonRepudiation, and a JPKI signing certificate: its holder's name."""
    try:
        usage = signer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or not usage.content_commitment:
        raise CardSignatureRejected(
            RejectionCode.KEY_USAGE, detail="the certificate does not allow nonRepudiation"
        )
    try:
        parsed = JpkiCertificate.from_der(signer_der)
    except CertificateParseError as exc:
        raise _untrusted(f"not a JPKI certificate: {type(exc).__name__}") from exc
    if parsed.name is None or not parsed.is_jpki_signing_certificate:
        raise _untrusted("the certificate does not name its holder as JPKI signing ones do")
    return parsed.name
