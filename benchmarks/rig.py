"""The benchmark rig: a private pcscd, a test PKI, a simulated card served to the reader."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jpkisim.pcscd import PrivatePcscd
from jpkisim.pki import TestPki
from jpkisim.served import ServedCard
from jpkisim.state import CardState

PASSWORD = "BENCH1234"


@contextmanager
def card_on_reader(**knobs: Any) -> Iterator[ServedCard]:
    """A fresh test PKI and card, served on the private pcscd's first virtual reader."""
    directory = Path(tempfile.mkdtemp(prefix="mynasign-bench-"))
    try:
        pki = TestPki.init(directory / "pki")
        state = directory / "card.json"
        CardState.from_issued(
            pki.issue_card(), signing_password=PASSWORD, auth_pin="1234", **knobs
        ).save(state)
        with PrivatePcscd() as pcscd:
            served = ServedCard(pcscd, state, directory / "apdu.log")
            served.insert()
            try:
                yield served
            finally:
                served.remove()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
