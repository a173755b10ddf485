"""The card flow alone (no server): the card problems it turns into exit codes and card errors."""

from __future__ import annotations

import hashlib
import threading

import pytest

from bridge import protocol
from bridge.cards import CardHandle, PcscCardProvider, SimulatorCardProvider
from bridge.errors import BridgeError, ExitCode
from bridge.flow import CardFlow, FlowOptions
from bridge.protocol import CardErrorCode, Order
from card.errors import CardRemovedError, NoCardError, NotJpkiCardError, WrongPasswordError
from card.token import SigningToken
from jpkisim.pcscd import READER_1
from tests.bridge.fakes import ScriptedUser
from tests.conftest import SIGNING_PASSWORD

DIGEST = hashlib.sha256(b"contract").digest()


class FakeHandle:
    """A card handle whose every call does what the test says."""

    apdus_sent = 0

    def __init__(self, tries: int | None = 5, login_error: Exception | None = None) -> None:
        self.tries = tries
        self.login_error = login_error
        self.logins = 0

    def tries_left(self) -> int | None:
        return self.tries

    def login(self, password: str) -> SigningToken:
        self.logins += 1
        if self.login_error is not None:
            raise self.login_error
        raise AssertionError("not reached in these tests")

    def close(self) -> None:
        pass


class FakeProvider:
    def __init__(self, opens: list[CardHandle | Exception]) -> None:
        self.opens = opens

    def wait_for_card(self, timeout: float) -> None:
        pass

    def open(self) -> CardHandle:
        item = self.opens.pop(0) if len(self.opens) > 1 else self.opens[0]
        if isinstance(item, Exception):
            raise item
        return item


def run_flow(
    provider: object, user: ScriptedUser, **options: object
) -> tuple[BridgeError, list[protocol.Progress | protocol.CardError]]:
    emitted: list[protocol.Progress | protocol.CardError] = []
    flow = CardFlow(provider, user, FlowOptions(**options), emit=emitted.append)  # type: ignore[arg-type]
    with pytest.raises(BridgeError) as raised:
        flow.sign(DIGEST)
    return raised.value, emitted


def card_errors(emitted: list[protocol.Progress | protocol.CardError]) -> list[protocol.CardError]:
    return [message for message in emitted if isinstance(message, protocol.CardError)]


def test_not_a_jpki_card_exits_6() -> None:
    error, emitted = run_flow(
        FakeProvider([NotJpkiCardError("no AID")]), ScriptedUser(["TEST1234"])
    )
    assert error.exit_code is ExitCode.NO_CARD
    assert [e.code for e in card_errors(emitted)] == [CardErrorCode.NOT_JPKI_CARD]


def test_a_card_lost_every_time_gives_up() -> None:
    handle = FakeHandle(login_error=CardRemovedError("gone"))
    user = ScriptedUser(["TEST1234"])
    error, emitted = run_flow(FakeProvider([handle]), user, max_card_losses=2)
    assert error.exit_code is ExitCode.NO_CARD
    assert error.key == "card_lost_too_often"
    assert [e.code for e in card_errors(emitted)] == [CardErrorCode.CARD_REMOVED] * 3
    assert handle.logins == 3 and user.asked == [None]


def test_unknown_tries_after_a_wrong_password_are_reported_as_null() -> None:
    handle = FakeHandle(tries=None, login_error=WrongPasswordError(None))
    user = ScriptedUser(["TEST1234"])
    error, emitted = run_flow(FakeProvider([handle]), user)
    assert error.exit_code is ExitCode.WRONG_PASSWORD
    wrong = card_errors(emitted)[0]
    assert wrong.code is CardErrorCode.WRONG_PASSWORD and wrong.tries_left is None
    assert user.problem_keys() == ["card_wrong_password_unknown"]


def test_no_card_in_time_exits_6() -> None:
    provider = FakeProvider([NoCardError("none")])
    error, emitted = run_flow(provider, ScriptedUser(["TEST1234"]), card_wait=0.2)
    assert error.exit_code is ExitCode.NO_CARD
    assert [e.code for e in card_errors(emitted)] == [CardErrorCode.NO_CARD]


def test_an_abort_stops_the_flow(sim_provider: SimulatorCardProvider) -> None:
    abort = threading.Event()
    abort.set()
    flow = CardFlow(sim_provider, ScriptedUser([SIGNING_PASSWORD]), FlowOptions(), abort=abort)
    with pytest.raises(BridgeError) as raised:
        flow.sign(DIGEST)
    assert raised.value.key == "aborted"
    assert not sim_provider.card.history


def test_the_password_is_not_kept_on_the_flow(sim_provider: SimulatorCardProvider) -> None:
    flow = CardFlow(sim_provider, ScriptedUser([SIGNING_PASSWORD]), FlowOptions(Order.CARD_FIRST))
    signed = flow.sign(DIGEST)
    assert signed.tries_left_before == 5
    assert SIGNING_PASSWORD not in repr(vars(flow))


@pytest.mark.pcsc
def test_empty_pcsc_reader_times_out_with_no_card(pcscd: object) -> None:
    user = ScriptedUser([SIGNING_PASSWORD])
    error, emitted = run_flow(PcscCardProvider(READER_1), user, card_wait=1.0)
    assert error.exit_code is ExitCode.NO_CARD and error.key == "card_none"
    assert [e.code for e in card_errors(emitted)] == [CardErrorCode.NO_CARD]
