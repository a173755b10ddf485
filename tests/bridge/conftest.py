"""Bridge test helpers: run a session against the loopback server and check it leaked nothing."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bridge import protocol
from bridge.cards import CardProvider, SimulatorCardProvider
from bridge.channel import Timeouts
from bridge.core import BridgeSession, SessionOptions, Signed
from bridge.errors import BridgeError
from bridge.protocol import Order
from bridge.url import bridge_target
from jpkisim.pki import TestPki
from tests.bridge.fakes import ScriptedUser, assert_no_password
from tests.bridge.server import LoopbackServer, Script

WRONG_PASSWORD = "WRONG999"
FAST = Timeouts(
    open=5.0, send=5.0, reply=10.0, result=20.0, digest=10.0, close=2.0, backoff_first=0.05,
    backoff_max=0.2,
)  # fmt: skip
SESSION_TIMEOUT = 60.0


@dataclass
class Run:
    """What one bridge session did, seen from both ends."""

    server: LoopbackServer
    session: BridgeSession
    signed: Signed | None = None
    error: BridgeError | None = None
    passwords: list[str] = field(default_factory=list)

    def frames(self) -> list[str]:
        return [frame for _direction, frame in self.server.frames]

    def assert_no_password(self, *extra_texts: str) -> None:
        """No form of any password used in any frame, in the CMS bytes, or in `extra_texts`."""
        assert self.server.frames, "no frames were captured"
        assert_no_password([*self.frames(), *extra_texts], self.passwords)
        for signature in self.server.of_type(protocol.Signature):
            cms = base64.b64decode(signature.cms)
            for password in self.passwords:
                for form in {password, password.upper(), password.lower()}:
                    assert form.encode() not in cms


RunSession = Callable[..., Run]


@pytest.fixture
def run_session(test_pki: TestPki, caplog: pytest.LogCaptureFixture) -> Iterator[RunSession]:
    """Run one bridge session against a scripted loopback server; logs captured at level 1."""
    caplog.set_level(1)
    runs: list[Run] = []

    def run(
        provider: CardProvider,
        user: ScriptedUser,
        script: Script | None = None,
        *,
        order: Order = Order.PASSWORD_FIRST,
        allow_last_try: bool = False,
        card_wait: float = 20.0,
        timeouts: Timeouts = FAST,
    ) -> Run:
        passwords = list(user.passwords)

        async def scenario() -> Run:
            async with LoopbackServer(test_pki.sign_root_der, script) as server:
                options = SessionOptions(
                    order=order,
                    allow_last_try=allow_last_try,
                    card_wait=card_wait,
                    timeouts=timeouts,
                )
                url = bridge_target(server.url).websocket_url
                session = BridgeSession(url, provider, user, options)
                result = Run(server, session, passwords=passwords)
                try:
                    result.signed = await asyncio.wait_for(session.run(), SESSION_TIMEOUT)
                except BridgeError as exc:
                    result.error = exc
                if user.gate is not None:
                    user.gate.set()  # release a prompt the ended session left waiting
                return result

        result = asyncio.run(scenario())
        runs.append(result)
        return result

    yield run
    logged = [record.getMessage() for record in caplog.records]
    logged += [record.exc_text or "" for record in caplog.records]
    for result in runs:
        result.assert_no_password()
        assert_no_password(logged, result.passwords)


@pytest.fixture
def sim_provider(card_state: Path) -> SimulatorCardProvider:
    """A fresh simulated card in this process."""
    return SimulatorCardProvider(card_state)
