"""The card session's state machine: every change of state goes through one function."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest

from webapp.card_signing import sessions
from webapp.card_signing.sessions import TRANSITIONS, InvalidTransitionError, _move
from webapp.db.models import CardSession, CardSessionState

NOW = datetime.datetime(2026, 12, 7, 9, 0, tzinfo=datetime.UTC)


def session_in(state: CardSessionState) -> CardSession:
    return CardSession(id="s", recipient_id="r", token_hash="0" * 64, state=state,
                       expires_at=NOW)  # fmt: skip


def test_every_state_has_its_moves_and_end_states_end() -> None:
    assert set(TRANSITIONS) == set(CardSessionState)
    for state in sessions.END_STATES:
        assert TRANSITIONS[state] <= {CardSessionState.REJECTED}  # a late verdict, at most
    assert TRANSITIONS[CardSessionState.COMPLETED] == frozenset()


def test_an_end_records_when_and_why() -> None:
    session = session_in(CardSessionState.CLAIMED)
    _move(session, CardSessionState.CANCELLED, NOW, reason="user_cancelled")
    assert session.state is CardSessionState.CANCELLED
    assert session.finished_at == NOW and session.reject_reason == "user_cancelled"


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (CardSessionState.CREATED, CardSessionState.SIGNING),  # no claim
        (CardSessionState.CLAIMED, CardSessionState.COMPLETED),  # never judged
        (CardSessionState.COMPLETED, CardSessionState.CANCELLED),
        (CardSessionState.EXPIRED, CardSessionState.CLAIMED),
    ],
)
def test_a_move_the_machine_does_not_have_is_refused(
    start: CardSessionState, to: CardSessionState
) -> None:
    session = session_in(start)
    with pytest.raises(InvalidTransitionError):
        _move(session, to, NOW)
    assert session.state is start and session.finished_at is None


def test_no_code_sets_a_state_but_the_machine() -> None:
    source = Path(sessions.__file__).read_text(encoding="utf-8")
    assignments = re.findall(r"^\s*\w+\.state = .*$", source, re.MULTILINE)
    assert assignments == ["    session.state = to"]
