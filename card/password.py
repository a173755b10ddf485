"""Signing-password rules, checked before any VERIFY so malformed input never costs a try."""

from __future__ import annotations

import re
import unicodedata

from card.errors import InvalidPasswordFormatError

SIGNING_PASSWORD_MIN_LENGTH = 6
SIGNING_PASSWORD_MAX_LENGTH = 16
AUTH_PIN_LENGTH = 4

_SIGNING_PASSWORD = re.compile(r"[A-Z0-9]{6,16}")
_AUTH_PIN = re.compile(r"[0-9]{4}")


def normalize_signing_password(typed: str) -> str:
    """The password as the card expects it: upper-case A-Z and 0-9, 6 to 16 characters.

    Full-width characters typed through a Japanese input method (`ｐａｓｓ１２`) are
    folded to ASCII and surrounding blanks dropped, as they cannot be part of a password.
    Anything else raises `InvalidPasswordFormatError`, whose message never repeats the input.
    """
    candidate = unicodedata.normalize("NFKC", typed).strip()
    if not candidate.isascii() or _SIGNING_PASSWORD.fullmatch(candidate.upper()) is None:
        raise InvalidPasswordFormatError(
            "the signing password is 6 to 16 letters A-Z and digits 0-9"
        )
    return candidate.upper()


def normalize_auth_pin(typed: str) -> str:
    """The 4-digit authentication PIN, or `InvalidPasswordFormatError`."""
    candidate = unicodedata.normalize("NFKC", typed).strip()
    if _AUTH_PIN.fullmatch(candidate) is None:
        raise InvalidPasswordFormatError("the authentication PIN is 4 digits")
    return candidate
