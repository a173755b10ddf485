"""Tests of the simulator's test PKI (jpkisim.pki): layout, card-certificate profile, revocation."""

from __future__ import annotations

import datetime
import json
import shutil
import stat
from pathlib import Path

import pytest
from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    ExtensionOID,
    NameOID,
    SignatureAlgorithmOID,
)

from jpkisim.pki import (
    DEFAULT_BASE_URL,
    CardIdentity,
    IssuedCard,
    PkiError,
    TestPki,
    era_code,
    jpki_birth_string,
)

REAL_SIGN_ROOT_DN = (
    "OU=Japan Agency for Local Authority Information Systems,"
    "OU=JPKI for digital signature,O=JPKI,C=JP"
)
TEST_ARC = "2.25.108345518625644708202120805352488937870"
SAN_ARC = "1.2.392.200149.8.5.5"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.init(tmp_path_factory.mktemp("pki") / "test-pki")


@pytest.fixture(scope="module")
def card(pki: TestPki) -> IssuedCard:
    return pki.issue_card()


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _copy(pki: TestPki, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(pki.directory, target)
    return target


# -- init and load -------------------------------------------------------------------------


def test_init_writes_the_documented_layout(pki: TestPki) -> None:
    names = {p.name for p in pki.directory.iterdir()}
    expected = {"pki.json", "index.json", "sign.crl"} | {
        f"{stem}.{ext}"
        for stem in ("sign-root", "auth-root", "ocsp", "tsa-root", "tsa")
        for ext in ("crt", "key")
    }
    assert expected <= names
    for key_file in pki.directory.glob("*.key"):
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        text = key_file.read_text()
        assert text.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8, unencrypted
    assert json.loads(pki.path("pki.json").read_text())["base_url"] == DEFAULT_BASE_URL
    index = json.loads(pki.path("index.json").read_text())
    assert index["version"] == 1
    crl = x509.load_der_x509_crl(pki.path("sign.crl").read_bytes())
    assert crl.issuer == pki.sign_root_cert.subject
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    assert index["next_crl_number"] == 2


def test_init_refuses_a_directory_holding_a_pki(pki: TestPki, tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="already holds a test PKI"):
        TestPki.init(pki.directory)
    copy = _copy(pki, tmp_path)
    replaced = TestPki.init(copy, force=True)
    assert replaced.sign_root_der != pki.sign_root_der
    assert replaced.records() == []


def test_init_accepts_a_directory_with_unrelated_files(tmp_path: Path) -> None:
    (tmp_path / "README").write_text("mine")
    TestPki.init(tmp_path, base_url="http://127.0.0.1:9999/")
    assert (tmp_path / "README").read_text() == "mine"
    assert TestPki.load(tmp_path).base_url == "http://127.0.0.1:9999"


def test_init_refuses_a_base_url_that_is_not_http(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="base URL"):
        TestPki.init(tmp_path, base_url="ldap://example")
    assert list(tmp_path.iterdir()) == []


def test_load_names_missing_files(pki: TestPki, tmp_path: Path) -> None:
    copy = _copy(pki, tmp_path)
    (copy / "tsa.key").unlink()
    (copy / "index.json").unlink()
    with pytest.raises(PkiError, match=r"missing index\.json, tsa\.key"):
        TestPki.load(copy)
    with pytest.raises(PkiError, match=r"missing pki\.json"):
        TestPki.load(tmp_path / "nowhere")


def test_load_names_damaged_files(pki: TestPki, tmp_path: Path) -> None:
    copy = _copy(pki, tmp_path)
    (copy / "ocsp.crt").write_text("not a certificate")
    with pytest.raises(PkiError, match=r"ocsp\.crt is not a PEM certificate"):
        TestPki.load(copy)
    copy = _copy(pki, tmp_path / "second")
    (copy / "index.json").write_text("{")
    with pytest.raises(PkiError, match=r"index\.json is damaged"):
        TestPki.load(copy).records()
    copy = _copy(pki, tmp_path / "third")
    (copy / "ocsp.key").write_bytes((copy / "tsa.key").read_bytes())  # a swapped key file
    with pytest.raises(PkiError, match=r"ocsp\.key does not belong to ocsp\.crt"):
        TestPki.load(copy)


# -- the authorities -----------------------------------------------------------------------


def test_roots_are_marked_test_and_never_the_real_dn(pki: TestPki) -> None:
    sign_dn = pki.sign_root_cert.subject
    assert sign_dn.rfc4514_string() != REAL_SIGN_ROOT_DN
    assert [a.value for a in sign_dn.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)] == [
        "JPKI TEST for digital signature",
        "mynasign test PKI - not Japan Agency for Local Authority Information Systems",
    ]
    auth_ous = pki.auth_root_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    assert auth_ous[0].value == "JPKI TEST for user authentication"
    for root in (pki.sign_root_cert, pki.auth_root_cert, pki.tsa_root_cert):
        assert "TEST" in root.subject.rfc4514_string()
        assert root.issuer == root.subject
        root.verify_directly_issued_by(root)
        assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        usage = root.extensions.get_extension_for_class(x509.KeyUsage)
        assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
        public_key = root.public_key()
        assert isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == 2048


