"""The driver through pcscd + vpcd + `jpki-sim serve`: signing, tries, lock, removal, logs."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from card.connection import APDU_LOG_LEVEL
from card.errors import (
    CardRemovedError,
    InvalidPasswordFormatError,
    NoCardError,
    NoReaderError,
    PasswordLockedError,
    SecurityStatusError,
    WrongPasswordError,
)
from card.jpki import JpkiSession, TokenKind
from card.pcsc import PcscConnection, list_readers, reader_statuses
from jpkisim.pcscd import READER_0, READER_1
from jpkisim.state import CardState
from tests.conftest import SIGNING_PASSWORD, SimulatedReader

pytestmark = pytest.mark.pcsc

WRONG = "WRONG999"


def verify_signature(certificate_der: bytes, signature: bytes, message: bytes) -> None:
    public_key = x509.load_der_x509_certificate(certificate_der).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_readers_listed_with_card_presence(sim_reader: SimulatedReader) -> None:
    assert list_readers() == [READER_0, READER_1]
    statuses = {status.name: status for status in reader_statuses()}
    assert statuses[READER_0].card_present
    assert statuses[READER_0].atr == bytes.fromhex("3BE000FF8131FE4514")
    assert not statuses[READER_1].card_present


def test_driver_signs_and_the_signature_verifies(sim_reader: SimulatedReader) -> None:
    with PcscConnection(READER_0) as connection:
        session = JpkiSession(connection)
        assert session.read_token().kind is TokenKind.MY_NUMBER_CARD
        assert session.signing_password_tries_left() == 5
        session.verify_signing_password(SIGNING_PASSWORD.lower())
        certificate = session.read_signing_certificate()
        signature = session.sign_sha256(b"contract bytes")
    verify_signature(certificate, signature, b"contract bytes")
    assert connection.apdus_sent <= 16


def test_reader_chosen_by_part_of_its_name(sim_reader: SimulatedReader) -> None:
    with PcscConnection("pcd 00 00") as connection:
        assert connection.reader == READER_0


def test_no_such_reader(pcscd: object) -> None:
    with pytest.raises(NoReaderError, match="no reader named"):
        PcscConnection("Nonexistent Reader")


def test_no_card_on_the_reader_in_time(pcscd: object) -> None:
    with pytest.raises(NoCardError):
        PcscConnection(READER_1, wait=0.3)


def test_wrong_password_costs_exactly_one_try(sim_reader: SimulatedReader) -> None:
    with PcscConnection(READER_0) as connection:
        session = JpkiSession(connection)
        assert session.signing_password_tries_left() == 5
        with pytest.raises(WrongPasswordError) as raised:
            session.verify_signing_password(WRONG)
        assert raised.value.tries_left == 4
        assert session.signing_password_tries_left() == 4
        session.verify_signing_password(SIGNING_PASSWORD)
        assert session.signing_password_tries_left() == 5


def test_fifth_wrong_password_locks_and_the_lock_survives_a_restart(
    sim_reader: SimulatedReader,
) -> None:
    with PcscConnection(READER_0) as connection:
        session = JpkiSession(connection)
        for left in (4, 3, 2, 1):
            with pytest.raises(WrongPasswordError) as raised:
                session.verify_signing_password(WRONG)
            assert raised.value.tries_left == left
        with pytest.raises(PasswordLockedError):
            session.verify_signing_password(WRONG)
        assert session.signing_password_tries_left() == 0
    sim_reader.remove()
    sim_reader.insert()
    with PcscConnection(READER_0) as connection:
        session = JpkiSession(connection)
        assert session.signing_password_tries_left() == 0
        with pytest.raises(PasswordLockedError):
            session.verify_signing_password(SIGNING_PASSWORD)


@pytest.mark.parametrize("malformed", ["ABC", "TOOLONGPASSWORD17", "PASS WORD", "パスワード123"])
def test_malformed_passwords_never_reach_the_card(
    sim_reader: SimulatedReader, malformed: str
) -> None:
    with PcscConnection(READER_0) as connection:
        session = JpkiSession(connection)
        session.select_application()
        with pytest.raises(InvalidPasswordFormatError):
            session.verify_signing_password(malformed)
        assert session.signing_password_tries_left() == 5
    verifies = [line for line in sim_reader.apdu_lines() if " 0020" in line or "00208" in line]
    assert verifies, "the status query must be in the APDU log"
    assert all("redacted" not in line for line in verifies), "no VERIFY with data was sent"


def test_nothing_logged_contains_the_password(
    sim_reader: SimulatedReader, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(APDU_LOG_LEVEL, logger="card.apdu")
    with PcscConnection(READER_0) as connection:
        session = JpkiSession(connection)
        with pytest.raises(WrongPasswordError):
            session.verify_signing_password(WRONG)
        session.verify_signing_password(SIGNING_PASSWORD)
        session.sign_sha256(b"x")
    assert any("redacted" in record.getMessage() for record in caplog.records)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    apdu_log = sim_reader.apdu_log.read_text()
    for secret in (SIGNING_PASSWORD, WRONG):
        for form in (secret, secret.lower(), secret.encode().hex(), secret.encode().hex().upper()):
            assert form not in logged
            assert form not in apdu_log


def test_removal_mid_signature_then_represented(
    make_card_state: Callable[..., Path],
    make_sim_reader: Callable[[Path], SimulatedReader],
) -> None:
    # select AP, select PIN EF, VERIFY, select cert, 6 reads, select key: the 12th APDU (the
    # signature) is where the card goes away.
    state = make_card_state(remove_after_apdus=11)
    reader = make_sim_reader(state)
    reader.insert()
    digest = hashlib.sha256(b"document").digest()
    with PcscConnection(READER_0) as connection:
        session = JpkiSession(connection)
        session.verify_signing_password(SIGNING_PASSWORD)
        session.read_signing_certificate()
        with pytest.raises(CardRemovedError):
            session.sign_sha256_digest(digest)
    reader.remove()
    healthy = CardState.load(state)
    healthy.remove_after_apdus = None
    healthy.save(state)
    reader.insert()
    with PcscConnection(READER_0, wait=5) as connection:
        session = JpkiSession(connection)
        assert session.signing_password_tries_left() == 5
        session.verify_signing_password(SIGNING_PASSWORD)
        certificate = session.read_signing_certificate()
        signature = session.sign_sha256_digest(digest)
    public_key = x509.load_der_x509_certificate(certificate).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(signature, b"document", padding.PKCS1v15(), hashes.SHA256())


def test_apdu_log_level_is_below_debug() -> None:
    assert APDU_LOG_LEVEL < logging.DEBUG


def test_verified_password_does_not_outlive_the_connection(sim_reader: SimulatedReader) -> None:
    with PcscConnection(READER_0) as connection:
        JpkiSession(connection).verify_signing_password(SIGNING_PASSWORD)
    with PcscConnection(READER_0) as connection, pytest.raises(SecurityStatusError):
        JpkiSession(connection).read_signing_certificate()


def test_read_only_look_leaves_the_card_as_it_was(sim_reader: SimulatedReader) -> None:
    with PcscConnection(READER_0, exclusive=False, reset_on_close=False) as connection:
        JpkiSession(connection).verify_signing_password(SIGNING_PASSWORD)
    with PcscConnection(READER_0) as connection:
        assert JpkiSession(connection).read_signing_certificate()
