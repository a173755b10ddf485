"""What a JPKI signing certificate says about its holder, and which JPKI root issued it.

The personal data are subjectAltName otherName entries under 1.2.392.200149.8.5.5, each
a UTF8String, in no fixed order: .1 name, .2 name substitute-character flags, .3 sex,
.4 birth date as `EYYYYMMDD` (E the era code, YYYY Gregorian), .5 address, .6 address
substitute-character flags.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, IntEnum

from asn1crypto import core
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from card.errors import CardError

JPKI_PERSONAL_DATA_ARC = "1.2.392.200149.8.5.5"
_NAME, _NAME_FLAGS, _SEX, _BIRTH, _ADDRESS, _ADDRESS_FLAGS = (
    f"{JPKI_PERSONAL_DATA_ARC}.{n}" for n in range(1, 7)
)
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    x509.DuplicateExtension,
    x509.InvalidVersion,
    x509.UnsupportedGeneralNameType,
    UnsupportedAlgorithm,
)


class CertificateParseError(CardError):
    """The certificate, or a JPKI entry in it, is not what the JPKI profile says."""


class Era(IntEnum):
    """Japanese era codes of the birth date entry."""

    UNKNOWN = 0
    MEIJI = 1
    TAISHO = 2
    SHOWA = 3
    HEISEI = 4
    REIWA = 5

    @property
    def kanji(self) -> str:
        """The era's name as written in Japanese (`不明` when unknown)."""
        return ("不明", "明治", "大正", "昭和", "平成", "令和")[self.value]


class Sex(Enum):
    """The holder's sex as the certificate records it."""

    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    """Code 3: other or not known."""

    @property
    def kanji(self) -> str:
        """The label printed on Japanese documents."""
        return {Sex.MALE: "男", Sex.FEMALE: "女", Sex.OTHER: "その他"}[self]


_SEX_CODES = {"1": Sex.MALE, "2": Sex.FEMALE, "3": Sex.OTHER, "男": Sex.MALE, "女": Sex.FEMALE}


@dataclass(frozen=True)
class JpkiCertificate:
    """A parsed JPKI certificate; personal-data fields are None when the entry is absent."""

    der: bytes = field(repr=False)
    serial: int
    issuer: str
    subject: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    digital_signature: bool
    non_repudiation: bool
    name: str | None
    name_substitute_flags: str | None
    sex_code: str | None
    sex: Sex | None
    birth: str | None
    """The raw `EYYYYMMDD` entry."""
    birth_era: Era | None
    birth_date: datetime.date | None
    """None also when the entry gives a zero year, month or day (not known)."""
    address: str | None
    address_substitute_flags: str | None

    @classmethod
    def from_der(cls, der: bytes) -> JpkiCertificate:
        """Parse a DER certificate; raise `CertificateParseError` if it or a JPKI entry is bad."""
        try:
            cert = x509.load_der_x509_certificate(der)
            return cls._from_certificate(bytes(der), cert)
        except _PARSE_ERRORS as exc:
            raise CertificateParseError(f"not a readable X.509 certificate: {exc}") from exc

    @classmethod
    def _from_certificate(cls, der: bytes, cert: x509.Certificate) -> JpkiCertificate:
        entries = _personal_data_entries(cert)
        key_usage = _key_usage(cert)
        sex_code = entries.get(_SEX)
        birth = entries.get(_BIRTH)
        era, birth_date = _parse_birth(birth) if birth is not None else (None, None)
        return cls(
            der=der,
            serial=cert.serial_number,
            issuer=cert.issuer.rfc4514_string(),
            subject=cert.subject.rfc4514_string(),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            digital_signature=key_usage is not None and key_usage.digital_signature,
            non_repudiation=key_usage is not None and key_usage.content_commitment,
            name=entries.get(_NAME),
            name_substitute_flags=entries.get(_NAME_FLAGS),
            sex_code=sex_code,
            sex=_parse_sex(sex_code) if sex_code is not None else None,
            birth=birth,
            birth_era=era,
            birth_date=birth_date,
            address=entries.get(_ADDRESS),
            address_substitute_flags=entries.get(_ADDRESS_FLAGS),
        )

    @property
    def is_jpki_signing_certificate(self) -> bool:
        """True when it names its holder (SAN name entry) and allows nonRepudiation."""
        return self.name is not None and self.non_repudiation

    def root_generation(self, anchors: Mapping[str, bytes]) -> str | None:
        """The name of the anchor (DER or PEM) that directly issued this certificate, or None.

        An anchor issued it when its subject is this certificate's issuer and its key
        verifies this certificate's signature; all JPKI roots share one name, so only the
        signature tells the generations apart.
        """
        cert = x509.load_der_x509_certificate(self.der)
        for anchor_name, anchor_bytes in anchors.items():
            anchor = _load_anchor(anchor_name, anchor_bytes)
            try:
                cert.verify_directly_issued_by(anchor)
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                continue
            return anchor_name
        return None


def _load_anchor(name: str, data: bytes) -> x509.Certificate:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise CertificateParseError(f"trust anchor {name!r} is not a certificate: {exc}") from exc


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _personal_data_entries(cert: x509.Certificate) -> dict[str, str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return {}
    entries: dict[str, str] = {}
    for other_name in san.get_values_for_type(x509.OtherName):
        oid = other_name.type_id.dotted_string
        if not oid.startswith(JPKI_PERSONAL_DATA_ARC + "."):
            continue
        if oid in entries:
            raise CertificateParseError(f"subjectAltName entry {oid} appears twice")
        entries[oid] = _utf8_string(oid, other_name.value)
    return entries


def _utf8_string(oid: str, value: bytes) -> str:
    try:
        parsed = core.UTF8String.load(value, strict=True)
        text = parsed.native
    except (ValueError, TypeError) as exc:
        raise CertificateParseError(f"subjectAltName entry {oid} is not a UTF8String") from exc
    if not isinstance(text, str):
        raise CertificateParseError(f"subjectAltName entry {oid} is not a UTF8String")
    return text


def _parse_sex(code: str) -> Sex:
    try:
        return _SEX_CODES[code]
    except KeyError:
        raise CertificateParseError(f"unknown sex code {code!r}") from None


def _parse_birth(value: str) -> tuple[Era, datetime.date | None]:
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        raise CertificateParseError(f"birth date {value!r} is not EYYYYMMDD")
    era_code, year, month, day = int(value[0]), int(value[1:5]), int(value[5:7]), int(value[7:9])
    if era_code not in Era._value2member_map_:
        raise CertificateParseError(f"birth date {value!r} has unknown era code {era_code}")
    if 0 in (year, month, day):
        return Era(era_code), None
    try:
        return Era(era_code), datetime.date(year, month, day)
    except ValueError as exc:
        raise CertificateParseError(f"birth date {value!r} is not a calendar date") from exc
