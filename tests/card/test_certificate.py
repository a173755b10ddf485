"""Tests of JPKI certificate parsing: personal-data entries, key usage and root generation."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from card.certificate import CertificateParseError, Era, JpkiCertificate, Sex
from card.errors import CardError
from jpkisim.pki import IssuedCard, TestPki
from tests.card.conftest import (
    JPKI_ROOT_NAME,
    PERSONAL_DATA,
    SIM_IDENTITY,
    TestCa,
    jpki_entries,
    make_card_certificate,
    make_root,
    utf8,
)

Factory = Callable[..., bytes]
JPKI_ISSUER = (
    "OU=Japan Agency for Local Authority Information Systems,"
    "OU=JPKI for digital signature,O=JPKI,C=JP"
)
NAME = f"{PERSONAL_DATA}.1"
NAME_FLAGS = f"{PERSONAL_DATA}.2"
SEX = f"{PERSONAL_DATA}.3"
BIRTH = f"{PERSONAL_DATA}.4"
ADDRESS = f"{PERSONAL_DATA}.5"


def _with(entry_oid: str, value: bytes) -> list[tuple[str, bytes]]:
    """The default JPKI entries with one value replaced."""
    return [(oid, value if oid == entry_oid else old) for oid, old in jpki_entries()]


def test_every_field_is_parsed(card_certificate: bytes, test_root: TestCa) -> None:
    parsed = JpkiCertificate.from_der(card_certificate)
    reference = x509.load_der_x509_certificate(card_certificate)
    assert parsed.der == card_certificate
    assert parsed.name == "山田　花子"
    assert parsed.name_substitute_flags == "00000"
    assert parsed.sex_code == "2"
    assert parsed.sex is Sex.FEMALE
    assert parsed.sex.kanji == "女"
    assert parsed.birth == "419900515"
    assert parsed.birth_era is Era.HEISEI
    assert int(parsed.birth_era) == 4
    assert parsed.birth_era.kanji == "平成"
    assert parsed.birth_date == datetime.date(1990, 5, 15)
    assert parsed.address == "東京都千代田区霞が関２丁目１番２号"
    assert parsed.address_substitute_flags == "0" * 17
    assert parsed.serial == 0x1234ABCD
    assert parsed.issuer == test_root.certificate.subject.rfc4514_string()
    assert "O=mynasign test" in parsed.issuer
    assert parsed.subject == "CN=test card 0001,L=Tokyo,C=JP"
    assert parsed.not_before == reference.not_valid_before_utc
    assert parsed.not_after == reference.not_valid_after_utc
    assert parsed.not_before.tzinfo is not None
    assert parsed.digital_signature
    assert parsed.non_repudiation
    assert parsed.is_jpki_signing_certificate


def test_the_simulated_card_certificate(sim_card: IssuedCard, sim_pki: TestPki) -> None:
    parsed = JpkiCertificate.from_der(sim_card.sign_cert_der)
    assert parsed.name == SIM_IDENTITY.name
    assert parsed.sex is Sex.MALE
    assert parsed.birth == "319890107"
    assert parsed.birth_era is Era.SHOWA
    assert parsed.birth_date == SIM_IDENTITY.birth
    assert parsed.address == SIM_IDENTITY.address
    assert parsed.name_substitute_flags == "0" * len(SIM_IDENTITY.name)
    assert parsed.address_substitute_flags == "0" * len(SIM_IDENTITY.address)
    assert parsed.serial == sim_card.sign_cert.serial_number
    assert parsed.issuer == sim_card.sign_cert.issuer.rfc4514_string()
    assert parsed.is_jpki_signing_certificate
    assert parsed.root_generation({"test": sim_pki.sign_root_der}) == "test"


def test_the_simulated_authentication_certificate_is_not_for_signing(
    sim_card: IssuedCard,
) -> None:
    parsed = JpkiCertificate.from_der(sim_card.auth_cert_der)
    assert parsed.name is None
    assert parsed.digital_signature
    assert not parsed.non_repudiation
    assert not parsed.is_jpki_signing_certificate


def test_entry_order_does_not_matter(certificate_factory: Factory) -> None:
    forward = JpkiCertificate.from_der(certificate_factory(jpki_entries()))
    backward = JpkiCertificate.from_der(certificate_factory(list(reversed(jpki_entries()))))
    fields = ("name", "name_substitute_flags", "sex", "birth_date", "address")
    assert [getattr(forward, f) for f in fields] == [getattr(backward, f) for f in fields]
    assert forward.address_substitute_flags == backward.address_substitute_flags


def test_other_san_entries_are_ignored(certificate_factory: Factory) -> None:
    foreign = ("1.2.392.200149.8.5.6.1", b"\x04\x01\x00")  # not a UTF8String, not ours
    parsed = JpkiCertificate.from_der(certificate_factory([foreign, *jpki_entries()]))
    assert parsed.name == "山田　花子"


def test_missing_entries_are_none(certificate_factory: Factory) -> None:
    only_name = JpkiCertificate.from_der(certificate_factory([(NAME, utf8("佐藤"))]))
    assert only_name.name == "佐藤"
    assert only_name.sex is None and only_name.sex_code is None
    assert only_name.birth is None and only_name.birth_era is None
    assert only_name.birth_date is None
    assert only_name.address is None
    assert only_name.name_substitute_flags is None
    assert only_name.address_substitute_flags is None
    assert only_name.is_jpki_signing_certificate

    no_san = JpkiCertificate.from_der(certificate_factory(None))
    assert no_san.name is None
    assert not no_san.is_jpki_signing_certificate


@pytest.mark.parametrize(
    ("birth", "era", "date"),
    [
        ("118680908", Era.MEIJI, datetime.date(1868, 9, 8)),
        ("219120730", Era.TAISHO, datetime.date(1912, 7, 30)),
        ("319261225", Era.SHOWA, datetime.date(1926, 12, 25)),
        ("319890107", Era.SHOWA, datetime.date(1989, 1, 7)),
        ("419890108", Era.HEISEI, datetime.date(1989, 1, 8)),
        ("420190430", Era.HEISEI, datetime.date(2019, 4, 30)),
        ("520190501", Era.REIWA, datetime.date(2019, 5, 1)),
        ("020000229", Era.UNKNOWN, datetime.date(2000, 2, 29)),
        ("000000000", Era.UNKNOWN, None),
        ("319890000", Era.SHOWA, None),
    ],
)
def test_birth_date_and_era(
    certificate_factory: Factory, birth: str, era: Era, date: datetime.date | None
) -> None:
    parsed = JpkiCertificate.from_der(certificate_factory(_with(BIRTH, utf8(birth))))
    assert parsed.birth == birth
    assert parsed.birth_era is era
    assert parsed.birth_date == date


def test_era_names() -> None:
    assert [(era.value, era.kanji) for era in Era] == [
        (0, "不明"),
        (1, "明治"),
        (2, "大正"),
        (3, "昭和"),
        (4, "平成"),
        (5, "令和"),
    ]


@pytest.mark.parametrize(
    ("code", "sex", "kanji"),
    [
        ("1", Sex.MALE, "男"),
        ("2", Sex.FEMALE, "女"),
        ("3", Sex.OTHER, "その他"),
        ("男", Sex.MALE, "男"),
        ("女", Sex.FEMALE, "女"),
    ],
)
def test_sex_codes(certificate_factory: Factory, code: str, sex: Sex, kanji: str) -> None:
    parsed = JpkiCertificate.from_der(certificate_factory(_with(SEX, utf8(code))))
    assert parsed.sex_code == code
    assert parsed.sex is sex
    assert parsed.sex.kanji == kanji


@pytest.mark.parametrize(
    ("oid", "value", "message"),
    [
        (BIRTH, utf8("4198901"), "EYYYYMMDD"),
        (BIRTH, utf8("4199001151"), "EYYYYMMDD"),
        (BIRTH, utf8("41990051X"), "EYYYYMMDD"),
        (BIRTH, utf8("４19900515"), "EYYYYMMDD"),
        (BIRTH, utf8("619900515"), "era code 6"),
        (BIRTH, utf8("419901301"), "calendar"),
        (BIRTH, utf8("419900230"), "calendar"),
        (SEX, utf8("9"), "sex code"),
        (SEX, utf8(""), "sex code"),
        (NAME, b"\x13\x04ABCD", "UTF8String"),  # PrintableString
        (NAME, b"\x0c\x02\xff\xfe", "UTF8String"),  # not UTF-8
        (ADDRESS, b"\x02\x01\x05", "UTF8String"),  # an INTEGER
        (NAME_FLAGS, b"\x30\x03\x0c\x01a", "UTF8String"),
    ],
)
def test_malformed_entries_raise(
    certificate_factory: Factory, oid: str, value: bytes, message: str
) -> None:
    with pytest.raises(CertificateParseError, match=message) as caught:
        JpkiCertificate.from_der(certificate_factory(_with(oid, value)))
    assert isinstance(caught.value, CardError)


def test_a_repeated_entry_raises(certificate_factory: Factory) -> None:
    entries = [*jpki_entries(), (NAME, utf8("別人"))]
    with pytest.raises(CertificateParseError, match="twice"):
        JpkiCertificate.from_der(certificate_factory(entries))


def test_key_usage_flags(certificate_factory: Factory) -> None:
    auth_like = JpkiCertificate.from_der(certificate_factory(jpki_entries(), non_repudiation=False))
    assert auth_like.digital_signature and not auth_like.non_repudiation
    assert not auth_like.is_jpki_signing_certificate
    no_key_usage = JpkiCertificate.from_der(certificate_factory(jpki_entries(), key_usage=False))
    assert not no_key_usage.digital_signature and not no_key_usage.non_repudiation
    only_nr = JpkiCertificate.from_der(certificate_factory(jpki_entries(), digital_signature=False))
    assert only_nr.non_repudiation and not only_nr.digital_signature


@pytest.mark.parametrize("junk", [b"", b"\x30\x00", b"\x30\x82\xff\xff", b"-----BEGIN"])
def test_not_a_certificate(junk: bytes) -> None:
    with pytest.raises(CertificateParseError, match=r"X\.509"):
        JpkiCertificate.from_der(junk)


def test_an_unknown_certificate_version_is_a_parse_error(card_certificate: bytes) -> None:
    v3 = bytes.fromhex("a003020102")
    assert card_certificate.index(v3) < 10
    with pytest.raises(CertificateParseError, match=r"X\.509"):
        JpkiCertificate.from_der(card_certificate.replace(v3, bytes.fromhex("a003020107"), 1))


# --- root generation ---


def test_real_jpki_roots_are_there(real_jpki_anchors: dict[str, bytes]) -> None:
    assert sorted(real_jpki_anchors) == ["jpki-sign-ca-01", "jpki-sign-ca-02", "jpki-sign-ca-03"]
    for der in real_jpki_anchors.values():
        assert x509.load_der_x509_certificate(der).subject == JPKI_ROOT_NAME


@pytest.fixture(scope="session")
def look_alike_roots() -> dict[str, TestCa]:
    """Two test roots with the real JPKI roots' name and their own keys."""
    return {
        name: make_root(JPKI_ROOT_NAME, rsa.generate_private_key(65537, 2048))
        for name in ("test-a", "test-b")
    }


