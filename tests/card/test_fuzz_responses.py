"""Fuzzed card answers: whatever the card says, only the driver's own errors come out."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from card.connection import CallableConnection
from card.errors import CardError
from card.jpki import JpkiCardToken, JpkiSession

STATUS_WORDS = st.sampled_from(
    [
        b"\x90\x00",
        b"\x63\xc0",
        b"\x63\xc3",
        b"\x69\x82",
        b"\x69\x84",
        b"\x6a\x82",
        b"\x6b\x00",
        b"\x6c\x10",
        b"\x6c\x00",
        b"\x61\x10",
        b"\x67\x00",
        b"\x6f\x00",
    ]
)
ANSWER = st.one_of(
    st.binary(max_size=300),
    st.tuples(st.binary(max_size=300), STATUS_WORDS).map(lambda t: t[0] + t[1]),
    st.tuples(st.just(b"\x30\x82"), st.binary(min_size=2, max_size=300), STATUS_WORDS).map(
        lambda t: t[0] + t[1] + t[2]
    ),
)

OPERATIONS: list[Callable[[JpkiSession], object]] = [
    lambda s: s.select_application(),
    lambda s: s.read_token(),
    lambda s: s.signing_password_tries_left(),
    lambda s: s.verify_signing_password("ABC123"),
    lambda s: s.read_signing_certificate(),
    lambda s: s.read_auth_ca_certificate(),
    lambda s: s.sign_sha256_digest(bytes(32)),
    lambda s: JpkiCardToken(s, include_ca_certificate=True).ca_certificates(),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    answers=st.lists(ANSWER, min_size=1, max_size=40),
    operation=st.sampled_from(range(len(OPERATIONS))),
)
def test_random_answers_only_raise_card_errors(answers: list[bytes], operation: int) -> None:
    pending = iter(answers)

    def card(_: bytes) -> bytes:
        return next(pending, b"\x90\x00")

    session = JpkiSession(CallableConnection(card), extended_length=operation % 2 == 0)
    with contextlib.suppress(CardError):
        OPERATIONS[operation](session)
