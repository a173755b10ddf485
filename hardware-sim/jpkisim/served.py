"""A card state served to pcscd by a `jpki-sim serve` child process: insert, remove, its log."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from jpkisim.pcscd import READER_0, PrivatePcscd

_SIZES = re.compile(r"\(command (\d+) B, response (\d+) B\)")


class ReaderWaitError(RuntimeError):
    """The reader did not reach the expected state in time."""


def wait_for_reader(reader: str, *, present: bool, timeout: float) -> None:
    """Block on PC/SC state changes until a card is on (or off) the reader."""
    from smartcard import scard  # noqa: PLC0415 - pyscard only where a reader is used

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise ReaderWaitError(f"PC/SC unavailable: {scard.SCardGetErrorMessage(hresult)}")
    try:
        deadline = time.monotonic() + timeout
        state = scard.SCARD_STATE_UNAWARE
        while True:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            hresult, states = scard.SCardGetStatusChange(context, remaining_ms, [(reader, state)])
            if hresult == scard.SCARD_E_TIMEOUT:
                want = "a card on" if present else "no card on"
                raise ReaderWaitError(f"{want} {reader} within {timeout:g} s")
            if hresult != scard.SCARD_S_SUCCESS:
                raise ReaderWaitError(scard.SCardGetErrorMessage(hresult))
            _, state, _ = states[0]
            is_present = bool(state & scard.SCARD_STATE_PRESENT)
            if is_present == present and not state & scard.SCARD_STATE_MUTE:
                return
            state &= ~scard.SCARD_STATE_CHANGED
    finally:
        scard.SCardReleaseContext(context)


@dataclass
class ServedCard:
    """`jpki-sim serve` putting `state` on a private pcscd's virtual reader."""

    pcscd: PrivatePcscd
    state: Path
    apdu_log: Path
    reader: str = READER_0
    process: subprocess.Popen[bytes] | None = None
    output: list[str] = field(default_factory=list)

    def insert(self, timeout: float = 15.0) -> None:
        """Start `jpki-sim serve` and wait until PC/SC sees the card."""
        jpki_sim = shutil.which("jpki-sim", path=str(Path(sys.executable).parent)) or "jpki-sim"
        self.process = subprocess.Popen(  # noqa: S603
            [
                jpki_sim, "serve", "--state", str(self.state), "--vpcd-port", str(self.pcscd.port),
                "--apdu-log", str(self.apdu_log),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for_reader(self.reader, present=True, timeout=timeout)
        except ReaderWaitError as exc:
            self.process.terminate()
            out = self.process.communicate()[0].decode(errors="replace")
            self.process = None
            pcscd_log = self.pcscd.log_path.read_text(errors="replace")[-1500:]
            raise ReaderWaitError(
                f"{exc}\njpki-sim serve said:\n{out}\npcscd:\n{pcscd_log}"
            ) from exc

    def remove(self, timeout: float = 15.0) -> None:
        """Stop `jpki-sim serve`: the card leaves the reader."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=timeout)
        self.output.append(out.decode(errors="replace"))
        self.process = None
        wait_for_reader(self.reader, present=False, timeout=timeout)

    def apdu_lines(self) -> list[str]:
        """The card's APDU log so far, one line per command."""
        return self.apdu_log.read_text().splitlines() if self.apdu_log.exists() else []

    def traffic_since(self, mark: int) -> tuple[int, int, list[str]]:
        """APDUs, bytes both ways, and the log lines after the first `mark` lines."""
        lines = self.apdu_lines()[mark:]
        total = 0
        for line in lines:
            found = _SIZES.search(line)
            if found:
                total += int(found.group(1)) + int(found.group(2))
        return len(lines), total, lines
