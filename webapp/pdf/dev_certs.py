"""Certificates and CRLs of the development seal: a root CA, the seal certificate, the CRL.

Names say DEVELOPMENT; keys are EC P-256. The seal certificate carries what a document
signing certificate should: digitalSignature + nonRepudiation (critical), the Microsoft
documentSigning EKU, and, when given one, the URL where its CRL is published; without a
revocation source an ETSI long-term (LTA) validation cannot accept the seal.

They are made by the project's one certificate builder, `jpkisim.pki_builder`, imported
only when a development certificate is made: the webapp does not load the simulator's
package otherwise.
"""

from __future__ import annotations

import datetime

from cryptography import x509
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
    from jpkisim import pki_builder  # noqa: PLC0415 - development only

    key = pki_builder.new_ec_key()
    root = pki_builder.make_ca(
        _name("mynasign DEV platform seal root CA (DEVELOPMENT)"), key,
        not_before=now - _BACKDATE, not_after=now + ROOT_VALIDITY, path_length=0,
    )  # fmt: skip
    return root.certificate, key


def build_seal(
    root: Root, now: datetime.datetime, crl_url: str | None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A new seal key and its certificate under `root`."""
    from jpkisim import pki_builder  # noqa: PLC0415 - development only

    root_cert, root_key = root
    key = pki_builder.new_ec_key()
    extensions = [] if crl_url is None else [(pki_builder.crl_distribution_point(crl_url), False)]
    cert = pki_builder.issue(
        _name("mynasign DEV platform seal (DEVELOPMENT)"), key,
        pki_builder.Authority(root_key, root_cert),
        not_before=now - _BACKDATE, not_after=now + SEAL_VALIDITY,
        usage=pki_builder.key_usage(digital_signature=True, non_repudiation=True),
        extended_usage=[DOCUMENT_SIGNING_EKU], extensions=extensions,
    )  # fmt: skip
    return cert, key


def build_crl(root: Root, now: datetime.datetime, number: int) -> x509.CertificateRevocationList:
    """The root's CRL: nothing revoked, valid for `CRL_VALIDITY`."""
    from jpkisim import pki_builder  # noqa: PLC0415 - development only

    root_cert, root_key = root
    return pki_builder.make_crl(
        pki_builder.Authority(root_key, root_cert), number=number,
        this_update=now - _BACKDATE, next_update=now + CRL_VALIDITY,
    )  # fmt: skip


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
