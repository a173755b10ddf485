"""`mynasign archive renew`: a round from the command line, on the service's own data."""

from __future__ import annotations

from pathlib import Path

import pytest

from webapp.cli import main


def test_renew_on_an_empty_service_says_nothing_was_due(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("MYNASIGN_DATA_DIR", str(tmp_path / "var"))
    assert main(["archive", "renew", "--before", "30"]) == 0
    assert "0 examined, 0 renewed, 0 failed" in capsys.readouterr().out


def test_a_negative_window_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["archive", "renew", "--before", "-1"]) == 2
    assert "--before" in capsys.readouterr().err
