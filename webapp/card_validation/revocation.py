"""The revocation seam: what a checker answers, the opt-out checker, and shared checks.

A `RevocationChecker` answers "good" or "revoked" with the evidence it relied on, or
raises `RevocationUnavailableError` when it cannot tell (responder down, an answer that
is unsigned, stale, for another certificate, or "unknown"). The validator turns the
latter into `revocation_unknown`: never accept what could not be checked.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

CLOCK_SKEW = datetime.timedelta(minutes=5)
"""How far in the future a thisUpdate / lastUpdate may be, for clocks that disagree."""

RevocationMethod = Literal["ocsp", "crl", "none"]
RevocationStatus = Literal["good", "revoked", "not_checked"]


@dataclass(frozen=True)
class RevocationEvidence:
    """A checker's answer and what it rests on (kept for the PDF's validation data)."""

    method: RevocationMethod
    status: RevocationStatus
    """`not_checked` only with method `none`."""
    ocsp_response: bytes | None = None
    """The DER OCSPResponse, when method is `ocsp`."""
    crl: bytes | None = None
    """The DER CRL, when method is `crl`."""
    revoked_at: datetime.datetime | None = None


class RevocationUnavailableError(Exception):
    """The status could not be established; the message says why (for the log only)."""


@runtime_checkable
class RevocationChecker(Protocol):
    """Tells whether `certificate`, issued by `issuer`, is revoked at `at` (aware UTC)."""

    async def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime.datetime
    ) -> RevocationEvidence:
        """The evidence; raise `RevocationUnavailableError` when there is no usable answer."""
        ...


class NoRevocationChecker:
    """The explicit opt-out: nothing is checked and the evidence says so (method "none")."""

    async def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime.datetime
    ) -> RevocationEvidence:
        return RevocationEvidence(method="none", status="not_checked")


def verify_signature(
    public_key: object,
    signature: bytes,
    data: bytes,
    algorithm: hashes.HashAlgorithm | None,
) -> bool:
    """Whether an RSA PKCS#1 v1.5 or ECDSA `signature` over `data` verifies with `public_key`."""
    if algorithm is None:
        return False
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return True


def is_directly_issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `issuer`'s subject is `certificate`'s issuer and its key signed `certificate`."""
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def is_valid_at(certificate: x509.Certificate, at: datetime.datetime) -> bool:
    """Whether `at` lies within the certificate's validity period."""
    return certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc
