"""The bridge's own time: sign_request received to signature sent, less the card's latency.

The baseline in the same run is the card itself: the same burst driven directly through
the driver on an identical simulated card (same APDUs, same latency knobs), no bridge.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bridge.cards import SimulatorCardProvider
from bridge.core import BridgeSession, SessionOptions
from bridge.protocol import Order
from bridge.url import bridge_target
from card.connection import CallableConnection
from card.jpki import JpkiSession
from jpkisim.card import SimulatedCard
from jpkisim.pki import TestPki
from jpkisim.state import CardState
from tests.bridge.fakes import ScriptedUser
from tests.bridge.server import LoopbackServer

PASSWORD = "BENCH1234"
ROUNDS = 15
APDU_LATENCY_MS = 2.0
SIGN_LATENCY_MS = 150.0


def card_latency(apdus: int) -> float:
    """Seconds the simulated card itself spends on `apdus` commands including one signature."""
    return (apdus * APDU_LATENCY_MS + SIGN_LATENCY_MS) / 1000


async def one_session(pki: TestPki, state: Path, order: Order) -> tuple[float, int]:
    provider = SimulatorCardProvider(state)
    user = ScriptedUser([PASSWORD])
    async with LoopbackServer(pki.sign_root_der) as server:
        session = BridgeSession(
            bridge_target(server.url).websocket_url, provider, user, SessionOptions(order=order)
        )
        signed = await asyncio.wait_for(session.run(), 60)
    timing = signed.timing
    if timing.request_to_signature is None or timing.apdus_sent is None:
        raise RuntimeError("the session did not record its timing")
    return timing.request_to_signature, timing.apdus_sent


def direct_burst(state: Path) -> float:
    """The card's part alone: the same burst through the driver, no bridge, no network."""
    card = SimulatedCard(CardState.load(state), state)
    session = JpkiSession(CallableConnection(card.process_apdu, card.atr))
    start = time.perf_counter()
    session.select_application()
    session.signing_password_tries_left()
    session.verify_signing_password(PASSWORD)
    session.read_signing_certificate()
    session.sign_sha256_digest(hashlib.sha256(b"x").digest())
    return time.perf_counter() - start


def run() -> list[str]:
    directory = Path(tempfile.mkdtemp(prefix="mynasign-bench-bridge-"))
    try:
        pki = TestPki.init(directory / "pki")
        issued = pki.issue_card()
        knobs = f"{APDU_LATENCY_MS:g} ms/APDU + {SIGN_LATENCY_MS:g} ms signature, {ROUNDS} rounds"
        report = [f"bridge: sign_request received -> signature sent (in-process card, {knobs})"]
        for order in (Order.PASSWORD_FIRST, Order.CARD_FIRST):
            overheads: list[float] = []
            direct: list[float] = []
            apdus = 0
            for round_number in range(ROUNDS):
                state = directory / f"{order}-{round_number}.json"
                CardState.from_issued(
                    issued, signing_password=PASSWORD, auth_pin="1234",
                    apdu_latency_ms=APDU_LATENCY_MS, sign_latency_ms=SIGN_LATENCY_MS,
                ).save(state)  # fmt: skip
                elapsed, apdus = asyncio.run(one_session(pki, state, order))
                overheads.append(elapsed - card_latency(apdus))
                direct.append(direct_burst(state) - card_latency(apdus))
            bridge_ms = statistics.median(overheads) * 1000
            direct_ms = statistics.median(direct) * 1000
            report.append(
                f"  {order}: bridge {bridge_ms:.1f} ms beyond the card's latency "
                f"(driver alone {direct_ms:.1f} ms, ratio {bridge_ms / direct_ms:.2f}); "
                f"{apdus} APDUs per signature"
            )
        return report
    finally:
        shutil.rmtree(directory, ignore_errors=True)
