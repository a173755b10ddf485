"""The same app on a real Toga backend (Qt, offscreen): one signature through pcscd + vpcd.

`scripts/companion_screenshots.py sign` runs the app in a child process with the Qt
backend, signs a real service's card session with the simulated card on the virtual
reader, and saves a picture of each screen it passed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from jpkisim.pcscd import READER_0
from tests.bridge.app.conftest import Party, StartParty
from tests.conftest import REPO, SIGNING_PASSWORD, SimulatedReader
from tests.webapp.pages.live import LiveService

SCRIPT = REPO / "scripts" / "companion_screenshots.py"


def sign_in_qt(url: str, card: list[str], shots: Path) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("toga_qt", reason="the app extra is not installed")
    return subprocess.run(
        [sys.executable, str(SCRIPT), "sign", url, *card, "--out", str(shots)],
        input=SIGNING_PASSWORD + "\n", capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "TOGA_BACKEND": "toga_qt", "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip


@pytest.mark.pcsc
def test_the_qt_app_signs_with_the_card_on_a_reader(
    service: LiveService,
    start_party: StartParty,
    card_file: Callable[..., Path],
    make_sim_reader: Callable[[Path], SimulatedReader],
    tmp_path: Path,
) -> None:
    party = start_party()
    make_sim_reader(card_file()).insert()
    done = sign_in_qt(party.bridge_url, ["--reader", READER_0], tmp_path / "shots")
    assert_signed(service, party, done, tmp_path / "shots")


def test_the_qt_app_signs_with_a_card_in_process(
    service: LiveService, start_party: StartParty, card_file: Callable[..., Path], tmp_path: Path
) -> None:
    """The same without PC/SC: the Qt backend's screens and the session, whatever pcscd does."""
    party = start_party()
    done = sign_in_qt(party.bridge_url, ["--sim", str(card_file())], tmp_path / "shots")
    assert_signed(service, party, done, tmp_path / "shots")


def assert_signed(
    service: LiveService, party: Party, done: subprocess.CompletedProcess[str], shots: Path
) -> None:
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed
    assert "screen: done" in done.stdout
    assert SIGNING_PASSWORD not in printed
    assert party.status(service)["state"] == "completed"
    for screen in ("start", "request", "password", "done"):
        with Image.open(shots / f"{screen}.png") as picture:
            assert picture.size[0] >= 400 and picture.size[1] >= 300, screen
            colours = picture.convert("RGB").getcolors(maxcolors=1_000_000) or []
            assert len(colours) > 20, f"{screen} looks empty"  # text and buttons were drawn
