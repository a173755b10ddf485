"""Test doubles for the bridge: a scripted person, and the check that no password leaks."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bridge.errors import PasswordError
from bridge.interaction import Problem
from bridge.protocol import SignRequest, Stage

GATE_TIMEOUT = 20.0


@dataclass
class ScriptedUser:
    """A `UserInteraction` answering from a list; records everything it was told.

    `on_card(n)` runs at the n-th request for the card (e.g. to put the card back).
    `gate`, when given, holds every password prompt until it is set.
    """

    passwords: list[str] = field(default_factory=list)
    confirm: bool = False
    on_card: Callable[[int], None] | None = None
    gate: threading.Event | None = None
    asked: list[int | None] = field(default_factory=list)
    confirmations: list[int | None] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    requests: list[SignRequest] = field(default_factory=list)
    card_requests: int = 0

    def show_request(self, request: SignRequest) -> None:
        self.requests.append(request)

    def ask_password(self, tries_left: int | None) -> str:
        self.asked.append(tries_left)
        if self.gate is not None and not self.gate.wait(GATE_TIMEOUT):
            raise AssertionError("the password prompt was never released")
        if not self.passwords:
            raise PasswordError("password_no_retry", reason="wrong_password")
        return self.passwords.pop(0)

    def confirm_last_try(self, tries_left: int | None) -> bool:
        self.confirmations.append(tries_left)
        return self.confirm

    def ask_for_card(self) -> None:
        self.card_requests += 1
        if self.on_card is not None:
            self.on_card(self.card_requests)

    def show_progress(self, stage: Stage) -> None:
        self.stages.append(stage)

    def show_error(self, problem: Problem) -> None:
        self.problems.append(problem)

    def problem_keys(self) -> list[str]:
        return [problem.key for problem in self.problems]


def password_traces(passwords: Iterable[str]) -> set[str]:
    """Every form a leaked password could take: as typed, upper, lower, hex, base64."""
    forms: set[str] = set()
    for password in passwords:
        for variant in {password, password.upper(), password.lower()}:
            raw = variant.encode()
            encoded = base64.b64encode(raw).decode()
            forms |= {
                variant,
                raw.hex(),
                raw.hex().upper(),
                encoded,
                encoded.rstrip("="),
                base64.urlsafe_b64encode(raw).decode().rstrip("="),
            }
    return forms


def assert_no_password(texts: Iterable[str], passwords: Iterable[str]) -> None:
    """Fail if any text holds any form of any password."""
    traces = password_traces(passwords)
    for text in texts:
        for trace in traces:
            assert trace not in text, "a form of the password leaked"
