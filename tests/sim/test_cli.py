"""`jpki-sim` as a person runs it: each command in a child process."""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509

from card.certificate import JpkiCertificate
from jpkisim.pki import TestPki
from jpkisim.state import CardState

JPKI_SIM = shutil.which("jpki-sim", path=str(Path(sys.executable).parent)) or "jpki-sim"


def jpki_sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [JPKI_SIM, *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli") / "pki"
    result = jpki_sim("pki", "init", str(directory), "--base-url", "http://127.0.0.1:18780")
    assert result.returncode == 0, result.stderr
    return directory


def test_pki_init_refuses_an_existing_pki(pki_dir: Path) -> None:
    result = jpki_sim("pki", "init", str(pki_dir))
    assert result.returncode == 2
    assert "jpki-sim:" in result.stderr


def test_card_new_with_identity_then_show_and_revoke(pki_dir: Path, tmp_path: Path) -> None:
    state = tmp_path / "card.json"
    result = jpki_sim(
        "card", "new", "--pki", str(pki_dir), "--password", "ABC123", "--out", str(state),
        "--name", "試験 太郎", "--birth", "1985-06-15", "--sex", "male",
        "--address", "大阪府大阪市北区1-1", "--token", "smartphone", "--extended-length",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    card = CardState.load(state)
    assert card.token == "JPKIAPGPSETOKEN"
    assert card.extended_length
    holder = JpkiCertificate.from_der(card.sign_cert_der)
    assert (holder.name, holder.birth, holder.sex_code) == ("試験 太郎", "319850615", "1")
    assert holder.address == "大阪府大阪市北区1-1"

    shown = jpki_sim("card", "show", str(state))
    assert "JPKIAPGPSETOKEN" in shown.stdout
    assert "signing password tries left: 5" in shown.stdout
    assert "ABC123" not in shown.stdout

    revoked = jpki_sim("card", "revoke", "--pki", str(pki_dir), str(state))
    assert revoked.returncode == 0, revoked.stderr
    serial = x509.load_der_x509_certificate(card.sign_cert_der).serial_number
    crl = TestPki.load(pki_dir).crl()
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None


@pytest.mark.parametrize(
    ("option", "value"), [("--birth", "15/06/1985"), ("--sex", "yes"), ("--password", "abc")]
)
def test_card_new_refuses_bad_input(pki_dir: Path, tmp_path: Path, option: str, value: str) -> None:
    args = {"--password": "ABC123", "--birth": "1985-06-15", "--sex": "2"}
    args[option] = value
    flat = [item for pair in args.items() for item in pair]
    result = jpki_sim("card", "new", "--pki", str(pki_dir), *flat, "--out", str(tmp_path / "c"))
    assert result.returncode == 2
    assert not (tmp_path / "c").exists()


def test_card_new_without_a_pki(tmp_path: Path) -> None:
    result = jpki_sim(
        "card", "new", "--pki", str(tmp_path / "none"), "--password", "ABC123",
        "--out", str(tmp_path / "card.json"),
    )  # fmt: skip
    assert result.returncode == 2
    assert "jpki-sim:" in result.stderr


def test_pki_serve_serves_the_crl(pki_dir: Path) -> None:
    server = subprocess.Popen(
        [JPKI_SIM, "pki", "serve", str(pki_dir), "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        url = ""
        for line in server.stderr:  # the server names its address when it listens
            if "served on" in line:
                url = line.rsplit("served on ", 1)[1].strip()
                break
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/crl/sign.crl", timeout=10) as response:  # noqa: S310
            crl = x509.load_der_x509_crl(response.read())
        assert crl.issuer == TestPki.load(pki_dir).sign_root_cert.subject
    finally:
        server.terminate()
        server.wait(10)
