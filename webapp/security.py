"""Secrets of the web service: random tokens stored hashed, password hashes, TOTP codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_BYTES = 32
"""Link, session and API tokens: 256 random bits (at least 128 are required)."""

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256
_COMMON_PASSWORDS = frozenset(
    {
        "password", "password1", "password123", "1234567890", "12345678901", "qwertyuiop",
        "iloveyou12", "passw0rd12", "abcdefghij", "0123456789", "1q2w3e4r5t", "qwerty1234",
        "administrator", "letmein123", "welcome123", "mynasign123", "asdfghjkl1",
    }
)  # fmt: skip

_hasher = PasswordHasher()


def new_token() -> str:
    """A fresh URL-safe token with 256 random bits."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What is stored for a token: its SHA-256, hex. Tokens have full entropy, so no salt."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token with a stored hash."""
    return hmac.compare_digest(token_hash(token), stored_hash)


def hash_secret(secret: str) -> str:
    """argon2id hash of a password or access code."""
    return _hasher.hash(secret)


def verify_secret(secret: str, stored_hash: str) -> bool:
    """True when `secret` matches the argon2 hash; never raises on a bad hash."""
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_problems(password: str, email: str = "") -> list[str]:
    """Why a sender's password is too weak (message keys), empty when it is acceptable.

    The rule: 10 to 256 characters, not a well-known password, not the e-mail address or
    its name part, and not a single repeated character.
    """
    problems: list[str] = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append("password_too_short")
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append("password_too_long")
    lowered = password.lower()
    local = email.lower().split("@", 1)[0]
    if lowered in _COMMON_PASSWORDS or len(set(lowered)) <= 2:
        problems.append("password_too_common")
    if email and (lowered == email.lower() or (len(local) >= 4 and local in lowered)):
        problems.append("password_contains_email")
    return problems


def new_totp_secret() -> str:
    """A base32 secret for an authenticator app."""
    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="mynasign")


def verify_totp(secret: str, code: str, *, at: float | None = None) -> bool:
    """A 6-digit code valid now or one 30-second step either side."""
    cleaned = code.replace(" ", "").strip()
    if not (cleaned.isdigit() and len(cleaned) == 6):
        return False
    return pyotp.TOTP(secret).verify(
        cleaned, for_time=at if at is not None else time.time(), valid_window=1
    )
