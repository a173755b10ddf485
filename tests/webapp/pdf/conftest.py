"""Shared fixtures of the PDF tests: the test PKI and its services, the development seal.

Session-scoped: one PKI (its TSA, OCSP responder and CRL on a loopback port), one
development seal, one sealer. Card certificates issued here point at the running server.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jpkisim.pki import IssuedCard, TestPki
from jpkisim.pki_server import PkiServer
from tests.webapp.pdf.crl_server import serving_development_crl
from tests.webapp.pdf.pdfs import contract_pdf
from webapp.pdf import (
    DevelopmentSealFiles,
    FileSealKey,
    Sealer,
    create_development_seal,
    seal_signer_from_files,
)


@pytest.fixture(scope="session")
def pdf_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.init(tmp_path_factory.mktemp("pdf-pki") / "pki")


@pytest.fixture(scope="session")
def pki_server(pdf_pki: TestPki) -> Iterator[PkiServer]:
    with PkiServer(pdf_pki.directory, port=0) as server:
        pdf_pki.set_base_url(server.url)  # before any card certificate is issued
        yield server


@pytest.fixture(scope="session")
def tsa_url(pki_server: PkiServer) -> str:
    return f"{pki_server.url}/tsa"


@pytest.fixture(scope="session")
def seal_crl_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """Serves the development seal's CRL as the application does: (seal directory, CRL URL)."""
    directory = tmp_path_factory.mktemp("seal") / "seal"
    with serving_development_crl(directory) as url:
        yield directory, url


@pytest.fixture(scope="session")
def dev_seal(seal_crl_server: tuple[Path, str]) -> DevelopmentSealFiles:
    directory, crl_url = seal_crl_server
    return create_development_seal(directory, crl_url=crl_url)


@pytest.fixture(scope="session")
def seal_root_der(dev_seal: DevelopmentSealFiles) -> bytes:
    return pem_to_der(dev_seal.root_cert)


@pytest.fixture(scope="session")
def seal_key(dev_seal: DevelopmentSealFiles) -> Iterator[FileSealKey]:
    with seal_signer_from_files(dev_seal.seal_key, dev_seal.seal_cert, [dev_seal.root_cert]) as key:
        yield key


@pytest.fixture(scope="session")
def trust_roots(seal_root_der: bytes, pdf_pki: TestPki) -> list[bytes]:
    """What a finished document chains to: the seal root, the TSA root, the JPKI signing root."""
    return [seal_root_der, pdf_pki.root_der("tsa-root"), pdf_pki.sign_root_der]


@pytest.fixture(scope="session")
def sealer(seal_key: FileSealKey, tsa_url: str, trust_roots: list[bytes]) -> Sealer:
    return Sealer(seal_key.signer, tsa_url, trust_roots)


@pytest.fixture(scope="session")
def card_key(
    pdf_pki: TestPki, pki_server: PkiServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FileSealKey]:
    """A card's signing key as a pyHanko signer: stands in for a My Number Card signature."""
    yield from _card_signer(pdf_pki.issue_card(), tmp_path_factory.mktemp("card"))


@pytest.fixture(scope="session")
def one_page_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return contract_pdf(tmp_path_factory.mktemp("pdfs") / "one-page.pdf")


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A loopback URL where nothing answers: the port is bound but never listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{blocker.getsockname()[1]}"


def _card_signer(card: IssuedCard, directory: Path) -> Iterator[FileSealKey]:
    key_path, cert_path = directory / "card.key", directory / "card.crt"
    key_path.write_bytes(card.sign_key_pem)
    cert_path.write_bytes(card.sign_cert.public_bytes(serialization.Encoding.PEM))
    with seal_signer_from_files(key_path, cert_path) as key:
        yield key


def card_signer_for(card: IssuedCard, directory: Path) -> Iterator[FileSealKey]:
    """A signer for another issued card (tests that revoke or misdirect it)."""
    return _card_signer(card, directory)


def pem_to_der(path: Path) -> bytes:
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
