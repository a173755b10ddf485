"""What the simulated card saw: one command/response record and the redacted APDU log line."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from jpkisim.apdu import redact_for_log


@dataclass(frozen=True, repr=False)
class ApduExchange:
    """One command and its response (None: the card was removed instead of answering).

    ``command`` holds the raw bytes, PIN data included, for tests that assert what a
    driver sent; ``str()`` and ``repr()`` redact it.
    """

    command: bytes
    response: bytes | None

    @property
    def sw(self) -> int | None:
        """The status word, or None when the card was removed."""
        if self.response is None:
            return None
        return int.from_bytes(self.response[-2:], "big")

    def __str__(self) -> str:
        sw = "removed" if self.sw is None else f"{self.sw:04X}"
        return f"{redact_for_log(self.command)} -> {sw}"

    __repr__ = __str__


def write_log_line(target: TextIO | Path, exchange: ApduExchange) -> None:
    """Append ``<time> <command, PIN data redacted> -> <SW> (command N B, response M B)``.

    The sizes let benchmarks count the bytes a driver exchanged with the card.

    A Path is opened for each line (append, created 0600), so the log can be rotated.
    """
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
    received = 0 if exchange.response is None else len(exchange.response)
    line = f"{stamp} {exchange} (command {len(exchange.command)} B, response {received} B)\n"
    if isinstance(target, Path):
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as log:
            log.write(line)
    else:
        target.write(line)
        target.flush()
