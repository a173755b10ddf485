"""The JPKI card-certificate profile of the test PKI: eras, personal data, certificate builders.

The signing certificate follows what is known of the real 署名用電子証明書 (see
docs/design jpki-card.md): RSA-2048, sha256WithRSAEncryption, critical keyUsage
digitalSignature + nonRepudiation, personal data only in subjectAltName otherName entries
under 1.2.392.200149.8.5.5, listed in the order seen on a real card (1, 4, 3, 5, 2, 6).
"""

from __future__ import annotations

import datetime
import re
import secrets
from dataclasses import dataclass

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

# Personal-data otherName types of the real JPKI signing certificate.
JPKI_OTHERNAME_ARC = "1.2.392.200149.8.5.5"
OID_NAME = x509.ObjectIdentifier(f"{JPKI_OTHERNAME_ARC}.1")
OID_NAME_SUBSTITUTES = x509.ObjectIdentifier(f"{JPKI_OTHERNAME_ARC}.2")
OID_SEX = x509.ObjectIdentifier(f"{JPKI_OTHERNAME_ARC}.3")
OID_BIRTH = x509.ObjectIdentifier(f"{JPKI_OTHERNAME_ARC}.4")
OID_ADDRESS = x509.ObjectIdentifier(f"{JPKI_OTHERNAME_ARC}.5")
OID_ADDRESS_SUBSTITUTES = x509.ObjectIdentifier(f"{JPKI_OTHERNAME_ARC}.6")

# Test OIDs: our own arc 2.25.<UUID> (ITU-T X.667: a UUID-derived OID needs no
# registration), so nothing here can be mistaken for a real JPKI or TSA policy.
TEST_OID_ARC = "2.25.108345518625644708202120805352488937870"
TEST_POLICY_CARD_SIGN = x509.ObjectIdentifier(f"{TEST_OID_ARC}.1")
TEST_POLICY_CARD_AUTH = x509.ObjectIdentifier(f"{TEST_OID_ARC}.2")
TEST_POLICY_TSA = f"{TEST_OID_ARC}.3"

SEX_CODES = {"1": "male", "2": "female", "3": "other or unknown"}

# (first day, era code), newest first. 明治 starts on its lunar-calendar date as the
# brief gives it; nobody alive was born that early, so the exact day does not matter.
_ERAS: tuple[tuple[datetime.date, int], ...] = (
    (datetime.date(2019, 5, 1), 5),  # 令和
    (datetime.date(1989, 1, 8), 4),  # 平成
    (datetime.date(1926, 12, 25), 3),  # 昭和
    (datetime.date(1912, 7, 30), 2),  # 大正
    (datetime.date(1868, 9, 8), 1),  # 明治
)

_PREFECTURE = re.compile(r"^(東京都|北海道|京都府|大阪府|.{2,3}?県)")
CARD_VALIDITY_YEARS = 5
_BACKDATE = datetime.timedelta(minutes=1)


def era_code(date: datetime.date) -> int:
    """JPKI era code of a date: 1 明治 … 5 令和, 0 before 明治 (unknown)."""
    for first_day, code in _ERAS:
        if date >= first_day:
            return code
    return 0


def jpki_birth_string(date: datetime.date) -> str:
    """Birth date as in the certificate: era code then Gregorian `YYYYMMDD`."""
    return f"{era_code(date)}{date:%Y%m%d}"


@dataclass(frozen=True)
class CardIdentity:
    """The personal data a card's signing certificate carries (a demo person by default)."""

    name: str = "試験 花子"
    birth: datetime.date = datetime.date(1990, 4, 1)
    sex: str = "2"
    address: str = "東京都千代田区霞が関二丁目1番2号"

    def __post_init__(self) -> None:
        if self.sex not in SEX_CODES:
            raise ValueError(f"sex must be one of {sorted(SEX_CODES)}, not {self.sex!r}")
        if not self.name or not self.address:
            raise ValueError("name and address must not be empty")

    @property
    def prefecture(self) -> str:
        """Prefecture at the start of the address, or "Tokyo" when none is recognised."""
        found = _PREFECTURE.match(self.address)
        return found.group(1) if found else "Tokyo"


def utf8_other_name(type_id: x509.ObjectIdentifier, text: str) -> x509.OtherName:
    """An otherName whose `[0] EXPLICIT` value is a UTF8String."""
    return x509.OtherName(type_id, core.UTF8String(text).dump())


def jpki_subject_alt_name(identity: CardIdentity) -> x509.SubjectAlternativeName:
    """The personal-data subjectAltName, in the order a real card lists it."""
    return x509.SubjectAlternativeName(
        [
            utf8_other_name(OID_NAME, identity.name),
            utf8_other_name(OID_BIRTH, jpki_birth_string(identity.birth)),
            utf8_other_name(OID_SEX, identity.sex),
            utf8_other_name(OID_ADDRESS, identity.address),
            utf8_other_name(OID_NAME_SUBSTITUTES, "0" * len(identity.name)),
            utf8_other_name(OID_ADDRESS_SUBSTITUTES, "0" * len(identity.address)),
        ]
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


def authority_key_id(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """The authorityKeyIdentifier pointing at `issuer`'s subjectKeyIdentifier."""
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _random_card_id() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(20))


def _card_builder(
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    issuer: x509.Certificate,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(years_later(now, CARD_VALIDITY_YEARS))
        .add_extension(authority_key_id(issuer), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, digital_signature: bool, non_repudiation: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _policies(oid: x509.ObjectIdentifier) -> x509.CertificatePolicies:
    notice = x509.UserNotice(None, "mynasign TEST certificate - not issued by J-LIS")
    return x509.CertificatePolicies([x509.PolicyInformation(oid, [notice])])


def build_card_sign_cert(
    identity: CardIdentity,
    public_key: rsa.RSAPublicKey,
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    base_url: str,
) -> x509.Certificate:
    """A signing certificate (署名用電子証明書) with the real JPKI profile."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, identity.prefecture),
            x509.NameAttribute(NameOID.COMMON_NAME, _random_card_id()),
        ]
    )
    builder = (
        _card_builder(subject, public_key, issuer, utc_now())
        .add_extension(_key_usage(digital_signature=True, non_repudiation=True), critical=True)
        .add_extension(_policies(TEST_POLICY_CARD_SIGN), critical=False)
        .add_extension(jpki_subject_alt_name(identity), critical=False)
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(f"{base_url}/ocsp"),
                    ),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(f"{base_url}/certs/sign-root.crt"),
                    ),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(f"{base_url}/crl/sign.crl")],
                        None,
                        None,
                        None,
                    )
                ]
            ),
            critical=False,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


def build_card_auth_cert(
    public_key: rsa.RSAPublicKey,
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    base_url: str,
) -> x509.Certificate:
    """An authentication certificate (利用者証明用電子証明書): no personal data at all."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.COMMON_NAME, _random_card_id()),
        ]
    )
    builder = (
        _card_builder(subject, public_key, issuer, utc_now())
        .add_extension(_key_usage(digital_signature=True, non_repudiation=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(_policies(TEST_POLICY_CARD_AUTH), critical=False)
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(f"{base_url}/certs/auth-root.crt"),
                    )
                ]
            ),
            critical=False,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())
