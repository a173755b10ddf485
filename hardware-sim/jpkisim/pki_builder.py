"""One way to make test certificates: keys, roots, intermediates, end entities and CRLs.

Everything in this project that mints a certificate or a CRL for tests or development
calls this module: the simulator's JPKI TEST authorities (`pki_ca`) and card
certificates (`pki_profile`), the development seal (`webapp.pdf.dev_certs`), and the test
fixtures that need odd certificates (foreign roots, sub-CAs, wrong key usages).

Why a builder of our own rather than certomancer (declarative PKI from YAML, with OCSP,
CRL and TSA services): our test PKI is *stateful* — `jpki-sim card revoke` changes
`index.json` while `PkiServer` runs, and every OCSP answer and CRL is made from the index
as it is on disk at that moment, from several processes at once. Certomancer declares
revocations in its configuration and serves what it loaded, so revoking a card would mean
rewriting YAML and reloading the services. Its certificates would also need the JPKI
profile (UTF8String otherName personal data, TEST policies with notices) spelled out as
raw extension values, and the fixtures here mint variants (re-issued card certificates,
broken CAs) on the fly, which a configuration file does not express. What we did lack was
one builder instead of five near-copies of `CertificateBuilder` code; this is it, on
`cryptography`, which every caller already uses, and with no new dependency.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

DEFAULT_BACKDATE = datetime.timedelta(minutes=1)
"""How far before "now" a certificate starts, so a verifier's clock a little behind still
accepts it."""


# -- keys and time ----------------------------------------------------------------------


def new_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh RSA-2048 key (exponent 65537), as on the card."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def new_ec_key() -> ec.EllipticCurvePrivateKey:
    """A fresh EC P-256 key."""
    return ec.generate_private_key(ec.SECP256R1())


def key_to_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM (test and development keys only)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def key_to_der(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 DER (what asn1crypto's `PrivateKeyInfo.load` and pyHanko take)."""
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def utc_now() -> datetime.datetime:
    """Now in UTC, to the second (certificate times carry no fractions)."""
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def years_later(moment: datetime.datetime, years: int) -> datetime.datetime:
    """The same calendar moment `years` later (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


# -- extensions -------------------------------------------------------------------------


def common_name(text: str) -> x509.Name:
    """A name with only a commonName: for throwaway certificates."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def key_usage(
    *, digital_signature: bool = False, non_repudiation: bool = False, cert_sign: bool = False
) -> x509.KeyUsage:
    """A keyUsage value; `cert_sign` sets keyCertSign and cRLSign together (a CA's)."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


CA_USAGE = key_usage(cert_sign=True)
"""keyCertSign + cRLSign: a CA that signs certificates and CRLs."""


def authority_key_id(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """The authorityKeyIdentifier pointing at `issuer`'s subjectKeyIdentifier (or, when
    it has none, at the identifier of its RSA or EC public key)."""
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        public_key = issuer.public_key()
        if not isinstance(public_key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
            raise
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key)
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def crl_distribution_point(url: str) -> x509.CRLDistributionPoints:
    """cRLDistributionPoints with one full-name URL."""
    point = x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)
    return x509.CRLDistributionPoints([point])


# -- certificates -----------------------------------------------------------------------


@dataclass(frozen=True)
class Authority:
    """A certificate and the private key that signs with it: a root, a sub-CA, a service."""

    key: PrivateKey
    certificate: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def issue(
    subject: x509.Name,
    key: PrivateKey | PublicKey,
    issuer: Authority | None = None,
    *,
    not_after: datetime.datetime,
    not_before: datetime.datetime | None = None,
    ca: bool | None = False,
    path_length: int | None = None,
    usage: x509.KeyUsage | None = None,
    extended_usage: Sequence[x509.ObjectIdentifier] = (),
    extended_usage_critical: bool = False,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    serial: int | None = None,
    key_ids: bool = True,
) -> x509.Certificate:
    """A certificate for `key` named `subject`, signed by `issuer` (SHA-256).

    With no `issuer` it is self-signed, and `key` must be the private key. Extensions, in
    this order: subjectKeyIdentifier and authorityKeyIdentifier (unless `key_ids` is
    false; no AKI on a self-signed one), basicConstraints (critical; none when `ca` is
    None), keyUsage (critical, when given), extendedKeyUsage (when given), then
    `extensions` as (value, critical). `not_before` defaults to `DEFAULT_BACKDATE` ago;
    `serial` to a random one.
    """
    private: PrivateKey | None = None
    public_key: PublicKey
    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        private, public_key = key, key.public_key()
    else:
        public_key = key
    signer = issuer.key if issuer is not None else private
    if signer is None:
        raise TypeError("a self-signed certificate needs the private key")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before or utc_now() - DEFAULT_BACKDATE)
        .not_valid_after(not_after)
    )
    if key_ids:
        ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
        builder = builder.add_extension(ski, critical=False)
        if issuer is not None:
            builder = builder.add_extension(authority_key_id(issuer.certificate), critical=False)
    if ca is not None:
        constraints = x509.BasicConstraints(ca=ca, path_length=path_length if ca else None)
        builder = builder.add_extension(constraints, critical=True)
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    if extended_usage:
        eku = x509.ExtendedKeyUsage(list(extended_usage))
        builder = builder.add_extension(eku, critical=extended_usage_critical)
    for value, critical in extensions:
        builder = builder.add_extension(value, critical=critical)
    return builder.sign(signer, hashes.SHA256())


def make_ca(
    subject: x509.Name,
    key: PrivateKey,
    issuer: Authority | None = None,
    *,
    not_after: datetime.datetime,
    not_before: datetime.datetime | None = None,
    path_length: int | None = None,
) -> Authority:
    """A CA that signs certificates and CRLs: a self-signed root, or a sub-CA of `issuer`."""
    cert = issue(
        subject, key, issuer, not_after=not_after, not_before=not_before,
        ca=True, path_length=path_length, usage=CA_USAGE,
    )  # fmt: skip
    return Authority(key, cert)


@dataclass(frozen=True)
class ServiceProfile:
    """What a service certificate may do: key usage, extended usages, more extensions."""

    usage: x509.KeyUsage
    extended_usage: tuple[x509.ObjectIdentifier, ...]
    extended_usage_critical: bool = False
    extensions: tuple[tuple[x509.ExtensionType, bool], ...] = ()


OCSP_RESPONDER = ServiceProfile(
    key_usage(digital_signature=True),
    (ExtendedKeyUsageOID.OCSP_SIGNING,),
    extensions=((x509.OCSPNoCheck(), False),),
)
"""A CA's delegated OCSP responder: digitalSignature, OCSPSigning, id-pkix-ocsp-nocheck."""

