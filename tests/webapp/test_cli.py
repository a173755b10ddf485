"""`mynasign`: the demo sender of `mynasign dev`, and refusals of `serve`."""

from __future__ import annotations

from pathlib import Path

import pytest

from webapp.cli import DEMO_EMAIL, demo_sender, main
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
