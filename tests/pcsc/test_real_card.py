"""Opt-in checks against a real My Number Card on a real reader (`pytest --real-card`).

No password is asked for and no try is spent: only what the card gives freely is read.
Set MYNASIGN_REAL_READER to part of the reader's name when several are connected.
"""

from __future__ import annotations

import os

import pytest
from cryptography import x509

from card.jpki import JpkiSession, TokenKind
from card.pcsc import PcscConnection
from card.trust import jpki_signing_roots

pytestmark = pytest.mark.real_card


def test_real_card_is_a_jpki_card_whose_signing_ca_is_a_real_root() -> None:
    with PcscConnection(os.environ.get("MYNASIGN_REAL_READER"), wait=30) as connection:
        session = JpkiSession(connection)
        assert session.read_token().kind in (TokenKind.MY_NUMBER_CARD, TokenKind.SMARTPHONE)
        assert 0 <= session.signing_password_tries_left() <= 5
        ca = session.read_signing_ca_certificate()
        auth = x509.load_der_x509_certificate(session.read_auth_certificate())
    assert ca in jpki_signing_roots().values()
    assert auth.not_valid_after_utc > auth.not_valid_before_utc