TIME_STAMPING_AUTHORITY = ServiceProfile(
    key_usage(digital_signature=True, non_repudiation=True),
    (ExtendedKeyUsageOID.TIME_STAMPING,),
    extended_usage_critical=True,
)
"""An RFC 3161 TSA: digitalSignature + nonRepudiation, timeStamping as its only, critical,
extended usage (RFC 3161 2.3)."""


def service_cert(
    profile: ServiceProfile,
    subject: x509.Name,
    key: PrivateKey | PublicKey,
    issuer: Authority,
    *,
    not_after: datetime.datetime,
    not_before: datetime.datetime | None = None,
) -> x509.Certificate:
    """An end-entity certificate for a service (`OCSP_RESPONDER`, `TIME_STAMPING_AUTHORITY`)
    under `issuer`; `not_after` chooses how long it lasts (a TSA certificate that ends soon,
    for tests of timestamp renewal)."""
    return issue(
        subject, key, issuer, not_after=not_after, not_before=not_before,
        usage=profile.usage, extended_usage=profile.extended_usage,
        extended_usage_critical=profile.extended_usage_critical, extensions=profile.extensions,
    )  # fmt: skip


# -- CRLs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevokedEntry:
    """One line of a CRL: which serial, since when, why (None: no reason given)."""

    serial: int
    revoked_at: datetime.datetime
    reason: x509.ReasonFlags | None = None


def make_crl(
    issuer: Authority,
    *,
    number: int,
    this_update: datetime.datetime,
    next_update: datetime.datetime,
    revoked: Iterable[RevokedEntry] = (),
) -> x509.CertificateRevocationList:
    """`issuer`'s CRL with CRL number and authority key id, listing `revoked`."""
    entries = []
    for entry in revoked:
        revoked_cert = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.revoked_at)
        )
        if entry.reason is not None:
            revoked_cert = revoked_cert.add_extension(x509.CRLReason(entry.reason), critical=False)
        entries.append(revoked_cert.build())
    builder = x509.CertificateRevocationListBuilder(  # all at once: adding one by one is O(n²)
        issuer_name=issuer.certificate.subject,
        last_update=this_update,
        next_update=next_update,
        extensions=[
            x509.Extension(x509.CRLNumber.oid, False, x509.CRLNumber(number)),
            x509.Extension(
                x509.AuthorityKeyIdentifier.oid, False, authority_key_id(issuer.certificate)
            ),
        ],
        revoked_certificates=entries,
    )
    return builder.sign(issuer.key, hashes.SHA256())
