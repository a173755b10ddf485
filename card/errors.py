"""The card layer's errors: one base class, one subclass per thing a person must be told."""

from __future__ import annotations


class CardError(Exception):
    """Base class of every error the card layer raises on purpose."""


class ConnectionFailedError(CardError):
    """The reader could not be reached or the card did not answer."""


class NoReaderError(ConnectionFailedError):
    """No PC/SC reader is connected, or the named reader does not exist."""


class NoCardError(ConnectionFailedError):
    """No card was presented on the reader in time."""


class CardRemovedError(ConnectionFailedError):
    """The card was taken away or stopped responding in the middle of a command."""


class NotJpkiCardError(CardError):
    """The card has no JPKI application (not a My Number Card)."""


class InvalidPasswordFormatError(CardError, ValueError):
    """The password is not 6 to 16 of A-Z and 0-9; nothing was sent to the card."""


class WrongPasswordError(CardError):
    """The card refused the password; `tries_left` more tries before it locks (None: unknown)."""

    def __init__(self, tries_left: int | None) -> None:
        left = "an unknown number of" if tries_left is None else str(tries_left)
        super().__init__(f"wrong password, {left} tries left")
        self.tries_left = tries_left


class PasswordLockedError(CardError):
    """The password is locked after too many wrong tries; only the municipal office resets it."""


class SecurityStatusError(CardError):
    """The card refused a command because the password has not been verified."""


class FileNotFoundOnCardError(CardError):
    """The card has no such file."""


class UnexpectedCardResponseError(CardError):
    """The card answered with a status word or data the driver does not expect."""


class Pkcs11Error(CardError):
    """The PKCS#11 module or its token failed."""