def test_ocsp_responder_certificate(pki: TestPki) -> None:
    cert = pki.ocsp_cert
    cert.verify_directly_issued_by(pki.sign_root_cert)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert cert.extensions.get_extension_for_class(x509.OCSPNoCheck)
    assert cert.public_key() == pki.ocsp_key.public_key()


def test_tsa_certificate_and_chain(pki: TestPki) -> None:
    tsa, root = pki.tsa_chain
    tsa.verify_directly_issued_by(root)
    assert root == pki.tsa_root_cert and tsa == pki.tsa_cert
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert tsa.public_key() == pki.tsa_key.public_key()


# -- the card certificates -----------------------------------------------------------------


def _other_names(cert_der: bytes) -> list[tuple[str, str]]:
    """SAN otherNames decoded with asn1crypto, independently of the code under test."""
    cert = asn1_x509.Certificate.load(cert_der)
    names = []
    for general_name in cert.subject_alt_name_value:
        assert general_name.name == "other_name"
        other = general_name.chosen
        value = other["value"]
        assert value.dump()[0] == 0xA0  # [0] EXPLICIT
        assert isinstance(value.parsed, core.UTF8String)
        names.append((other["type_id"].dotted, value.parsed.native))
    return names


def test_signing_certificate_profile(pki: TestPki, card: IssuedCard) -> None:
    cert = card.sign_cert
    root = pki.sign_root_cert
    cert.verify_directly_issued_by(root)
    assert card.sign_ca_der == pki.sign_root_der
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    key = serialization.load_pem_private_key(card.sign_key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert cert.public_key() == key.public_key()
    assert card.sign_key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert cert.serial_number > 0 and cert.serial_number.bit_length() >= 64

    before = cert.not_valid_before_utc
    assert _utc_now() - datetime.timedelta(minutes=3) < before < _utc_now()
    assert (cert.not_valid_after_utc - before).days in range(5 * 365, 5 * 365 + 3)

    subject = cert.subject
    assert [a.oid for a in subject] == [
        NameOID.COUNTRY_NAME,
        NameOID.LOCALITY_NAME,
        NameOID.COMMON_NAME,
    ]
    assert subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)[0].value == "東京都"
    common_name = subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(common_name, str) and common_name.isdigit()
    assert "花子" not in subject.rfc4514_string()

    extensions = {e.oid: e for e in cert.extensions}
    assert set(extensions) == {
        ExtensionOID.KEY_USAGE,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
        ExtensionOID.CRL_DISTRIBUTION_POINTS,
    }
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert (usage.value.digital_signature, usage.value.content_commitment) == (True, True)
    assert not any(
        (usage.value.key_encipherment, usage.value.data_encipherment, usage.value.key_agreement)
    )
    assert not (usage.value.key_cert_sign or usage.value.crl_sign)
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == root_ski.digest
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == [f"{TEST_ARC}.1"]

    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [(d.access_method, d.access_location.value) for d in aia] == [
        (AuthorityInformationAccessOID.OCSP, f"{DEFAULT_BASE_URL}/ocsp"),
        (AuthorityInformationAccessOID.CA_ISSUERS, f"{DEFAULT_BASE_URL}/certs/sign-root.crt"),
    ]
    crl_dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [n.value for n in crl_dp[0].full_name or []] == [f"{DEFAULT_BASE_URL}/crl/sign.crl"]

    assert _other_names(card.sign_cert_der) == [
        (f"{SAN_ARC}.1", "試験 花子"),
        (f"{SAN_ARC}.4", "419900401"),
        (f"{SAN_ARC}.3", "2"),
        (f"{SAN_ARC}.5", "東京都千代田区霞が関二丁目1番2号"),
        (f"{SAN_ARC}.2", "00000"),
        (f"{SAN_ARC}.6", "0" * len("東京都千代田区霞が関二丁目1番2号")),
    ]


