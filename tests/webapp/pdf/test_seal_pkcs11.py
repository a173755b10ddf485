"""The seal key inside a PKCS#11 token (SoftHSM2, as an HSM in production)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.conftest import REPO
from tests.webapp.pdf.checks import basic_statuses, pdfsig
from webapp.pdf import DevelopmentSealFiles

SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")
TOKEN, LABEL, PIN = "mynasign-seal", "platform-seal", "HSM-4321"

DER = serialization.Encoding.DER
NO_PASSWORD = serialization.NoEncryption()

pytestmark = pytest.mark.skipif(not SOFTHSM.exists(), reason="needs SoftHSM2 (softhsm2 package)")


@pytest.fixture(scope="module")
def softhsm_env(
    tmp_path_factory: pytest.TempPathFactory, dev_seal: DevelopmentSealFiles
) -> dict[str, str]:
    """A SoftHSM token holding the development seal's key and certificate."""
    directory = tmp_path_factory.mktemp("softhsm")
    (directory / "tokens").mkdir()
    config = directory / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\n"
    )
    env = {**os.environ, "SOFTHSM2_CONF": str(config)}
    run(env, "softhsm2-util", "--init-token", "--free", "--label", TOKEN,
        "--so-pin", "SO-87654321", "--pin", PIN)  # fmt: skip
    key = serialization.load_pem_private_key(dev_seal.seal_key.read_bytes(), None)
    key_der = directory / "key.der"
    key_der.write_bytes(key.private_bytes(DER, serialization.PrivateFormat.PKCS8, NO_PASSWORD))
    cert_der = directory / "cert.der"
    cert_der.write_bytes(
        x509.load_pem_x509_certificate(dev_seal.seal_cert.read_bytes()).public_bytes(DER)
    )
    login = ["pkcs11-tool", "--module", str(SOFTHSM), "--token-label", TOKEN, "--login"]
    login += ["--pin", PIN, "--label", LABEL, "--id", "01", "--write-object"]
    run(env, *login, str(key_der), "--type", "privkey")
    run(env, *login, str(cert_der), "--type", "cert")
    key_der.unlink()
    return env


def run(env: dict[str, str], *command: str) -> None:
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_seals_through_the_token(
    softhsm_env: dict[str, str], one_page_pdf: Path, tsa_url: str, tmp_path: Path,
    trust_roots: list[bytes],
) -> None:  # fmt: skip
    completed = subprocess.run(
        [sys.executable, "-m", "tests.webapp.pdf.pkcs11_seal_run", str(SOFTHSM), TOKEN, LABEL,
         PIN, tsa_url, str(one_page_pdf), str(tmp_path)],
        env=softhsm_env, cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["wrong_pin"].startswith("SealKeyError: cannot log in")
    assert report["wrong_label"].startswith("SealKeyError: cannot find the seal key")
    assert report["wrong_token"].startswith("SealKeyError: cannot log in")
    assert PIN not in completed.stdout + completed.stderr
    for sealed in map(Path, report["sealed"]):
        status = basic_statuses(sealed, trust_roots)["hsm-seal"]
        assert status.bottom_line and status.timestamp_validity is not None
        assert pdfsig(sealed) == {"hsm-seal": "Signature is Valid."}
