"""The bridge core through pcscd + vpcd + `jpki-sim serve`: the card on a (virtual) PC/SC reader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bridge import protocol
from bridge.cards import PcscCardProvider
from bridge.errors import ExitCode
from bridge.protocol import CardErrorCode, Order, Stage
from jpkisim.state import CardState
from tests.bridge.conftest import WRONG_PASSWORD, RunSession
from tests.bridge.fakes import ScriptedUser
from tests.conftest import SIGNING_PASSWORD, SimulatedReader

pytestmark = pytest.mark.pcsc


def verify_lines(reader: SimulatedReader) -> list[str]:
    """APDU log lines of VERIFY commands that carried a (redacted) password."""
    return [line for line in reader.apdu_lines() if "redacted" in line]


@pytest.mark.parametrize("order", list(Order))
def test_signs_through_pcsc_in_either_order(
    run_session: RunSession, sim_reader: SimulatedReader, order: Order
) -> None:
    user = ScriptedUser([SIGNING_PASSWORD.lower()])
    run = run_session(PcscCardProvider(sim_reader.reader), user, order=order)
    assert run.signed is not None, run.error
    assert run.server.verdict == protocol.Result(outcome="accepted")
    assert run.server.stages()[-4:] == [
        Stage.VERIFYING,
        Stage.READING_CERTIFICATE,
        Stage.SIGNING,
        Stage.SENDING,
    ]
    assert run.signed.timing.apdus_sent is not None and run.signed.timing.apdus_sent <= 16
    assert len(verify_lines(sim_reader)) == 1
    assert_apdu_log_clean(sim_reader)


def assert_apdu_log_clean(reader: SimulatedReader) -> None:
    log = reader.apdu_log.read_text() if reader.apdu_log.exists() else ""
    for secret in (SIGNING_PASSWORD, WRONG_PASSWORD):
        assert secret.encode().hex().upper() not in log.upper()


def test_wrong_then_right_password_through_pcsc(
    run_session: RunSession, sim_reader: SimulatedReader
) -> None:
    user = ScriptedUser([WRONG_PASSWORD, SIGNING_PASSWORD])
    run = run_session(PcscCardProvider(sim_reader.reader), user, order=Order.CARD_FIRST)
    assert run.signed is not None, run.error
    errors = run.server.of_type(protocol.CardError)
    assert [(e.code, e.tries_left) for e in errors] == [(CardErrorCode.WRONG_PASSWORD, 4)]
    assert user.asked == [5, 4]
    assert len(verify_lines(sim_reader)) == 2
    assert_apdu_log_clean(sim_reader)


def test_last_try_refused_and_locked_through_pcsc(
    run_session: RunSession,
    make_card_state: Callable[..., Path],
    make_sim_reader: Callable[[Path], SimulatedReader],
) -> None:
    state = make_card_state(signing_tries_left=1)
    reader = make_sim_reader(state)
    reader.insert()
    provider = PcscCardProvider(reader.reader)
    refused = run_session(provider, ScriptedUser([WRONG_PASSWORD]))
    assert refused.error is not None and refused.error.key == "last_try_refused"
    assert verify_lines(reader) == []
    locked = run_session(provider, ScriptedUser([WRONG_PASSWORD]), allow_last_try=True)
    assert locked.error is not None and locked.error.exit_code is ExitCode.LOCKED
    assert len(verify_lines(reader)) == 1
    again = run_session(provider, ScriptedUser([SIGNING_PASSWORD]), allow_last_try=True)
    assert again.error is not None and again.error.exit_code is ExitCode.LOCKED
    assert len(verify_lines(reader)) == 1, "a locked card gets no VERIFY"


@pytest.mark.parametrize("order", list(Order))
def test_card_removed_mid_burst_then_represented_through_pcsc(
    run_session: RunSession,
    make_card_state: Callable[..., Path],
    make_sim_reader: Callable[[Path], SimulatedReader],
    order: Order,
) -> None:
    # select AP, select PIN EF, tries, VERIFY, select cert, 6 reads, select key: the 13th
    # APDU (the signature) is where the card goes away.
    state = make_card_state(remove_after_apdus=12)
    reader = make_sim_reader(state)
    reader.insert()

    def represent(request: int) -> None:
        if request != 2:
            return
        reader.remove()
        healthy = CardState.load(state)
        healthy.remove_after_apdus = None
        healthy.save(state)
        reader.insert()

    user = ScriptedUser([SIGNING_PASSWORD], on_card=represent)
    run = run_session(PcscCardProvider(reader.reader), user, order=order)
    assert run.signed is not None, run.error
    assert [e.code for e in run.server.of_type(protocol.CardError)] == [CardErrorCode.CARD_REMOVED]
    assert len(user.asked) == 1, "the password is asked once and kept for the redo"
    assert user.card_requests == 2
    removed = [line for line in reader.apdu_lines() if "removed" in line]
    assert removed and "802A" in removed[0].replace(" ", "").upper()
