"""Certificate authorities of the test PKI: TEST roots, OCSP responder, TSA and CRLs.

What they are (names, lifetimes); how they are made is `pki_builder`'s.

Every name here says TEST; none of them is, or can be mistaken for, the real JPKI root
`C=JP, O=JPKI, OU=JPKI for digital signature, OU=Japan Agency for Local Authority
Information Systems`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from jpkisim import pki_builder
from jpkisim.pki_builder import Authority, RevokedEntry, utc_now, years_later

_NOT_JLIS = "mynasign test PKI - not Japan Agency for Local Authority Information Systems"


def _name(*attributes: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


SIGN_ROOT_NAME = _name(
    (NameOID.COUNTRY_NAME, "JP"),
    (NameOID.ORGANIZATION_NAME, "JPKI TEST"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI TEST for digital signature"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, _NOT_JLIS),
)
AUTH_ROOT_NAME = _name(
    (NameOID.COUNTRY_NAME, "JP"),
    (NameOID.ORGANIZATION_NAME, "JPKI TEST"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI TEST for user authentication"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, _NOT_JLIS),
)
OCSP_RESPONDER_NAME = _name(
    (NameOID.COUNTRY_NAME, "JP"),
    (NameOID.ORGANIZATION_NAME, "JPKI TEST"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI TEST for digital signature"),
    (NameOID.COMMON_NAME, "JPKI TEST OCSP responder (mynasign test PKI)"),
)
TSA_ROOT_NAME = _name(
    (NameOID.COUNTRY_NAME, "JP"),
    (NameOID.ORGANIZATION_NAME, "mynasign TEST"),
    (NameOID.COMMON_NAME, "mynasign TEST time-stamping root"),
)
TSA_NAME = _name(
    (NameOID.COUNTRY_NAME, "JP"),
    (NameOID.ORGANIZATION_NAME, "mynasign TEST"),
    (NameOID.COMMON_NAME, "mynasign TEST TSA"),
)

ROOT_VALIDITY_YEARS = 20
SERVICE_VALIDITY_YEARS = 10
CRL_LIFETIME = datetime.timedelta(days=1)


def build_root(name: x509.Name, key: rsa.RSAPrivateKey) -> x509.Certificate:
    """A self-signed root that signs certificates and CRLs."""
    not_after = years_later(utc_now(), ROOT_VALIDITY_YEARS)
    return pki_builder.make_ca(name, key, not_after=not_after).certificate


def build_ocsp_responder(
    public_key: rsa.RSAPublicKey, issuer: x509.Certificate, issuer_key: rsa.RSAPrivateKey
) -> x509.Certificate:
    """The signing root's delegated OCSP responder (OCSPSigning, id-pkix-ocsp-nocheck)."""
    not_after = years_later(utc_now(), SERVICE_VALIDITY_YEARS)
    authority = Authority(issuer_key, issuer)
    return pki_builder.service_cert(
        pki_builder.OCSP_RESPONDER, OCSP_RESPONDER_NAME, public_key, authority, not_after=not_after
    )


def build_tsa(
    public_key: rsa.RSAPublicKey,
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    lifetime: datetime.timedelta | None = None,
) -> x509.Certificate:
    """The RFC 3161 TSA certificate: timeStamping as its only, critical, extended usage.

    `lifetime` shortens it (from now): a TSA whose certificate ends soon, for tests of
    timestamp renewal.
    """
    now = utc_now()
    not_after = now + lifetime if lifetime is not None else years_later(now, SERVICE_VALIDITY_YEARS)
    authority = Authority(issuer_key, issuer)
    profile = pki_builder.TIME_STAMPING_AUTHORITY
    return pki_builder.service_cert(profile, TSA_NAME, public_key, authority, not_after=not_after)


def build_crl(
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    number: int,
    revoked: Iterable[RevokedEntry],
) -> x509.CertificateRevocationList:
    """A CRL valid from now for `CRL_LIFETIME`, with CRL number and authority key id."""
    now = utc_now()
    return pki_builder.make_crl(
        Authority(issuer_key, issuer), number=number, this_update=now,
        next_update=now + CRL_LIFETIME, revoked=revoked,
    )  # fmt: skip
