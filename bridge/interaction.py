"""What the core needs from a person: an interface the CLI, a GUI, a phone app and tests implement.

The core calls these one at a time, from its card worker thread (everything up to the
signature) or its event loop (`show_progress(SENDING)`). None of them is ever given
the password back, and none may log what `ask_password` returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from bridge.protocol import SignRequest, Stage


@dataclass(frozen=True)
class Problem:
    """Something to tell the person: a message-catalogue key and its parameters."""

    key: str
    params: Mapping[str, object] = field(default_factory=dict)


class UserInteraction(Protocol):
    """The person in front of the bridge."""

    def show_request(self, request: SignRequest) -> None:
        """Show what is to be signed: title, sender, expected signer, expiry."""
        ...

    def ask_password(self, tries_left: int | None) -> str:
        """The signing password as typed (tries_left: known count, or None).

        Raise a `bridge.errors.BridgeError` to give up (e.g. no more input).
        """
        ...

    def confirm_last_try(self, tries_left: int | None) -> bool:
        """Whether to spend the password's last try (False: stop without trying)."""
        ...

    def ask_for_card(self) -> None:
        """Tell the person to put the card on the reader (or the phone); do not wait."""
        ...

    def show_progress(self, stage: Stage) -> None:
        """The bridge reached `stage`."""
        ...

    def show_error(self, problem: Problem) -> None:
        """A problem the person should know about (the run may go on)."""
        ...
