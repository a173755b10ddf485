"""Certificates and CRLs of the development seal: a root CA, the seal certificate, the CRL.

Names say DEVELOPMENT; keys are EC P-256. The seal certificate carries what a document
signing certificate should: digitalSignature + nonRepudiation (critical), the Microsoft
documentSigning EKU, and, when given one, the URL where its CRL is published; without a
revocation source an ETSI long-term (LTA) validation cannot accept the seal.
"""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DOCUMENT_SIGNING_EKU = x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")
ROOT_VALIDITY = datetime.timedelta(days=10 * 365)
SEAL_VALIDITY = datetime.timedelta(days=3 * 365)
CRL_VALIDITY = datetime.timedelta(days=7)
_BACKDATE = datetime.timedelta(minutes=5)
_ORGANIZATION = "mynasign DEVELOPMENT - not for production"

Root = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def build_root(now: datetime.datetime) -> Root:
    """A new self-signed development root CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("mynasign DEV platform seal root CA (DEVELOPMENT)")
    cert = (
        _builder(name, name, key.public_key(), now, ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def build_seal(
    root: Root, now: datetime.datetime, crl_url: str | None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A new seal key and its certificate under `root`."""
    root_cert, root_key = root
    key = ec.generate_private_key(ec.SECP256R1())
    root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        _builder(
            _name("mynasign DEV platform seal (DEVELOPMENT)"),
            root_cert.subject,
            key.public_key(),
            now,
            SEAL_VALIDITY,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([DOCUMENT_SIGNING_EKU]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
    )
    if crl_url is not None:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return builder.sign(root_key, hashes.SHA256()), key


def build_crl(root: Root, now: datetime.datetime, number: int) -> x509.CertificateRevocationList:
    """The root's CRL: nothing revoked, valid for `CRL_VALIDITY`."""
    root_cert, root_key = root
    root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root_cert.subject)
        .last_update(now - _BACKDATE)
        .next_update(now + CRL_VALIDITY)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )


def crl_url_of(cert: x509.Certificate) -> str | None:
    """The first CRL distribution point URL of `cert`, if it names one."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return None
    for point in points:
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier):
                return str(name.value)
    return None


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
    validity: datetime.timedelta,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )
