"""The signing-password rules as the person types: what to say under the field, and whether OK.

The same rules as `card.password.normalize_signing_password` (which still decides before
any VERIFY); this only explains them early. Nothing here keeps or returns the input.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from card.errors import InvalidPasswordFormatError
from card.password import (
    SIGNING_PASSWORD_MAX_LENGTH,
    SIGNING_PASSWORD_MIN_LENGTH,
    normalize_signing_password,
)


@dataclass(frozen=True)
class RuleCheck:
    """Whether the typed text is a well-formed password, and the hint (catalogue key)."""

    ok: bool
    key: str
    params: dict[str, object] = field(default_factory=dict)


def check_typed(typed: str) -> RuleCheck:
    """The rule hint for what is in the field now."""
    try:
        normalize_signing_password(typed)
    except InvalidPasswordFormatError:
        pass
    else:
        return RuleCheck(True, "app_password_ok")
    candidate = unicodedata.normalize("NFKC", typed).strip()
    if not candidate:
        return RuleCheck(False, "app_password_rule")
    if not all(char.isascii() and char.isalnum() for char in candidate):
        return RuleCheck(False, "app_password_bad_character")
    if len(candidate) < SIGNING_PASSWORD_MIN_LENGTH:
        missing = SIGNING_PASSWORD_MIN_LENGTH - len(candidate)
        return RuleCheck(False, "app_password_too_short", {"missing": missing})
    if len(candidate) > SIGNING_PASSWORD_MAX_LENGTH:
        return RuleCheck(False, "app_password_too_long")
    return RuleCheck(False, "app_password_rule")
