"""Which anchors and which revocation checker the settings give."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from card.trust import jpki_signing_roots
from jpkisim.pki import TestPki
from tests.webapp.card_signing.validation.conftest import make_authority
from webapp.card_signing.validation import (
    CrlFileRevocationChecker,
    NoRevocationChecker,
    OcspRevocationChecker,
    RevocationChecker,
    card_trust_anchors,
    revocation_checker_for,
)


@pytest.fixture(scope="module")
def two_cas_pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    """A PEM file with two CA certificates, and their DER."""
    cas = [make_authority("operator CA 1").certificate, make_authority("operator CA 2").certificate]
    path = tmp_path_factory.mktemp("anchors") / "operator.pem"
    path.write_bytes(b"".join(ca.public_bytes(Encoding.PEM) for ca in cas))
    return path, [ca.public_bytes(Encoding.DER) for ca in cas]


def test_production_trusts_the_real_roots_and_configured_files(
    two_cas_pem: tuple[Path, list[bytes]], test_pki: TestPki
) -> None:
    path, configured = two_cas_pem
    real = list(jpki_signing_roots().values())
    anchors = card_trust_anchors(
        [path, path], production=True, development_root_der=test_pki.sign_root_der
    )
    assert anchors == [*real, *configured]  # the development root is never trusted here
    assert card_trust_anchors([], production=True, development_root_der=None) == real


def test_development_trusts_configured_files_and_the_development_root_only(
    two_cas_pem: tuple[Path, list[bytes]], test_pki: TestPki
) -> None:
    path, configured = two_cas_pem
    root = test_pki.sign_root_der
    assert card_trust_anchors([path], production=False, development_root_der=root) == [
        *configured,
        root,
    ]
    assert card_trust_anchors([], production=False, development_root_der=root) == [root]
    assert card_trust_anchors([], production=False, development_root_der=None) == []


def test_unreadable_anchor_files_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"not a certificate")
    for path in (garbage, tmp_path / "absent.pem"):
        with pytest.raises(ValueError, match="is not PEM certificates"):
            card_trust_anchors([path], production=False, development_root_der=None)
    with pytest.raises(ValueError):
        card_trust_anchors([], production=False, development_root_der=b"not DER")


def test_revocation_settings_map_to_checkers(tmp_path: Path) -> None:
    ocsp = revocation_checker_for("ocsp", "https://ocsp.example.jp/", development_ocsp_url=None)
    assert isinstance(ocsp, OcspRevocationChecker)
    assert ocsp.responder_url == "https://ocsp.example.jp/"
    crl = revocation_checker_for("crl", str(tmp_path / "jpki.crl"), development_ocsp_url=None)
    assert isinstance(crl, CrlFileRevocationChecker)
    assert crl.crl_path == tmp_path / "jpki.crl"
    assert isinstance(
        revocation_checker_for("none", "none", development_ocsp_url=None), NoRevocationChecker
    )
    development = revocation_checker_for(
        "development", None, development_ocsp_url="http://127.0.0.1:8780/ocsp"
    )
    assert isinstance(development, OcspRevocationChecker)
    assert development.responder_url == "http://127.0.0.1:8780/ocsp"
    for checker in (ocsp, crl, development):
        assert isinstance(checker, RevocationChecker)


@pytest.mark.parametrize(
    ("method", "value", "development_url", "message"),
    [
        ("development", None, None, "development PKI's OCSP URL"),
        ("ocsp", None, None, "needs a value"),
        ("crl", "", None, "needs a value"),
        ("ldap", "ldap://x", None, "unknown revocation method"),
    ],
)
def test_incomplete_revocation_settings_are_refused(
    method: str, value: str | None, development_url: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        revocation_checker_for(method, value, development_ocsp_url=development_url)