def test_san_values_are_explicitly_tagged_utf8_strings(card: IssuedCard) -> None:
    san = card.sign_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    for other_name in san.value.get_values_for_type(x509.OtherName):
        value = other_name.value
        assert value[0] == 0x0C  # UTF8String inside the [0] EXPLICIT wrapper
    raw = card.sign_cert_der
    name = "試験 花子".encode()
    # otherName value: A0 len 0C len <utf8>
    assert bytes([0xA0, len(name) + 2, 0x0C, len(name)]) + name in raw


def test_card_with_another_identity(pki: TestPki) -> None:
    identity = CardIdentity(
        name="見本 太郎", birth=datetime.date(1989, 1, 7), sex="1", address="大阪府大阪市北区1-1"
    )
    card = pki.issue_card(identity)
    names = dict(_other_names(card.sign_cert_der))
    assert names[f"{SAN_ARC}.1"] == "見本 太郎"
    assert names[f"{SAN_ARC}.4"] == "319890107"
    assert names[f"{SAN_ARC}.3"] == "1"
    assert names[f"{SAN_ARC}.6"] == "0" * len("大阪府大阪市北区1-1")
    locality = card.sign_cert.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)
    assert locality[0].value == "大阪府"


def test_authentication_certificate_profile(pki: TestPki, card: IssuedCard) -> None:
    cert = card.auth_cert
    cert.verify_directly_issued_by(pki.auth_root_cert)
    assert card.auth_ca_der == pki.auth_root_der
    key = serialization.load_pem_private_key(card.auth_key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and cert.public_key() == key.public_key()
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    assert not usage.value.content_commitment
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    for personal in ("試験", "花子", "千代田", "19900401"):
        assert personal.encode() not in card.auth_cert_der


def test_issued_certificates_are_recorded(pki: TestPki, card: IssuedCard) -> None:
    sign = pki.record(card.sign_cert.serial_number)
    auth = pki.record(card.auth_cert.serial_number)
    assert sign is not None and auth is not None
    assert (sign.kind, auth.kind) == ("sign", "auth")
    assert sign.subject == card.sign_cert.subject.rfc4514_string()
    assert sign.not_after == card.sign_cert.not_valid_after_utc
    assert sign.revoked_at is None and sign.reason is None
    raw = json.loads(pki.path("index.json").read_text())
    assert f"{card.sign_cert.serial_number:X}" in {c["serial"] for c in raw["certificates"]}
    assert pki.record(12345) is None


@pytest.mark.parametrize(
    ("day", "code"),
    [
        (datetime.date(1868, 9, 7), 0),
        (datetime.date(1868, 9, 8), 1),
        (datetime.date(1912, 7, 29), 1),
        (datetime.date(1912, 7, 30), 2),
        (datetime.date(1926, 12, 24), 2),
        (datetime.date(1926, 12, 25), 3),
        (datetime.date(1989, 1, 7), 3),
        (datetime.date(1989, 1, 8), 4),
        (datetime.date(2019, 4, 30), 4),
        (datetime.date(2019, 5, 1), 5),
    ],
)
def test_era_code_boundaries(day: datetime.date, code: int) -> None:
    assert era_code(day) == code
    assert jpki_birth_string(day) == f"{code}{day:%Y%m%d}"


def test_card_identity_checks_and_prefecture() -> None:
    assert CardIdentity().sex == "2"
    with pytest.raises(ValueError, match="sex"):
        CardIdentity(sex="4")
    assert CardIdentity(address="神奈川県横浜市中区").prefecture == "神奈川県"
    assert CardIdentity(address="北海道札幌市").prefecture == "北海道"
    assert CardIdentity(address="千代田区霞が関").prefecture == "Tokyo"


# -- revocation ----------------------------------------------------------------------------


def test_revoke_puts_the_serial_on_a_new_crl(pki: TestPki) -> None:
    card = pki.issue_card()
    serial = card.sign_cert.serial_number
    number_before = _crl_number(pki.crl())
    other_view = TestPki.load(pki.directory)  # as another process would see it

    record = pki.revoke(serial)
    assert record.reason == "keyCompromise" and record.revoked_at is not None
    assert other_view.record(serial) == record

    crl = x509.load_der_x509_crl(other_view.crl_der())
    assert crl.is_signature_valid(pki.sign_root_cert.public_key())  # type: ignore[arg-type]
    assert _crl_number(crl) == number_before + 1
    entry = crl.get_revoked_certificate_by_serial_number(serial)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.key_compromise
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == datetime.timedelta(days=1)

    with pytest.raises(PkiError, match="already revoked"):
        pki.revoke(serial)


def test_revoke_refuses_unknown_serials_and_reasons(pki: TestPki, card: IssuedCard) -> None:
    with pytest.raises(PkiError, match="not issued by this PKI"):
        pki.revoke(0x1234)
    with pytest.raises(PkiError, match="unknown revocation reason"):
        pki.revoke(card.sign_cert.serial_number, reason="tired")
    with pytest.raises(PkiError, match="not a root of this PKI"):
        pki.revoke_certificate(pki.tsa_cert.public_bytes(serialization.Encoding.DER))
    assert pki.record(card.sign_cert.serial_number).revoked_at is None  # type: ignore[union-attr]


def test_revoke_certificate_and_unspecified_reason(pki: TestPki) -> None:
    card = pki.issue_card()
    number_before = _crl_number(pki.crl())
    auth = pki.revoke_certificate(card.auth_cert_der, reason="affiliationChanged")
    assert auth.kind == "auth" and auth.reason == "affiliationChanged"
    assert _crl_number(pki.crl()) == number_before  # the CRL is the signing root's only

    pki.revoke_certificate(card.sign_cert_der, reason="unspecified")
    entry = pki.crl().get_revoked_certificate_by_serial_number(card.sign_cert.serial_number)
    assert entry is not None
    with pytest.raises(x509.ExtensionNotFound):  # RFC 5280: do not send "unspecified"
        entry.extensions.get_extension_for_class(x509.CRLReason)


def test_an_expired_crl_is_renewed(pki: TestPki, tmp_path: Path) -> None:
    copy = TestPki.load(_copy(pki, tmp_path))
    root_key = serialization.load_pem_private_key(copy.path("sign-root.key").read_bytes(), None)
    assert isinstance(root_key, rsa.RSAPrivateKey)
    long_ago = _utc_now() - datetime.timedelta(days=3)
    stale = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(copy.sign_root_cert.subject)
        .last_update(long_ago)
        .next_update(long_ago + datetime.timedelta(days=1))
        .add_extension(x509.CRLNumber(99), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    copy.path("sign.crl").write_bytes(stale.public_bytes(serialization.Encoding.DER))
    renewed = copy.crl()
    assert renewed.next_update_utc is not None and renewed.next_update_utc > _utc_now()
    assert _crl_number(renewed) != 99
    assert copy.crl_der() == renewed.public_bytes(serialization.Encoding.DER)  # kept


def test_set_base_url_changes_new_certificates_only(pki: TestPki, tmp_path: Path) -> None:
    copy = TestPki.load(_copy(pki, tmp_path))
    copy.set_base_url("http://127.0.0.1:1234/")
    card = copy.issue_card()
    crl_dp = card.sign_cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    assert crl_dp.value[0].full_name[0].value == "http://127.0.0.1:1234/crl/sign.crl"
    assert pki.base_url == DEFAULT_BASE_URL
    with pytest.raises(PkiError):
        copy.set_base_url("127.0.0.1:1234")


def _crl_number(crl: x509.CertificateRevocationList) -> int:
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
