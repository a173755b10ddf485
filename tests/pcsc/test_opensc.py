"""OpenSC as an independent client of the simulated card: PKCS#15 listing, PKCS#11 signing."""

from __future__ import annotations

import hashlib
import multiprocessing
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from card.errors import WrongPasswordError
from card.pkcs11 import JPKI_SIGNING_TOKEN_LABEL, Pkcs11SigningToken
from card.token import sha256_digest_info
from jpkisim.pki import IssuedCard
from tests.conftest import SIGNING_PASSWORD, SimulatedReader

pytestmark = [pytest.mark.pcsc, pytest.mark.opensc]

OPENSC_PKCS11 = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def verify(certificate_der: bytes, signature: bytes, message: bytes) -> None:
    public_key = x509.load_der_x509_certificate(certificate_der).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_opensc_recognises_the_card_as_jpki(sim_reader: SimulatedReader) -> None:
    result = run("opensc-tool", "--reader", "0", "--name")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "jpki"


def test_pkcs15_tool_lists_the_jpki_objects(sim_reader: SimulatedReader) -> None:
    result = run("pkcs15-tool", "--reader", "0", "--dump")
    assert result.returncode == 0, result.stderr
    for expected in (
        "PKCS#15 Card [JPKI]",
        "PIN [User Authentication PIN]",
        "PIN [Digital Signature PIN]",
        "Private RSA Key [Digital Signature Key]",
        "X.509 Certificate [User Authentication Certificate]",
    ):
        assert expected in result.stdout
    signing_pin = result.stdout.split("PIN [Digital Signature PIN]")[1].split("\n\n")[0]
    assert "Tries left     : 5" in signing_pin
    assert "min_len:6, max_len:16" in signing_pin


def test_pkcs11_tool_login_and_sign_verifies(
    sim_reader: SimulatedReader, issued_card: IssuedCard, tmp_path: Path
) -> None:
    message = b"signed through OpenSC"
    digest_info = tmp_path / "digest-info.bin"
    digest_info.write_bytes(sha256_digest_info(hashlib.sha256(message).digest()))
    signature = tmp_path / "signature.bin"
    result = run(
        "pkcs11-tool", "--module", OPENSC_PKCS11, "--token-label", JPKI_SIGNING_TOKEN_LABEL,
        "--login", "--pin", SIGNING_PASSWORD, "--sign", "--mechanism", "RSA-PKCS", "--id", "02",
        "--input-file", str(digest_info), "--output-file", str(signature),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    verify(issued_card.sign_cert_der, signature.read_bytes(), message)
    lines = sim_reader.apdu_lines()
    assert lines, "the simulator logged OpenSC's APDUs"
    assert all(SIGNING_PASSWORD.encode().hex().upper() not in line.upper() for line in lines)


def _sign_through_pkcs11(password: str, message: bytes) -> tuple[bytes, bytes] | str:
    """In a child process: (certificate, signature), or the name of the error raised."""
    try:
        with Pkcs11SigningToken(OPENSC_PKCS11, password) as token:
            digest_info = sha256_digest_info(hashlib.sha256(message).digest())
            return token.signing_certificate(), token.sign_digest_info(digest_info)
    except Exception as exc:
        return type(exc).__name__


def in_child(password: str, message: bytes) -> tuple[bytes, bytes] | str:
    """Run the PKCS#11 back end in a child process: a PKCS#11 module (OpenSC) keeps its
    PC/SC handle on the reader until the process ends, which would lock later tests out."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_sign_through_pkcs11, (password, message))


def test_python_pkcs11_back_end_signs_through_opensc(
    sim_reader: SimulatedReader, issued_card: IssuedCard
) -> None:
    message = b"signed through python-pkcs11"
    outcome = in_child(SIGNING_PASSWORD.lower(), message)
    assert isinstance(outcome, tuple), outcome
    certificate, signature = outcome
    assert certificate == issued_card.sign_cert_der
    verify(issued_card.sign_cert_der, signature, message)


def test_python_pkcs11_wrong_password(sim_reader: SimulatedReader) -> None:
    assert in_child("WRONG999", b"x") == WrongPasswordError.__name__
