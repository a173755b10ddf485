"""One card signature over PC/SC: our driver against OpenSC and against raw pyscard transmits."""

from __future__ import annotations

import hashlib
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from smartcard import scard

from benchmarks.rig import PASSWORD, card_on_reader
from card.jpki import JpkiSession
from card.pcsc import PcscConnection
from card.token import sha256_digest_info
from jpkisim.served import ServedCard

OPENSC_PKCS11 = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
ROUNDS = 40


class RecordingConnection(PcscConnection):
    """A PC/SC connection that keeps the raw commands it sent (in memory only)."""

    def __init__(self, reader: str) -> None:
        super().__init__(reader)
        self.commands: list[bytes] = []

    def _transmit_raw(self, raw: bytes) -> bytes:
        self.commands.append(raw)
        return super()._transmit_raw(raw)


def driver_signature(connection: PcscConnection, digest: bytes) -> None:
    """The bridge's burst: select, tries left, verify, read certificate, sign."""
    session = JpkiSession(connection)
    session.signing_password_tries_left()
    session.verify_signing_password(PASSWORD)
    session.read_signing_certificate()
    session.sign_sha256_digest(digest)


def raw_transmits(connection: PcscConnection, commands: list[bytes]) -> None:
    """The same APDUs through pyscard's SCardTransmit and nothing else."""
    handle, protocol = connection._card, connection._protocol
    for command in commands:
        hresult, _ = scard.SCardTransmit(handle, protocol, list(command))
        if hresult != scard.SCARD_S_SUCCESS:
            raise RuntimeError(scard.SCardGetErrorMessage(hresult))


def opensc_signature(rig: ServedCard, digest: bytes) -> tuple[int, int, int, int]:
    """pkcs11-tool --login --sign on the same card: APDUs, bytes, VERIFYs, certificate reads."""
    with tempfile.TemporaryDirectory() as work:
        digest_info = Path(work) / "digest-info"
        digest_info.write_bytes(sha256_digest_info(digest))
        mark = len(rig.apdu_lines())
        subprocess.run(
            ["pkcs11-tool", "--module", OPENSC_PKCS11, "--token-label",
             "JPKI (Digital Signature PIN)", "--login", "--pin", PASSWORD, "--sign",
             "--mechanism", "RSA-PKCS", "--id", "02", "--input-file", str(digest_info),
             "--output-file", str(Path(work) / "signature")],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    apdus, size, lines = rig.traffic_since(mark)
    verifies = sum(1 for line in lines if "<redacted>" in line)
    return apdus, size, verifies, read_binaries(lines)


def read_binaries(lines: list[str]) -> int:
    """READ BINARY commands in APDU log lines."""
    return sum(1 for line in lines if " 00B0" in line)


def run() -> list[str]:
    digest = hashlib.sha256(b"benchmark").digest()
    report: list[str] = []
    with card_on_reader() as rig:
        mark = len(rig.apdu_lines())
        with RecordingConnection(rig.reader) as connection:
            driver_signature(connection, digest)
            commands = list(connection.commands)
        apdus, size, lines = rig.traffic_since(mark)
        verifies = sum(1 for line in lines if "<redacted>" in line)
        reads = read_binaries(lines)
        o_apdus, o_size, o_verifies, o_reads = opensc_signature(rig, digest)
        report.append("card signature over PC/SC (login + sign), counted from the card's APDU log")
        report.append(f"  {'':14}{'APDUs':>7}{'bytes':>8}{'VERIFY':>8}{'READ BINARY':>13}")
        report.append(f"  {'mynasign':14}{apdus:>7}{size:>8}{verifies:>8}{reads:>13}")
        report.append(f"  {'OpenSC':14}{o_apdus:>7}{o_size:>8}{o_verifies:>8}{o_reads:>13}")
        report.append(f"  ratio APDUs mynasign/OpenSC: {apdus / o_apdus:.2f}")

        ours: list[float] = []
        raw: list[float] = []
        with PcscConnection(rig.reader) as connection:
            for _ in range(ROUNDS):  # alternate so drift on a noisy machine hits both alike
                start = time.perf_counter()
                driver_signature(connection, digest)
                ours.append(time.perf_counter() - start)
                start = time.perf_counter()
                raw_transmits(connection, commands)
                raw.append(time.perf_counter() - start)
        commands.clear()
        ours_median, raw_median = statistics.median(ours), statistics.median(raw)
        report.append(f"driver time on top of raw pyscard transmits ({ROUNDS} rounds, medians)")
        report.append(f"  driver {ours_median * 1000:.2f} ms, raw {raw_median * 1000:.2f} ms")
        report.append(f"  ratio driver/raw: {ours_median / raw_median:.3f}")
    return report
