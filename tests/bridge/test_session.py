"""The bridge core end to end, in-process: simulated card, loopback server, scripted person."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge import protocol
from bridge.cards import SimulatorCardProvider
from bridge.errors import ExitCode
from bridge.protocol import CardErrorCode, Order, Stage
from jpkisim.state import CardState
from tests.bridge.conftest import WRONG_PASSWORD, RunSession
from tests.bridge.fakes import ScriptedUser
from tests.bridge.server import Script
from tests.conftest import SIGNING_PASSWORD

BURST = [Stage.VERIFYING, Stage.READING_CERTIFICATE, Stage.SIGNING, Stage.SENDING]


def verifies_with_data(provider: SimulatorCardProvider) -> int:
    """VERIFY commands that carried a password (each may spend a try)."""
    return sum(
        1
        for exchange in provider.card.history
        if exchange.command[:4] == bytes.fromhex("00200080") and len(exchange.command) > 5
    )


@pytest.mark.parametrize("version", [2, 1], ids=["v2", "v1-server"])
@pytest.mark.parametrize("order", list(Order))
def test_signs_in_either_order(
    run_session: RunSession, sim_provider: SimulatorCardProvider, order: Order, version: int
) -> None:
    user = ScriptedUser([SIGNING_PASSWORD.lower()])
    run = run_session(sim_provider, user, Script(version=version), order=order)
    assert run.error is None and run.signed is not None
    assert run.server.verdict == protocol.Result(outcome="accepted")
    hello = run.server.of_type(protocol.Hello)[0]
    assert hello.order is order and hello.version == 1 and hello.protocol_version == 2
    assert {message.version for message in run.server.received[1:]} == {version}
    first = [Stage.WAITING_FOR_PASSWORD, Stage.WAITING_FOR_CARD, Stage.CARD_PRESENT]
    if order is Order.CARD_FIRST:
        first = [Stage.WAITING_FOR_CARD, Stage.CARD_PRESENT, Stage.WAITING_FOR_PASSWORD]
    assert run.server.stages() == first + BURST
    assert user.stages == first + BURST
    assert user.asked == ([None] if order is Order.PASSWORD_FIRST else [5])
    certificates = run.server.of_type(protocol.Certificate)
    if version == 2:  # the certificate, then the digest, the card held all along
        assert user.requests[0].digest is None
        assert [base64.b64decode(c.certificate) for c in certificates] == [run.signed.certificate]
        assert verifies_with_data(sim_provider) == 1, "one burst: VERIFY, certificate, sign"
    else:  # an older server: the digest came with the request
        assert user.requests[0].digest == run.server.script.digest.hex()
        assert certificates == []
    assert run.server.of_type(protocol.Signature)[0].digest == run.server.script.digest.hex()
    assert sim_provider.card.signature_count == 1
    timing = run.signed.timing
    assert timing.request_to_signature is not None and timing.request_to_signature > 0
    assert timing.apdus_sent is not None and timing.apdus_sent <= 16
    assert run.server.accepted_cms == base64.b64decode(
        run.server.of_type(protocol.Signature)[0].cms
    )


def test_wrong_password_is_reported_then_asked_again(
    run_session: RunSession, sim_provider: SimulatorCardProvider
) -> None:
    user = ScriptedUser([WRONG_PASSWORD.lower(), SIGNING_PASSWORD.lower()])
    run = run_session(sim_provider, user)
    assert run.signed is not None
    errors = run.server.of_type(protocol.CardError)
    assert [(e.code, e.tries_left) for e in errors] == [(CardErrorCode.WRONG_PASSWORD, 4)]
    assert user.asked == [None, 4]
    assert "card_wrong_password" in user.problem_keys()
    assert verifies_with_data(sim_provider) == 2


def test_wrong_password_without_a_second_one_stops(
    run_session: RunSession, sim_provider: SimulatorCardProvider
) -> None:
    user = ScriptedUser([WRONG_PASSWORD])
    run = run_session(sim_provider, user, order=Order.CARD_FIRST)
    assert run.error is not None and run.error.exit_code is ExitCode.WRONG_PASSWORD
    assert verifies_with_data(sim_provider) == 1, "a wrong password is never retried by itself"
    assert run.server.of_type(protocol.Cancelled)[0].reason == "wrong_password"
    assert run.server.of_type(protocol.Signature) == []


def test_malformed_password_costs_no_try(
    run_session: RunSession, sim_provider: SimulatorCardProvider
) -> None:
    # malformed (blanks, too long) and long enough that no random frame holds it by chance
    user = ScriptedUser(["NOT A VALID PASSWORD!", "ｔｅｓｔ１２３４"])
    run = run_session(sim_provider, user)
    assert run.signed is not None
    assert user.problem_keys() == ["password_format"]
    assert verifies_with_data(sim_provider) == 1


def test_last_try_is_refused_without_a_yes(
    run_session: RunSession, make_card_state: Callable[..., Path]
) -> None:
    state = make_card_state(signing_tries_left=1)
    provider = SimulatorCardProvider(state)
    user = ScriptedUser([SIGNING_PASSWORD], confirm=False)
    run = run_session(provider, user)
    assert run.error is not None and run.error.key == "last_try_refused"
    assert run.error.exit_code is ExitCode.NOT_SIGNED
    assert user.confirmations == [1]
    assert verifies_with_data(provider) == 0
    assert CardState.load(state).signing_tries_left == 1
    assert run.server.of_type(protocol.Cancelled)[0].reason == "last_try_refused"


@pytest.mark.parametrize("how", ["confirmed", "allowed"])
def test_last_try_spent_with_a_yes_or_allow_last_try(
    run_session: RunSession, make_card_state: Callable[..., Path], how: str
) -> None:
    provider = SimulatorCardProvider(make_card_state(signing_tries_left=1))
    user = ScriptedUser([SIGNING_PASSWORD], confirm=how == "confirmed")
    run = run_session(provider, user, order=Order.CARD_FIRST, allow_last_try=how == "allowed")
    assert run.signed is not None
    assert user.confirmations == ([1] if how == "confirmed" else [])
    assert user.asked == [1]


def test_locked_card_stops_before_any_verify(
    run_session: RunSession, make_card_state: Callable[..., Path]
) -> None:
    provider = SimulatorCardProvider(make_card_state(signing_tries_left=0))
    run = run_session(provider, ScriptedUser([SIGNING_PASSWORD]))
    assert run.error is not None and run.error.exit_code is ExitCode.LOCKED
    assert [e.code for e in run.server.of_type(protocol.CardError)] == [CardErrorCode.LOCKED]
    assert run.server.of_type(protocol.CardError)[0].tries_left == 0
    assert verifies_with_data(provider) == 0


def test_last_wrong_password_locks(
    run_session: RunSession, make_card_state: Callable[..., Path]
) -> None:
    provider = SimulatorCardProvider(make_card_state(signing_tries_left=1))
    run = run_session(provider, ScriptedUser([WRONG_PASSWORD]), allow_last_try=True)
    assert run.error is not None and run.error.exit_code is ExitCode.LOCKED
    assert run.server.of_type(protocol.Cancelled)[0].reason == "locked"


@pytest.mark.parametrize("order", list(Order))
def test_card_removed_mid_burst_then_put_back(
    run_session: RunSession, sim_provider: SimulatorCardProvider, order: Order
) -> None:
    sim_provider.card.arm_removal(7)  # while the certificate is being read

    def put_back(request: int) -> None:
        if request == 2:
            assert sim_provider.card.removed
            sim_provider.card.reinsert()

    user = ScriptedUser([SIGNING_PASSWORD], on_card=put_back)
    run = run_session(sim_provider, user, order=order)
    assert run.signed is not None, run.error
    assert [e.code for e in run.server.of_type(protocol.CardError)] == [CardErrorCode.CARD_REMOVED]
    assert user.card_requests == 2
    assert user.asked == ([None] if order is Order.PASSWORD_FIRST else [5]), "asked once"
    assert sim_provider.card.signature_count == 1


def test_lost_answer_to_a_wrong_verify_is_not_retried(
    run_session: RunSession, sim_provider: SimulatorCardProvider
) -> None:
    # select, select PIN EF, tries: the 4th APDU (VERIFY) is executed, its answer lost.
    sim_provider.card.arm_removal(3, lose_answer=True)

    def put_back(request: int) -> None:
        if request == 2:
            sim_provider.card.reinsert()

    user = ScriptedUser([WRONG_PASSWORD, SIGNING_PASSWORD], on_card=put_back)
    run = run_session(sim_provider, user)
    assert run.signed is not None, run.error
    codes = [(e.code, e.tries_left) for e in run.server.of_type(protocol.CardError)]
    assert codes == [(CardErrorCode.CARD_REMOVED, None), (CardErrorCode.WRONG_PASSWORD, 4)]
    assert verifies_with_data(sim_provider) == 2, "the wrong password was sent once only"
    assert user.asked == [None, 4]


@pytest.mark.parametrize("drop_on", ["signature", "progress:verifying", "progress:card_present"])
def test_dropped_connection_is_resumed_with_the_claim_key(
    run_session: RunSession, sim_provider: SimulatorCardProvider, drop_on: str
) -> None:
    run = run_session(sim_provider, ScriptedUser([SIGNING_PASSWORD]), Script(drop_on=drop_on))
    assert run.signed is not None, run.error
    assert run.server.resumed_with == [run.server.claim_key]
    assert run.server.connections == 2
    assert run.session.reconnects == 1
    assert sim_provider.card.signature_count == 1
    assert run.server.verdict is not None and run.server.verdict.outcome == "accepted"


def test_lost_verdict_is_sent_again_on_resumption(
    run_session: RunSession, sim_provider: SimulatorCardProvider
) -> None:
    run = run_session(sim_provider, ScriptedUser([SIGNING_PASSWORD]), Script(lose_verdict=True))
    assert run.signed is not None, run.error
    assert run.server.resumed_with == [run.server.claim_key]
    assert len(run.server.of_type(protocol.Signature)) == 1, "no second signature was needed"
    assert sim_provider.card.signature_count == 1


def test_server_expiry_ends_the_session(
    run_session: RunSession, sim_provider: SimulatorCardProvider
) -> None:
    user = ScriptedUser([SIGNING_PASSWORD], gate=threading.Event())
    run = run_session(sim_provider, user, Script(expire_on_stage=Stage.WAITING_FOR_PASSWORD))
    assert run.error is not None and run.error.key == "expired"
    assert run.error.exit_code is ExitCode.NOT_SIGNED
    assert run.server.of_type(protocol.Signature) == []


def test_request_already_expired_is_not_signed(
    run_session: RunSession, sim_provider: SimulatorCardProvider
) -> None:
    run = run_session(sim_provider, ScriptedUser([SIGNING_PASSWORD]), Script(expires_in=-1))
    assert run.error is not None and run.error.key == "expired"
    assert sim_provider.card.history.maxlen and not sim_provider.card.history


def test_server_cancellation_ends_the_session(
    run_session: RunSession, sim_provider: SimulatorCardProvider
) -> None:
    user = ScriptedUser([SIGNING_PASSWORD], gate=threading.Event())
    run = run_session(sim_provider, user, Script(cancel_on_stage=Stage.WAITING_FOR_PASSWORD))
    assert run.error is not None and run.error.key == "cancelled_by_server"
    assert run.error.reason == "sender_cancelled"


def test_rejection_is_reported_with_its_reason(
    run_session: RunSession, sim_provider: SimulatorCardProvider
) -> None:
    script = Script(reject=("signer_mismatch", "not the expected signer"))
    run = run_session(sim_provider, ScriptedUser([SIGNING_PASSWORD]), script)
    assert run.error is not None and run.error.key == "rejected"
    assert run.error.exit_code is ExitCode.NOT_SIGNED
    assert run.error.reason == "signer_mismatch"
    assert "not the expected signer" in str(run.error)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('{"type": "surprise", "version": 1}', "unknown_type"),
        ('{"type": "claim", "version": 3, "claim_key": "x"}', "unsupported_version"),
        ("not json", "malformed_json"),
        ('{"type": "claim", "version": 1, "claim_key": "short"}', "invalid_message"),
        ('{"type": "progress", "version": 1, "stage": "signing"}', "unexpected_message"),
        ('{"type": "\\u001b[2J", "version": 1}', "unknown_type"),
        ('{"type": "expired", "version": 1, "\\u001b[2J\\u202e": 1}', "invalid_message"),
    ],
)
def test_bad_server_frames_get_a_protocol_error(
    run_session: RunSession, sim_provider: SimulatorCardProvider, frame: str, code: str
) -> None:
    run = run_session(
        sim_provider, ScriptedUser([SIGNING_PASSWORD]), Script(opening_frames=[frame])
    )
    assert run.error is not None and run.error.exit_code is ExitCode.NETWORK
    assert run.error.key == "protocol_error"
    errors = run.server.of_type(protocol.Error)
    assert [error.code for error in errors] == [code]
    assert not sim_provider.card.history, "the card was never touched"


def test_unreachable_server_is_a_network_error(sim_provider: SimulatorCardProvider) -> None:
    import asyncio  # noqa: PLC0415
    import socket  # noqa: PLC0415

    from bridge.core import BridgeSession, SessionOptions  # noqa: PLC0415
    from bridge.errors import NetworkError  # noqa: PLC0415
    from tests.bridge.conftest import FAST  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/ws/bridge/{'A' * 22}"
    session = BridgeSession(url, sim_provider, ScriptedUser(), SessionOptions(timeouts=FAST))
    with pytest.raises(NetworkError) as raised:
        asyncio.run(session.run())
    assert raised.value.exit_code is ExitCode.NETWORK
