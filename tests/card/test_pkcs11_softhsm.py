"""The PKCS#11 back end against SoftHSM2, a second PKCS#11 implementation besides OpenSC."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from card.cms import build_signed_data
from card.cms_check import verify_signed_data
from card.errors import InvalidPasswordFormatError, NoCardError, Pkcs11Error, WrongPasswordError
from card.pkcs11 import JPKI_SIGNING_TOKEN_LABEL, Pkcs11SigningToken, signing_password_tries_left
from card.token import sha256_digest_info
from jpkisim.pki import IssuedCard

SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
PASSWORD = "HSM12345"


def tool(*args: str) -> None:
    result = subprocess.run(
        ["pkcs11-tool", "--module", SOFTHSM, *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def softhsm_token(
    tmp_path_factory: pytest.TempPathFactory, issued_card: IssuedCard
) -> Iterator[str]:
    """A SoftHSM token laid out like OpenSC's JPKI signing slot: key and certificate id 02."""
    directory = tmp_path_factory.mktemp("softhsm")
    (directory / "tokens").mkdir()
    config = directory / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(config)  # read when the module initialises
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", JPKI_SIGNING_TOKEN_LABEL,
         "--so-pin", "SO123456", "--pin", PASSWORD],
        check=True, capture_output=True,
    )  # fmt: skip
    key = serialization.load_pem_private_key(issued_card.sign_key_pem, password=None)
    key_der = directory / "key.der"
    key_der.write_bytes(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_der = directory / "cert.der"
    cert_der.write_bytes(issued_card.sign_cert_der)
    label = ["--token-label", JPKI_SIGNING_TOKEN_LABEL, "--login", "--pin", PASSWORD]
    tool(*label, "--write-object", str(key_der), "--type", "privkey", "--id", "02")
    tool(*label, "--write-object", str(cert_der), "--type", "cert", "--id", "02", "--private")
    key_der.unlink()
    yield JPKI_SIGNING_TOKEN_LABEL
    del os.environ["SOFTHSM2_CONF"]


def test_signs_a_digest_info_that_verifies(softhsm_token: str, issued_card: IssuedCard) -> None:
    message = b"signed through SoftHSM"
    with Pkcs11SigningToken(SOFTHSM, PASSWORD.lower()) as token:
        assert token.signing_certificate() == issued_card.sign_cert_der
        signature = token.sign_digest_info(sha256_digest_info(hashlib.sha256(message).digest()))
    public_key = x509.load_der_x509_certificate(issued_card.sign_cert_der).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_cms_from_the_pkcs11_token(softhsm_token: str) -> None:
    digest = hashlib.sha256(b"contract").digest()
    with Pkcs11SigningToken(SOFTHSM, PASSWORD) as token:
        cms = build_signed_data(token, digest)
        assert verify_signed_data(cms, digest).signer_certificate == token.signing_certificate()


def test_wrong_password(softhsm_token: str) -> None:
    with pytest.raises(WrongPasswordError) as raised:
        Pkcs11SigningToken(SOFTHSM, "WRONG999")
    assert "WRONG999" not in str(raised.value)


def test_malformed_password_never_reaches_the_module(softhsm_token: str) -> None:
    with pytest.raises(InvalidPasswordFormatError):
        Pkcs11SigningToken(SOFTHSM, "abc")


def test_no_such_token(softhsm_token: str) -> None:
    with pytest.raises(NoCardError, match="no token"):
        Pkcs11SigningToken(SOFTHSM, PASSWORD, token_label="JPKI (nonexistent)")


def test_missing_key_id(softhsm_token: str) -> None:
    with Pkcs11SigningToken(SOFTHSM, PASSWORD, key_id=b"\x09") as token, pytest.raises(Pkcs11Error):
        token.signing_certificate()


def test_module_that_does_not_load(tmp_path: Path) -> None:
    with pytest.raises(Pkcs11Error, match="cannot load"):
        Pkcs11SigningToken(str(tmp_path / "missing.so"), PASSWORD)


def test_password_status_before_login(softhsm_token: str) -> None:
    assert signing_password_tries_left(SOFTHSM) is None  # neither locked nor on its final try
    with pytest.raises(NoCardError):
        signing_password_tries_left(SOFTHSM, "JPKI (nonexistent)")
