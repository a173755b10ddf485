"""Tokens, password hashes and TOTP codes."""

from __future__ import annotations

import base64

import pyotp
import pytest

from webapp.security import (
    hash_secret,
    new_token,
    new_totp_secret,
    password_problems,
    token_hash,
    token_matches,
    verify_secret,
    verify_totp,
)


def test_tokens_carry_at_least_128_random_bits_and_differ() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 16


def test_token_hash_is_what_is_stored_and_compared() -> None:
    token = new_token()
    stored = token_hash(token)
    assert token not in stored
    assert token_matches(token, stored)
    assert not token_matches(token + "x", stored)
    assert not token_matches(new_token(), stored)


def test_secret_hash_round_trip() -> None:
    stored = hash_secret("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert verify_secret("correct horse battery staple", stored)
    assert not verify_secret("wrong", stored)
    assert not verify_secret("anything", "not a hash")


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short1", "password_too_short"),
        ("x" * 257, "password_too_long"),
        ("password123", "password_too_common"),
        ("aaaaaaaaaaaa", "password_too_common"),
        ("hanako.yamada-2026", "password_contains_email"),
    ],
)
def test_password_rule(password: str, problem: str) -> None:
    assert problem in password_problems(password, "hanako.yamada@example.jp")


def test_a_good_password_passes() -> None:
    assert password_problems("kiri-sakura-7-tsuki", "hanako@example.jp") == []


def test_totp_window() -> None:
    secret = new_totp_secret()
    totp = pyotp.TOTP(secret)
    now = 1_800_000_000.0
    assert verify_totp(secret, totp.at(now), at=now)
    assert verify_totp(secret, totp.at(now - 30), at=now)
    assert not verify_totp(secret, totp.at(now - 120), at=now)
    assert not verify_totp(secret, "12345", at=now)
    assert not verify_totp(secret, "abcdef", at=now)