def test_root_generation_is_told_by_signature_not_by_name(
    real_jpki_anchors: dict[str, bytes],
    look_alike_roots: dict[str, TestCa],
    signer_key: rsa.RSAPrivateKey,
) -> None:
    for issuer_name, issuer in look_alike_roots.items():
        parsed = JpkiCertificate.from_der(make_card_certificate(issuer, signer_key, jpki_entries()))
        assert parsed.issuer == JPKI_ISSUER
        anchors = dict(real_jpki_anchors)
        anchors.update({name: root.pem for name, root in look_alike_roots.items()})
        assert parsed.root_generation(anchors) == issuer_name
        # Same issuer name as all three real roots, yet none of them signed it.
        assert parsed.root_generation(real_jpki_anchors) is None


def test_root_generation_of_a_simulated_card(
    sim_card: IssuedCard, sim_pki: TestPki, real_jpki_anchors: dict[str, bytes]
) -> None:
    parsed = JpkiCertificate.from_der(sim_card.sign_cert_der)
    assert parsed.root_generation(real_jpki_anchors) is None
    anchors = {**real_jpki_anchors, "test-pki": sim_pki.sign_root_der}
    assert parsed.root_generation(anchors) == "test-pki"
    assert parsed.root_generation({"auth": sim_pki.auth_root_der}) is None


