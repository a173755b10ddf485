"""Fixtures for the card layer: software signing tokens and JPKI-profile certificates.

Two sources: the project's test PKI (`jpkisim.pki`) for a card as the simulator issues
it, and a small builder here for certificates with any SAN entries (edge cases).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key
from cryptography.x509.oid import NameOID

from card.trust import jpki_signing_roots
from jpkisim.pki import CardIdentity, IssuedCard, TestPki
from tests.software_token import SoftwareToken

PERSONAL_DATA = "1.2.392.200149.8.5.5"
JPKI_ROOT_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI for digital signature"),
        x509.NameAttribute(
            NameOID.ORGANIZATIONAL_UNIT_NAME,
            "Japan Agency for Local Authority Information Systems",
        ),
    ]
)
"""The name every real JPKI signing root has; test look-alikes reuse it with their own keys."""

TEST_ROOT_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mynasign test"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "test JPKI for digital signature"),
    ]
)


def utf8(text: str) -> bytes:
    """DER UTF8String (short lengths only, enough for test values)."""
    data = text.encode()
    assert len(data) < 0x80
    return bytes([0x0C, len(data)]) + data


def jpki_entries(
    name: str = "山田　花子",
    birth: str = "419900515",
    sex: str = "2",
    address: str = "東京都千代田区霞が関２丁目１番２号",
) -> list[tuple[str, bytes]]:
    """SAN otherName entries in the order a real card listed them: 1, 4, 3, 5, 2, 6."""
    return [
        (f"{PERSONAL_DATA}.1", utf8(name)),
        (f"{PERSONAL_DATA}.4", utf8(birth)),
        (f"{PERSONAL_DATA}.3", utf8(sex)),
        (f"{PERSONAL_DATA}.5", utf8(address)),
        (f"{PERSONAL_DATA}.2", utf8("0" * len(name))),
        (f"{PERSONAL_DATA}.6", utf8("0" * len(address))),
    ]


def der(cert: x509.Certificate) -> bytes:
    """A cryptography certificate as DER."""
    return cert.public_bytes(Encoding.DER)


@dataclass(frozen=True)
class TestCa:
    """A self-signed root: its key and certificate."""

    __test__ = False

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def der(self) -> bytes:
        return der(self.certificate)

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(Encoding.PEM)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def make_root(name: x509.Name, key: rsa.RSAPrivateKey) -> TestCa:
    """A CA root valid from a day ago for ten years."""
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return TestCa(key, cert)


def make_card_certificate(
    ca: TestCa,
    key: rsa.RSAPrivateKey,
    entries: Sequence[tuple[str, bytes]] | None = None,
    *,
    digital_signature: bool = True,
    non_repudiation: bool = True,
    key_usage: bool = True,
    serial: int = 0x1234ABCD,
) -> bytes:
    """A card signing certificate (DER) in the JPKI profile; `entries` are SAN otherNames."""
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.LOCALITY_NAME, "Tokyo"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "test card 0001"),
                ]
            )
        )
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if key_usage:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=digital_signature,
                content_commitment=non_repudiation,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if entries:
        names = [x509.OtherName(x509.ObjectIdentifier(oid), value) for oid, value in entries]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return der(builder.sign(ca.key, hashes.SHA256()))


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def signer_key() -> rsa.RSAPrivateKey:
    return _rsa_key()


@pytest.fixture(scope="session")
def test_root() -> TestCa:
    """The test JPKI signing root (its own name, not the real roots')."""
    return make_root(TEST_ROOT_NAME, _rsa_key())


@pytest.fixture(scope="session")
def card_certificate(test_root: TestCa, signer_key: rsa.RSAPrivateKey) -> bytes:
    """A JPKI-profile signing certificate issued by `test_root`, DER."""
    return make_card_certificate(test_root, signer_key, jpki_entries())


@pytest.fixture
def token(
    signer_key: rsa.RSAPrivateKey, card_certificate: bytes, test_root: TestCa
) -> SoftwareToken:
    """A fresh software token holding the card certificate and the test root as its CA."""
    return SoftwareToken(signer_key, card_certificate, [test_root.der])


@pytest.fixture(scope="session")
def certificate_factory(test_root: TestCa, signer_key: rsa.RSAPrivateKey) -> Callable[..., bytes]:
    """Issue a card certificate under `test_root` with the given SAN entries and options."""

    def issue(
        entries: Sequence[tuple[str, bytes]] | None = None,
        *,
        digital_signature: bool = True,
        non_repudiation: bool = True,
        key_usage: bool = True,
    ) -> bytes:
        return make_card_certificate(
            test_root,
            signer_key,
            entries,
            digital_signature=digital_signature,
            non_repudiation=non_repudiation,
            key_usage=key_usage,
        )

    return issue


@pytest.fixture(scope="session")
def real_jpki_anchors() -> dict[str, bytes]:
    """The production JPKI signing roots shipped in `card.trust`, DER, by generation name."""
    return jpki_signing_roots()


SIM_IDENTITY = CardIdentity(
    name="試験　太郎",
    birth=datetime.date(1989, 1, 7),
    sex="1",
    address="大阪府大阪市北区中之島一丁目3番20号",
)


@pytest.fixture(scope="session")
def sim_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """A fresh test JPKI PKI (jpkisim), shared by the session."""
    return TestPki.init(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def sim_card(sim_pki: TestPki) -> IssuedCard:
    """A card issued by the test PKI to `SIM_IDENTITY`."""
    return sim_pki.issue_card(SIM_IDENTITY)


@pytest.fixture
def sim_token(sim_card: IssuedCard) -> SoftwareToken:
    """A software token with the simulated card's signing key and certificates."""
    key = load_pem_private_key(sim_card.sign_key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return SoftwareToken(key, sim_card.sign_cert_der, [sim_card.sign_ca_der])
