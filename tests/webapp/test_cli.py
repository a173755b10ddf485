"""`mynasign`: the demo sender of `mynasign dev`, and refusals of `serve`."""

from __future__ import annotations

import gc
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from jpkisim.pki import TestPki
from jpkisim.state import CardState
from webapp.cli import DEMO_EMAIL, card_instructions, demo_sender, main
from webapp.interpreter import GC_THRESHOLDS, SWITCH_INTERVAL_SECONDS, settle
from webapp.settings import load_settings


def test_demo_sender_is_made_once_with_a_token_file(tmp_path: Path) -> None:
    settings = load_settings(environment="development", data_dir=tmp_path / "var")
    email, password, token = demo_sender(settings)
    assert email == DEMO_EMAIL
    assert password and token
    token_file = Path(settings.data_dir) / "dev-api-token"
    assert token_file.read_text().strip() == token
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    assert demo_sender(settings) == (DEMO_EMAIL, None, None)


def test_serve_refuses_development_defaults(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("MYNASIGN_DATA_DIR", str(tmp_path))
    assert main(["serve"]) == 2
    assert "mynasign:" in capsys.readouterr().err


def test_the_printed_card_commands_make_a_card_the_service_trusts(tmp_path: Path) -> None:
    """`mynasign dev` prints how to make a simulated card; that command works as printed."""
    settings = load_settings(environment="development", data_dir=tmp_path / "var")
    lines = card_instructions(settings)
    command = next(line for line in lines if "jpki-sim card new" in line)
    pki_dir = Path(settings.data_dir) / "pki"
    TestPki.init(pki_dir)
    bin_dir = Path(sys.executable).parent
    completed = subprocess.run(
        [str(bin_dir / "jpki-sim"), *shlex.split(command.strip())[1:]],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    state = CardState.load(Path(settings.data_dir) / "demo-card.json")
    issuer = x509.load_der_x509_certificate(state.sign_cert_der).issuer
    assert issuer == TestPki.load(pki_dir).sign_root_cert.subject
    assert any(f"--sim {Path(settings.data_dir) / 'demo-card.json'}" in line for line in lines)


def test_the_server_settles_the_garbage_collector() -> None:
    """Full collections over a thousand connections paused the event loop (see benchmarks)."""
    before, switch = gc.get_threshold(), sys.getswitchinterval()
    try:
        settle()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
        assert sys.getswitchinterval() == SWITCH_INTERVAL_SECONDS
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
        sys.setswitchinterval(switch)
