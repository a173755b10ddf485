"""Fixtures for the card layer: software signing tokens and JPKI-profile certificates.

Two sources: the project's test PKI (`jpkisim.pki`) for a card as the simulator issues
it, and certificates with any SAN entries (edge cases) made here with the project's one
certificate builder (`jpkisim.pki_builder`).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key
from cryptography.x509.oid import NameOID

from card.trust import jpki_signing_roots
from jpkisim import pki_builder
from jpkisim.pki import CardIdentity, IssuedCard, TestPki
from jpkisim.pki_builder import utc_now
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


class TestCa(pki_builder.Authority):
    """A self-signed root: its key and certificate."""

    __test__ = False


def make_root(name: x509.Name, key: rsa.RSAPrivateKey) -> TestCa:
    """A CA root valid from a day ago for ten years."""
    now = utc_now()
    root = pki_builder.make_ca(
        name, key, not_before=now - datetime.timedelta(days=1),
        not_after=now + datetime.timedelta(days=3650),
    )  # fmt: skip
    return TestCa(key, root.certificate)


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
    now = utc_now()
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (pki_builder.authority_key_id(ca.certificate), False)  # and no subjectKeyIdentifier
    ]
    if entries:
        names = [x509.OtherName(x509.ObjectIdentifier(oid), value) for oid, value in entries]
        extensions.append((x509.SubjectAlternativeName(names), False))
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Tokyo"),
            x509.NameAttribute(NameOID.COMMON_NAME, "test card 0001"),
        ]
    )
    usage = pki_builder.key_usage(
        digital_signature=digital_signature, non_repudiation=non_repudiation
    )
    cert = pki_builder.issue(
        subject, key.public_key(), ca, serial=serial,
        not_before=now - datetime.timedelta(hours=1), not_after=now + datetime.timedelta(days=365),
        ca=None, usage=usage if key_usage else None, extensions=extensions, key_ids=False,
    )  # fmt: skip
    return der(cert)


def _rsa_key() -> rsa.RSAPrivateKey:
    return pki_builder.new_rsa_key()


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
