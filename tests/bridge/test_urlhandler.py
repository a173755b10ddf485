"""`jpki-bridge install-url-handler`: registered, queried with xdg-utils, removed (a new HOME)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import urlhandler
from bridge.cli import main
from bridge.url import unwrap_app_link

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(
    shutil.which("xdg-mime") is None,
    reason="xdg-utils missing: run scripts/install-debian-packages",
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A person's empty home; xdg-utils looks only there (a generic desktop)."""
    home = tmp_path / "home"
    home.mkdir()
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CURRENT_DESKTOP", "DESKTOP_SESSION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "system-share"))  # no system handlers
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "system-config"))
    return home


def query(home: Path) -> str:
    done = subprocess.run(
        ["xdg-mime", "query", "default", urlhandler.MIME_TYPE],
        capture_output=True, text=True, timeout=30, check=False,
        env={**os.environ, "HOME": str(home)},
    )  # fmt: skip
    return done.stdout.strip()


def test_the_scheme_is_registered_queried_and_removed(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert query(home) == ""
    assert main(["install-url-handler", "--lang", "en"]) == 0
    desktop = home / ".local" / "share" / "applications" / urlhandler.DESKTOP_FILE
    assert str(desktop) in capsys.readouterr().out
    assert query(home) == urlhandler.DESKTOP_FILE
    entry = desktop.read_text(encoding="utf-8")
    assert f"MimeType={urlhandler.MIME_TYPE};" in entry
    exec_line = next(line for line in entry.splitlines() if line.startswith("Exec="))
    assert exec_line == f"Exec={BIN / 'jpki-bridge'} app %u"
    validator = shutil.which("desktop-file-validate")
    if validator is not None:
        checked = subprocess.run(
            [validator, str(desktop)], capture_output=True, text=True, timeout=30, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr

    other = "x-scheme-handler/https=firefox.desktop"  # someone else's association stays
    mimeapps = home / ".config" / "mimeapps.list"
    mimeapps.write_text(mimeapps.read_text() + f"\n[Added Associations]\n{other};\n")
    assert main(["install-url-handler", "--uninstall"]) == 0
    assert "取り消しました" in capsys.readouterr().out
    assert not desktop.exists()
    assert query(home) == ""
    assert other in mimeapps.read_text()
    assert main(["install-url-handler", "--uninstall"]) == 0  # removing twice is fine


def test_the_registered_command_gets_the_link_as_one_argument(home: Path) -> None:
    """What a desktop runs for `mynasign-bridge:https://…/b/<token>`, as the app reads it."""
    urlhandler.install_linux([sys.executable, "-c", "import sys; print(sys.argv[1:])"])
    entry = (home / ".local/share/applications" / urlhandler.DESKTOP_FILE).read_text()
    assert ' -c "import sys; print(sys.argv[1:])" %u' in entry
    link = "mynasign-bridge:https://sign.example.jp/b/" + "A" * 30
    assert unwrap_app_link(link) == "https://sign.example.jp/b/" + "A" * 30
    assert unwrap_app_link("mynasign-bridge://https://h/b/x") == "https://h/b/x"
    assert unwrap_app_link(" https://h/b/x ") == "https://h/b/x"


def test_the_windows_command_quotes_every_part() -> None:
    command = urlhandler.windows_command([r"C:\Program Files\mynasign\jpki-bridge.exe", "app"])
    assert command == r'"C:\Program Files\mynasign\jpki-bridge.exe" "app" "%1"'
