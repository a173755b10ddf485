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
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from jpkisim.pki_builder import (
    Authority,
    crl_distribution_point,
    issue,
    key_usage,
    utc_now,
    years_later,
)

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


def _random_card_id() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(20))


def _policies(oid: x509.ObjectIdentifier) -> x509.CertificatePolicies:
    notice = x509.UserNotice(None, "mynasign TEST certificate - not issued by J-LIS")
    return x509.CertificatePolicies([x509.PolicyInformation(oid, [notice])])


def _access(base_url: str, *, ocsp: bool, root_file: str) -> x509.AuthorityInformationAccess:
    """authorityInfoAccess: the OCSP responder (when `ocsp`) and where the root is."""
    descriptions = [
        x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS,
            x509.UniformResourceIdentifier(f"{base_url}/certs/{root_file}"),
        )
    ]
    if ocsp:
        responder = x509.UniformResourceIdentifier(f"{base_url}/ocsp")
        descriptions.insert(
            0, x509.AccessDescription(AuthorityInformationAccessOID.OCSP, responder)
        )
    return x509.AuthorityInformationAccess(descriptions)


def _card_cert(
    subject: list[x509.NameAttribute[str]],
    public_key: rsa.RSAPublicKey,
    issuer: Authority,
    usage: x509.KeyUsage,
    extensions: list[tuple[x509.ExtensionType, bool]],
    extended_usage: tuple[x509.ObjectIdentifier, ...] = (),
) -> x509.Certificate:
    """A card certificate: C=JP, the given attributes, a random 20-digit card id as CN;
    valid for `CARD_VALIDITY_YEARS`; no basicConstraints, as on a real card."""
    card_id = x509.NameAttribute(NameOID.COMMON_NAME, _random_card_id())
    return issue(
        x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), *subject, card_id]),
        public_key, issuer, not_after=years_later(utc_now(), CARD_VALIDITY_YEARS),
        ca=None, usage=usage, extended_usage=extended_usage, extensions=extensions,
    )  # fmt: skip


def build_card_sign_cert(
    identity: CardIdentity, public_key: rsa.RSAPublicKey, issuer: Authority, base_url: str
) -> x509.Certificate:
    """A signing certificate (署名用電子証明書) with the real JPKI profile."""
    return _card_cert(
        [x509.NameAttribute(NameOID.LOCALITY_NAME, identity.prefecture)],
        public_key,
        issuer,
        key_usage(digital_signature=True, non_repudiation=True),
        [
            (_policies(TEST_POLICY_CARD_SIGN), False),
            (jpki_subject_alt_name(identity), False),
            (_access(base_url, ocsp=True, root_file="sign-root.crt"), False),
            (crl_distribution_point(f"{base_url}/crl/sign.crl"), False),
        ],
    )


def build_card_auth_cert(
    public_key: rsa.RSAPublicKey, issuer: Authority, base_url: str
) -> x509.Certificate:
    """An authentication certificate (利用者証明用電子証明書): no personal data at all."""
    return _card_cert(
        [],
        public_key,
        issuer,
        key_usage(digital_signature=True),
        [
            (_policies(TEST_POLICY_CARD_AUTH), False),
            (_access(base_url, ocsp=False, root_file="auth-root.crt"), False),
        ],
        extended_usage=(ExtendedKeyUsageOID.CLIENT_AUTH,),
    )
