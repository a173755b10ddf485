"""The benchmark rig: a private pcscd, a test PKI, a simulated card served to the reader."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from card.pcsc import wait_for_card, wait_for_card_removal
from jpkisim.pcscd import READER_0, PrivatePcscd
from jpkisim.pki import TestPki
from jpkisim.state import CardState

PASSWORD = "BENCH1234"
_SIZES = re.compile(r"\(command (\d+) B, response (\d+) B\)")


@dataclass
class Rig:
    """Where the simulated card is and what it logged."""

    directory: Path
    pki: TestPki
    state: Path
    apdu_log: Path
    reader: str = READER_0

    def log_mark(self) -> int:
        return len(self.apdu_log.read_text().splitlines()) if self.apdu_log.exists() else 0

    def traffic_since(self, mark: int) -> tuple[int, int, list[str]]:
        """APDUs, bytes both ways, and the log lines since `mark`."""
        lines = self.apdu_log.read_text().splitlines()[mark:]
        total = 0
        for line in lines:
            found = _SIZES.search(line)
            if found:
                total += int(found.group(1)) + int(found.group(2))
        return len(lines), total, lines


@contextmanager
def card_on_reader(**knobs: Any) -> Iterator[Rig]:
    """A fresh test PKI and card, served on the private pcscd's first virtual reader."""
    directory = Path(tempfile.mkdtemp(prefix="mynasign-bench-"))
    pki = TestPki.init(directory / "pki")
    state = directory / "card.json"
    CardState.from_issued(
        pki.issue_card(), signing_password=PASSWORD, auth_pin="1234", **knobs
    ).save(state)
    rig = Rig(directory, pki, state, directory / "apdu.log")
    jpki_sim = shutil.which("jpki-sim", path=str(Path(sys.executable).parent)) or "jpki-sim"
    try:
        with PrivatePcscd() as pcscd:
            serve = subprocess.Popen(
                [jpki_sim, "serve", "--state", str(state), "--vpcd-port", str(pcscd.port),
                 "--apdu-log", str(rig.apdu_log)],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                wait_for_card(READER_0, 15)
                yield rig
            finally:
                serve.send_signal(signal.SIGTERM)
                serve.wait(15)
                wait_for_card_removal(READER_0, 15)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
