"""A scripted card for byte-exact driver tests: expected commands and canned answers."""

from __future__ import annotations

from collections.abc import Sequence

from card.connection import CallableConnection


class ScriptedCard:
    """Answers each command with the next scripted response, asserting the exact bytes."""

    def __init__(self, script: Sequence[tuple[str, str]]) -> None:
        self.script = [
            (bytes.fromhex(c.replace(" ", "")), bytes.fromhex(r.replace(" ", "")))
            for c, r in script
        ]
        self.sent: list[bytes] = []

    def __call__(self, raw: bytes) -> bytes:
        index = len(self.sent)
        self.sent.append(raw)
        assert index < len(self.script), f"unexpected extra command {raw.hex().upper()}"
        expected, answer = self.script[index]
        assert raw == expected, (
            f"command {index}: sent {raw.hex().upper()}, expected {expected.hex().upper()}"
        )
        return answer

    def connection(self) -> CallableConnection:
        return CallableConnection(self, atr=bytes.fromhex("3BE000FF8131FE4514"))

    def finished(self) -> bool:
        return len(self.sent) == len(self.script)
