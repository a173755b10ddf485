"""Certificate authorities of the test PKI: TEST roots, OCSP responder, TSA, CRLs, key files.

Every name here says TEST; none of them is, or can be mistaken for, the real JPKI root
`C=JP, O=JPKI, OU=JPKI for digital signature, OU=Japan Agency for Local Authority
Information Systems`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from jpkisim.pki_profile import authority_key_id, utc_now, years_later

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


def new_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh RSA-2048 key (exponent 65537), as on the card."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_to_pem(key: rsa.RSAPrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM (this is a test PKI)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _usage(*, sign_certs: bool = False, non_repudiation: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not sign_certs,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certs,
        crl_sign=sign_certs,
        encipher_only=False,
        decipher_only=False,
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: rsa.RSAPublicKey,
    years: int,
    lifetime: datetime.timedelta | None = None,
) -> x509.CertificateBuilder:
    now = utc_now()
    not_after = now + lifetime if lifetime is not None else years_later(now, years)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
    )


def build_root(name: x509.Name, key: rsa.RSAPrivateKey) -> x509.Certificate:
    """A self-signed root that signs certificates and CRLs."""
    builder = (
        _builder(name, name, key.public_key(), ROOT_VALIDITY_YEARS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(sign_certs=True), critical=True)
    )
    return builder.sign(key, hashes.SHA256())


def _build_service(
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    lifetime: datetime.timedelta | None = None,
) -> x509.CertificateBuilder:
    return (
        _builder(subject, issuer.subject, public_key, SERVICE_VALIDITY_YEARS, lifetime)
        .add_extension(authority_key_id(issuer), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )


def build_ocsp_responder(
    public_key: rsa.RSAPublicKey, issuer: x509.Certificate, issuer_key: rsa.RSAPrivateKey
) -> x509.Certificate:
    """The signing root's delegated OCSP responder (OCSPSigning, id-pkix-ocsp-nocheck)."""
    builder = (
        _build_service(OCSP_RESPONDER_NAME, public_key, issuer, issuer_key)
        .add_extension(_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
    )
    return builder.sign(issuer_key, hashes.SHA256())


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
    service = _build_service(TSA_NAME, public_key, issuer, issuer_key, lifetime)
    builder = service.add_extension(_usage(non_repudiation=True), critical=True).add_extension(
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
    )
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass(frozen=True)
class RevokedEntry:
    """One line of a CRL: which serial, since when, why (None: no reason given)."""

    serial: int
    revoked_at: datetime.datetime
    reason: x509.ReasonFlags | None


def build_crl(
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    number: int,
    revoked: Iterable[RevokedEntry],
) -> x509.CertificateRevocationList:
    """A CRL valid from now for `CRL_LIFETIME`, with CRL number and authority key id."""
    now = utc_now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(now)
        .next_update(now + CRL_LIFETIME)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(authority_key_id(issuer), critical=False)
    )
    for entry in revoked:
        revoked_cert = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.revoked_at)
        )
        if entry.reason is not None:
            revoked_cert = revoked_cert.add_extension(x509.CRLReason(entry.reason), critical=False)
        builder = builder.add_revoked_certificate(revoked_cert.build())
    return builder.sign(issuer_key, hashes.SHA256())
