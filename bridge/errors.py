"""How a bridge run ends when it does not sign: exit codes and the errors that carry them.

Each error names a message-catalogue key (so every front end can say it in its own
language) and a `reason` code the bridge sends to the server in `cancelled`.
"""

from __future__ import annotations

from enum import IntEnum

from bridge.messages import text


class ExitCode(IntEnum):
    """`jpki-bridge` exit codes (also in `--help` and docs/bridge.md)."""

    SIGNED = 0
    USAGE = 2
    WRONG_PASSWORD = 3
    LOCKED = 4
    NOT_SIGNED = 5
    """Rejected by the server, expired, or cancelled (Ctrl-C, the last try refused)."""
    NO_CARD = 6
    """No reader, no card in time, not a JPKI card, or the card failed."""
    NETWORK = 7
    """The server could not be reached, the connection was lost for good, or a protocol error."""


class BridgeError(Exception):
    """A run that ends without a signature: catalogue `key`, its `params`, exit code, reason."""

    exit_code = ExitCode.NETWORK

    def __init__(self, key: str, *, reason: str | None = None, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.reason = reason or key
        self.params: dict[str, object] = {"reason": self.reason, **params}

    def __str__(self) -> str:
        return text("en", self.key, **self.params)


class UsageError(BridgeError):
    """The command line or its input is unusable."""

    exit_code = ExitCode.USAGE


class PasswordError(BridgeError):
    """A wrong or malformed password, and no further password can be asked for."""

    exit_code = ExitCode.WRONG_PASSWORD


class LockedError(BridgeError):
    """The signing password is locked."""

    exit_code = ExitCode.LOCKED


class NotSignedError(BridgeError):
    """Rejected, expired or cancelled."""

    exit_code = ExitCode.NOT_SIGNED


class CardUnavailableError(BridgeError):
    """No reader or card, not a JPKI card, or the card misbehaved."""

    exit_code = ExitCode.NO_CARD


class NetworkError(BridgeError):
    """The server is unreachable, or said something this bridge cannot accept."""

    exit_code = ExitCode.NETWORK