def test_root_generation_accepts_der_anchors(card_certificate: bytes, test_root: TestCa) -> None:
    parsed = JpkiCertificate.from_der(card_certificate)
    assert parsed.root_generation({"test": test_root.der}) == "test"
    assert parsed.root_generation({}) is None


def test_each_real_root_is_issued_by_its_own_generation_only(
    real_jpki_anchors: dict[str, bytes],
) -> None:
    # A self-signed root's signature verifies with its own key and with no other root's.
    for name, root_der in real_jpki_anchors.items():
        assert JpkiCertificate.from_der(root_der).root_generation(real_jpki_anchors) == name


def test_a_bad_anchor_is_named(card_certificate: bytes) -> None:
    parsed = JpkiCertificate.from_der(card_certificate)
    with pytest.raises(CertificateParseError, match="'broken'"):
        parsed.root_generation({"broken": b"not a certificate"})


# --- fuzzing: only CertificateParseError escapes ---


@given(st.binary(max_size=400))
def test_random_bytes_only_raise_parse_error(junk: bytes) -> None:
    with contextlib.suppress(CertificateParseError):
        JpkiCertificate.from_der(junk)


@given(data=st.data())
def test_mutated_certificates_only_raise_parse_error(
    card_certificate: bytes, data: st.DataObject
) -> None:
    # Mutate from the subjectAltName extension on, where the JPKI entries are.
    start = card_certificate.index(bytes.fromhex("0603551d11"))
    mutated = bytearray(card_certificate)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(start, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    try:
        parsed = JpkiCertificate.from_der(bytes(mutated))
    except CertificateParseError:
        return
    assert parsed.der == bytes(mutated)
