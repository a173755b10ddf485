"""Conformance tests of the simulated card (jpkisim.card) against shared/design/jpki-card.md."""

from __future__ import annotations

import datetime
import hashlib
import io
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jpkisim import card as card_module
from jpkisim.card import ApduExchange, CardRemovedFault, SimulatedCard
from jpkisim.state import CardState
from tests.sim.test_state import AUTH_PIN, SIGNING_PASSWORD, Material, card_material, make_state

AID = bytes.fromhex("D392F000260100000001")
SELECT_AP = bytes.fromhex("00A4040C0A") + AID
SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
FIDS = {
    "token": 0x0006,
    "sign_cert": 0x0001,
    "sign_ca": 0x0002,
    "auth_cert": 0x000A,
    "auth_ca": 0x000B,
    "sign_key": 0x001A,
    "sign_pw": 0x001B,
    "auth_key": 0x0017,
    "auth_pin": 0x0018,
}


def select_ef(fid: int) -> bytes:
    return bytes.fromhex("00A4020C02") + fid.to_bytes(2, "big")


def read(offset: int, le: int) -> bytes:
    return bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, le & 0xFF])


def verify(secret: str | None) -> bytes:
    if secret is None:
        return bytes.fromhex("00200080")
    data = secret.encode()
    return bytes.fromhex("00200080") + bytes([len(data)]) + data


def sign_apdu(digest_info: bytes) -> bytes:
    return bytes([0x80, 0x2A, 0x00, 0x80, len(digest_info)]) + digest_info + b"\x00"


def digest_info(message: bytes) -> bytes:
    return SHA256_PREFIX + hashlib.sha256(message).digest()


def tx(card: SimulatedCard, command: bytes) -> tuple[bytes, int]:
    response = card.process_apdu(command)
    assert len(response) >= 2
    return response[:-2], int.from_bytes(response[-2:], "big")


def sw(card: SimulatedCard, command: bytes) -> int:
    return tx(card, command)[1]


def security_state(card: SimulatedCard) -> tuple[bool, bool]:
    """(signing password verified, auth PIN verified)."""
    return card.signing_password_verified, card.auth_pin_verified


@pytest.fixture(scope="session")
def material() -> Material:
    return card_material()


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    path = tmp_path / "card.json"
    make_state().save(path)
    return path


@pytest.fixture
def card(state_path: Path) -> SimulatedCard:
    return SimulatedCard(CardState.load(state_path), state_path)


def open_ef(card: SimulatedCard, fid: int) -> None:
    assert sw(card, SELECT_AP) == 0x9000
    assert sw(card, select_ef(fid)) == 0x9000


def login(card: SimulatedCard, pin_fid: int = 0x001B, secret: str = SIGNING_PASSWORD) -> None:
    open_ef(card, pin_fid)
    assert sw(card, verify(secret)) == 0x9000


def read_certificate(card: SimulatedCard, fid: int, chunk: int = 256) -> bytes:
    """Read as the spec says: length from the DER header, then chunks."""
    assert sw(card, select_ef(fid)) == 0x9000
    header, status = tx(card, read(0, 4))
    assert status == 0x9000
    assert header[:2] == b"\x30\x82"
    length = (header[2] << 8 | header[3]) + 4
    out = b""
    while len(out) < length:
        data, status = tx(card, read(len(out), min(chunk, length - len(out))))
        assert status == 0x9000
        out += data
    return out


# --- SELECT -------------------------------------------------------------------------------


def test_select_application(card: SimulatedCard) -> None:
    assert tx(card, SELECT_AP) == (b"", 0x9000)


def test_select_application_with_p2_00_answers_without_fci(card: SimulatedCard) -> None:
    assert tx(card, bytes.fromhex("00A404000A") + AID) == (b"", 0x9000)
    assert tx(card, bytes.fromhex("00A404000A") + AID + b"\x00") == (b"", 0x9000)


def test_select_unknown_aid(card: SimulatedCard) -> None:
    assert sw(card, bytes.fromhex("00A4040C07A0000003080000")) == 0x6A82
    assert sw(card, bytes.fromhex("00A4040C0A") + AID[:-1] + b"\x02") == 0x6A82


def test_select_ef_needs_the_application(card: SimulatedCard) -> None:
    assert sw(card, select_ef(0x0006)) == 0x6A82
    assert sw(card, SELECT_AP) == 0x9000
    assert sw(card, select_ef(0x0006)) == 0x9000


@pytest.mark.parametrize("fid", sorted(FIDS.values()))
def test_every_ef_can_be_selected(card: SimulatedCard, fid: int) -> None:
    open_ef(card, fid)
    assert card.current_fid == fid


@pytest.mark.parametrize("fid", [0x0000, 0x0003, 0x3F00, 0x001C, 0xFFFF])
def test_select_unknown_fid(card: SimulatedCard, fid: int) -> None:
    open_ef(card, 0x0006)
    assert sw(card, select_ef(fid)) == 0x6A82
    assert card.current_fid == 0x0006  # a failed SELECT keeps the selection


def test_selecting_the_application_again_clears_the_ef(card: SimulatedCard) -> None:
    open_ef(card, 0x0006)
    assert sw(card, SELECT_AP) == 0x9000
    assert sw(card, read(0, 0)) == 0x6986


@pytest.mark.parametrize(
    "command",
    ["00A4000C023F00", "00A4080C023F00", "00A404040A" + AID.hex(), "00A4020402" + "0006"],
)
def test_select_unsupported_p1p2(card: SimulatedCard, command: str) -> None:
    assert sw(card, SELECT_AP) == 0x9000
    assert sw(card, bytes.fromhex(command)) == 0x6A86


def test_select_ef_with_wrong_fid_length(card: SimulatedCard) -> None:
    assert sw(card, SELECT_AP) == 0x9000
    assert sw(card, bytes.fromhex("00A4020C03000600")) == 0x6700
    assert sw(card, bytes.fromhex("00A4020C")) == 0x6700


# --- READ BINARY --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "token"),
    [("card", b"JPKIAPICCTOKEN2"), ("smartphone", b"JPKIAPGPSETOKEN"), ("juki", b"JPKIAPICCTOKEN")],
)
def test_token_ef_is_padded_to_32(kind: str, token: bytes) -> None:
    card = SimulatedCard(make_state(token_kind=kind))
    open_ef(card, 0x0006)
    data, status = tx(card, read(0, 0))  # Le=00: 256, crosses the end: what remains
    assert status == 0x9000
    assert data == token + b"\x00" * (32 - len(token))
    assert tx(card, read(0, 20)) == (data[:20], 0x9000)
    assert sw(card, read(32, 1)) == 0x6B00


@pytest.mark.parametrize("chunk", [256, 255, 100])
@pytest.mark.parametrize("name", ["sign_ca", "auth_cert", "auth_ca"])
def test_free_certificates_read_by_der_length(
    card: SimulatedCard, material: Material, name: str, chunk: int
) -> None:
    assert sw(card, SELECT_AP) == 0x9000
    assert read_certificate(card, FIDS[name], chunk) == getattr(material, f"{name}_der")


def test_certificate_ef_is_padded_beyond_the_certificate(
    card: SimulatedCard, material: Material
) -> None:
    open_ef(card, 0x000B)
    der = material.auth_ca_der
    whole = b""
    while True:
        data, status = tx(card, read(len(whole), 0))
        if status == 0x6B00:
            break
        assert status == 0x9000
        whole += data
    assert whole.startswith(der)
    assert len(whole) >= len(der) + 256
    assert len(whole) >= 0x0800
    assert set(whole[len(der) :]) == {0xFF}


def test_read_past_the_end(card: SimulatedCard, material: Material) -> None:
    open_ef(card, 0x000A)
    size = 0x0800  # test certificates are well under 1.7 KB
    assert len(material.auth_cert_der) + 256 <= size
    assert tx(card, read(size - 10, 0)) == (b"\xff" * 10, 0x9000)
    assert sw(card, read(size, 1)) == 0x6B00
    assert sw(card, read(0x7FFF, 0)) == 0x6B00


def test_signing_certificate_needs_the_password(card: SimulatedCard, material: Material) -> None:
    open_ef(card, 0x0001)
    assert tx(card, read(0, 4)) == (b"", 0x6982)
    assert sw(card, select_ef(0x0018)) == 0x9000
    assert sw(card, verify(AUTH_PIN)) == 0x9000  # the auth PIN does not open it
    assert sw(card, select_ef(0x0001)) == 0x9000
    assert sw(card, read(0, 4)) == 0x6982
    login(card)
    assert read_certificate(card, 0x0001) == material.sign_cert_der


@pytest.mark.parametrize("fid", [0x001A, 0x001B, 0x0017, 0x0018])
def test_keys_and_pins_are_never_read(card: SimulatedCard, fid: int) -> None:
    login(card)
    open_ef(card, 0x0018)
    assert sw(card, verify(AUTH_PIN)) == 0x9000
    assert sw(card, select_ef(fid)) == 0x9000
    assert tx(card, read(0, 0)) == (b"", 0x6982)


def test_read_without_ef(card: SimulatedCard) -> None:
    assert sw(card, read(0, 0)) == 0x6986
    assert sw(card, SELECT_AP) == 0x9000
    assert sw(card, read(0, 0)) == 0x6986


def test_read_without_le_or_with_data(card: SimulatedCard) -> None:
    open_ef(card, 0x0006)
    assert sw(card, bytes.fromhex("00B00000")) == 0x6700
    assert sw(card, bytes.fromhex("00B0000001AA00")) == 0x6700


def test_read_with_short_ef_identifier_is_refused(card: SimulatedCard) -> None:
    open_ef(card, 0x0006)
    assert sw(card, bytes.fromhex("00B0860000")) == 0x6A86


# --- extended length ----------------------------------------------------------------------


def test_extended_length_off_refuses_extended_apdus(card: SimulatedCard) -> None:
    open_ef(card, 0x000A)
    assert sw(card, bytes.fromhex("00B00000000000")) == 0x6700
    assert sw(card, bytes.fromhex("00B00000000800")) == 0x6700
    assert sw(card, bytes.fromhex("00A4040C00000A") + AID) == 0x6700


def test_extended_length_on_reads_whole_ef(material: Material) -> None:
    card = SimulatedCard(make_state(extended_length=True))
    assert sw(card, bytes.fromhex("00A4040C00000A") + AID) == 0x9000
    assert sw(card, select_ef(0x000A)) == 0x9000
    data, status = tx(card, bytes.fromhex("00B00000000000"))  # Le 0000 = 65536
    assert status == 0x9000
    assert data.startswith(material.auth_cert_der)
    assert len(data) == 0x0800
    data, status = tx(card, bytes.fromhex("00B00000000400"))
    assert (len(data), status) == (0x0400, 0x9000)
    assert tx(card, bytes.fromhex("00B00004000004")) == (material.auth_cert_der[4:8], 0x9000)


def test_extended_sign(material: Material) -> None:
    card = SimulatedCard(make_state(extended_length=True))
    login(card)
    assert sw(card, select_ef(0x001A)) == 0x9000
    info = digest_info(b"extended")
    command = bytes.fromhex("802A008000") + len(info).to_bytes(2, "big") + info + b"\x00\x00"
    signature, status = tx(card, command)
    assert status == 0x9000
    material.sign_key.public_key().verify(
        signature, b"extended", padding.PKCS1v15(), hashes.SHA256()
    )


# --- VERIFY -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fid", "secret", "wrong", "max_tries"),
    [(0x001B, SIGNING_PASSWORD, "ZZZ999", 5), (0x0018, AUTH_PIN, "9999", 3)],
)
def test_tries_sequence_to_lock(
    card: SimulatedCard, fid: int, secret: str, wrong: str, max_tries: int
) -> None:
    open_ef(card, fid)
    assert sw(card, verify(None)) == 0x63C0 | max_tries
    for left in range(max_tries - 1, 0, -1):
        assert sw(card, verify(wrong)) == 0x63C0 | left
        assert sw(card, verify(None)) == 0x63C0 | left
    assert sw(card, verify(wrong)) == 0x6984  # the last try locks
    assert sw(card, verify(None)) == 0x63C0
    assert sw(card, verify(secret)) == 0x6984  # even the right one
    assert sw(card, verify(wrong)) == 0x6984
    assert sw(card, verify(None)) == 0x63C0


def test_lock_status_word_knob() -> None:
    card = SimulatedCard(make_state(lock_sw=0x6983, auth_tries_left=1))
    open_ef(card, 0x0018)
    assert sw(card, verify("0000")) == 0x6983
    assert sw(card, verify(AUTH_PIN)) == 0x6983
    assert sw(card, verify(None)) == 0x63C0


def test_status_query_after_correct_verify_still_says_tries(card: SimulatedCard) -> None:
    login(card)
    assert tx(card, verify(None)) == (b"", 0x63C5)
    assert card.signing_password_verified


def test_correct_verify_resets_the_counter(card: SimulatedCard) -> None:
    open_ef(card, 0x001B)
    assert sw(card, verify("WRONG1")) == 0x63C4
    assert sw(card, verify("WRONG2")) == 0x63C3
    assert sw(card, verify(SIGNING_PASSWORD)) == 0x9000
    assert sw(card, verify(None)) == 0x63C5


def test_wrong_verify_clears_the_security_state(card: SimulatedCard) -> None:
    login(card)
    assert sw(card, verify("WRONG1")) == 0x63C4
    assert not card.signing_password_verified
    assert sw(card, select_ef(0x0001)) == 0x9000
    assert sw(card, read(0, 4)) == 0x6982


def test_password_is_compared_exactly(card: SimulatedCard) -> None:
    open_ef(card, 0x001B)
    assert sw(card, verify(SIGNING_PASSWORD.lower())) == 0x63C4
    assert sw(card, verify(SIGNING_PASSWORD + "0")) == 0x63C3
    assert sw(card, verify(SIGNING_PASSWORD[:-1])) == 0x63C2


def test_tries_persist_in_the_state_file(card: SimulatedCard, state_path: Path) -> None:
    open_ef(card, 0x001B)
    assert sw(card, verify("WRONG1")) == 0x63C4
    assert CardState.load(state_path).signing_tries_left == 4
    open_ef(card, 0x0018)
    assert sw(card, verify("0000")) == 0x63C2
    assert CardState.load(state_path).auth_tries_left == 2
    restarted = SimulatedCard(CardState.load(state_path), state_path)
    open_ef(restarted, 0x001B)
    assert sw(restarted, verify(None)) == 0x63C4


def test_lock_persists_across_a_reload(card: SimulatedCard, state_path: Path) -> None:
    open_ef(card, 0x001B)
    for _ in range(4):
        sw(card, verify("WRONG1"))
    assert sw(card, verify("WRONG1")) == 0x6984
    restarted = SimulatedCard(CardState.load(state_path), state_path)
    open_ef(restarted, 0x001B)
    assert sw(restarted, verify(None)) == 0x63C0
    assert sw(restarted, verify(SIGNING_PASSWORD)) == 0x6984


def test_tries_write_failure_answers_memory_failure(tmp_path: Path) -> None:
    card = SimulatedCard(make_state(), tmp_path / "missing-dir" / "card.json")
    open_ef(card, 0x001B)
    assert sw(card, verify("WRONG1")) == 0x6581


@pytest.mark.parametrize("fid", [None, 0x0006, 0x0001, 0x001A, 0x0017])
def test_verify_with_the_wrong_ef(card: SimulatedCard, fid: int | None) -> None:
    assert sw(card, SELECT_AP) == 0x9000
    if fid is not None:
        assert sw(card, select_ef(fid)) == 0x9000
    assert sw(card, verify(SIGNING_PASSWORD)) == 0x6986
    assert sw(card, verify(None)) == 0x6986
    assert card.state.signing_tries_left == 5


def test_verify_wrong_p1p2(card: SimulatedCard) -> None:
    open_ef(card, 0x001B)
    assert sw(card, bytes.fromhex("00200081")) == 0x6A86
    assert sw(card, bytes.fromhex("0020008106") + SIGNING_PASSWORD.encode()) == 0x6A86


# --- security state -----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["reset", "power_cycle"])
def test_security_state_cleared_tries_kept(card: SimulatedCard, how: str) -> None:
    open_ef(card, 0x001B)
    assert sw(card, verify("WRONG1")) == 0x63C4
    assert sw(card, verify(SIGNING_PASSWORD)) == 0x9000
    assert sw(card, verify("WRONG2")) == 0x63C4
    assert sw(card, verify(SIGNING_PASSWORD)) == 0x9000
    open_ef(card, 0x0018)
    assert sw(card, verify("0000")) == 0x63C2
    assert sw(card, verify(AUTH_PIN)) == 0x9000
    assert sw(card, verify("0000")) == 0x63C2
    assert sw(card, verify(AUTH_PIN)) == 0x9000
    if how == "reset":
        card.reset()
    else:
        card.power_off()
        card.power_on()
    assert not card.signing_password_verified
    assert not card.auth_pin_verified
    assert sw(card, read(0, 0)) == 0x6986  # the selection is gone too
    open_ef(card, 0x0001)
    assert sw(card, read(0, 4)) == 0x6982
    assert sw(card, select_ef(0x0017)) == 0x9000
    assert sw(card, sign_apdu(digest_info(b"x"))) == 0x6982
    assert sw(card, select_ef(0x001B)) == 0x9000
    assert sw(card, verify(None)) == 0x63C5


def test_powered_off_card_does_not_answer(card: SimulatedCard) -> None:
    card.power_off()
    with pytest.raises(card_module.CardNotPoweredError):
        card.process_apdu(SELECT_AP)
    card.power_on()
    assert sw(card, SELECT_AP) == 0x9000


# --- signature ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [(0x001B, SIGNING_PASSWORD, 0x001A, "sign_key"), (0x0018, AUTH_PIN, 0x0017, "auth_key")],
)
def test_signature_verifies_with_the_public_key(
    card: SimulatedCard, material: Material, case: tuple[int, str, int, str]
) -> None:
    pin_fid, secret, key_fid, key_name = case
    message = b"contract v1 signed attributes"
    login(card, pin_fid, secret)
    assert sw(card, select_ef(key_fid)) == 0x9000
    signature, status = tx(card, sign_apdu(digest_info(message)))
    assert status == 0x9000
    assert len(signature) == 256
    key = getattr(material, key_name)
    key.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    # PKCS#1 v1.5 is deterministic: the card must equal a software signature
    assert signature == key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        key.public_key().verify(signature, b"another", padding.PKCS1v15(), hashes.SHA256())
    assert card.signature_count == 1


def test_signature_does_not_hash(card: SimulatedCard, material: Material) -> None:
    """The card pads what it is given: a SHA-512 DigestInfo verifies as SHA-512."""
    prefix = bytes.fromhex("3051300d060960864801650304020305000440")
    login(card)
    assert sw(card, select_ef(0x001A)) == 0x9000
    signature, status = tx(card, sign_apdu(prefix + hashlib.sha512(b"m").digest()))
    assert status == 0x9000
    material.sign_key.public_key().verify(signature, b"m", padding.PKCS1v15(), hashes.SHA512())


def test_signature_without_le(card: SimulatedCard, material: Material) -> None:
    login(card)
    assert sw(card, select_ef(0x001A)) == 0x9000
    signature, status = tx(card, sign_apdu(digest_info(b"m"))[:-1])
    assert status == 0x9000
    material.sign_key.public_key().verify(signature, b"m", padding.PKCS1v15(), hashes.SHA256())


def test_sign_without_verify(card: SimulatedCard) -> None:
    open_ef(card, 0x001A)
    assert tx(card, sign_apdu(digest_info(b"m"))) == (b"", 0x6982)
    open_ef(card, 0x0018)
    assert sw(card, verify(AUTH_PIN)) == 0x9000  # the wrong PIN for this key
    assert sw(card, select_ef(0x001A)) == 0x9000
    assert sw(card, sign_apdu(digest_info(b"m"))) == 0x6982
    assert card.signature_count == 0


@pytest.mark.parametrize("fid", [None, 0x0006, 0x0001, 0x001B, 0x0018])
def test_sign_with_the_wrong_ef(card: SimulatedCard, fid: int | None) -> None:
    login(card)
    assert sw(card, SELECT_AP) == 0x9000
    if fid is not None:
        assert sw(card, select_ef(fid)) == 0x9000
    assert sw(card, sign_apdu(digest_info(b"m"))) == 0x6986


def test_digest_info_length_limits(card: SimulatedCard, material: Material) -> None:
    login(card)
    assert sw(card, select_ef(0x001A)) == 0x9000
    longest = bytes(range(245))  # k - 11 for a 2048-bit key
    signature, status = tx(card, sign_apdu(longest))
    assert status == 0x9000
    recovered = pow(
        int.from_bytes(signature, "big"),
        material.sign_key.public_key().public_numbers().e,
        material.sign_key.public_key().public_numbers().n,
    ).to_bytes(256, "big")
    assert recovered == b"\x00\x01" + b"\xff" * 8 + b"\x00" + longest
    assert sw(card, sign_apdu(longest + b"\x00")) == 0x6700
    assert sw(card, bytes.fromhex("802A0080")) == 0x6700
    assert sw(card, bytes.fromhex("802A008000")) == 0x6700


def test_iso_sign_command_is_not_the_jpki_one(card: SimulatedCard) -> None:
    login(card)
    assert sw(card, select_ef(0x001A)) == 0x9000
    info = digest_info(b"m")
    assert sw(card, bytes([0x00, 0x2A, 0x9E, 0x9A, len(info)]) + info + b"\x00") == 0x6D00
    assert sw(card, bytes([0x80, 0x2A, 0x9E, 0x9A, len(info)]) + info + b"\x00") == 0x6A86


def test_sign_latency_is_modelled(card: SimulatedCard, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    card.state.apdu_latency_ms = 5
    card.state.sign_latency_ms = 400
    login(card)
    assert sw(card, select_ef(0x001A)) == 0x9000
    assert slept == [0.005] * 4
    assert sw(card, sign_apdu(digest_info(b"m"))) == 0x9000
    assert slept[4:] == [0.005, 0.4]


# --- class, instruction, lengths ----------------------------------------------------------


@pytest.mark.parametrize("cla", [0x01, 0x04, 0x0C, 0x10, 0x84, 0x90, 0xA0, 0xFF])
def test_unknown_class(card: SimulatedCard, cla: int) -> None:
    assert sw(card, bytes([cla]) + SELECT_AP[1:]) == 0x6E00


@pytest.mark.parametrize(
    "command", ["00CA000000", "0084000008", "00C0000000", "80A4040C0A" + AID.hex(), "80B0000000"]
)
def test_unknown_instruction(card: SimulatedCard, command: str) -> None:
    assert sw(card, bytes.fromhex(command)) == 0x6D00


@pytest.mark.parametrize(
    "command",
    [
        "",
        "00",
        "00A4",
        "00A404",
        "00A4040C0B" + AID.hex(),  # Lc says 11, 10 bytes follow
        "00A4040C0A" + AID.hex() + "0000",  # two bytes after the data
        "00A4040C08" + AID.hex(),  # Lc 8: neither case 3 nor case 4
        "00B000000000",  # truncated extended Le
        "00A4040C000000",  # extended Lc of zero with no data (case 2E Le when on: off here)
        "00A4040C00000B" + AID.hex(),
    ],
)
def test_malformed_lengths(card: SimulatedCard, command: str) -> None:
    assert tx(card, bytes.fromhex(command)) == (b"", 0x6700)


def test_extended_malformed_even_when_on() -> None:
    card = SimulatedCard(make_state(extended_length=True))
    assert sw(card, bytes.fromhex("00A4040C0000000A") + AID) == 0x6700  # Lc 0000 + data
    assert sw(card, bytes.fromhex("00A4040C00000B") + AID) == 0x6700
    assert sw(card, bytes.fromhex("00B000000000")) == 0x6700


# --- removal fault ------------------------------------------------------------------------


def test_card_removed_after_n_apdus(material: Material) -> None:
    card = SimulatedCard(make_state(remove_after_apdus=3))
    login(card)  # three APDUs
    assert security_state(card) == (True, False)
    with pytest.raises(CardRemovedFault):
        card.process_apdu(select_ef(0x001A))
    assert card.removed
    with pytest.raises(CardRemovedFault):
        card.process_apdu(SELECT_AP)
    with pytest.raises(CardRemovedFault):
        card.power_on()
    assert issubclass(CardRemovedFault, ConnectionError)
    card.reinsert()
    assert card.inserted.is_set()
    assert security_state(card) == (False, False)  # fresh power-on
    assert card.current_fid is None
    for _ in range(3):  # one-shot: not armed again by reinsertion
        login(card)
    assert card.apdu_count == 12
    assert [x.sw for x in card.history][3:5] == [None, None]


def test_remove_after_zero_apdus() -> None:
    card = SimulatedCard(make_state(remove_after_apdus=0))
    with pytest.raises(CardRemovedFault):
        card.process_apdu(SELECT_AP)


def test_remove_and_reinsert(card: SimulatedCard) -> None:
    login(card)
    card.remove()
    with pytest.raises(CardRemovedFault):
        card.process_apdu(verify(None))
    insertions = card.insertions
    card.reinsert()
    assert card.insertions == insertions + 1
    assert sw(card, select_ef(0x001B)) == 0x6A82  # nothing selected after reinsertion
    open_ef(card, 0x001B)
    assert sw(card, verify(None)) == 0x63C5


def test_lost_answer_still_spends_the_try(card: SimulatedCard, state_path: Path) -> None:
    open_ef(card, 0x001B)
    card.arm_removal(0, lose_answer=True)
    with pytest.raises(CardRemovedFault):
        card.process_apdu(verify("WRONG1"))
    assert CardState.load(state_path).signing_tries_left == 4
    card.reinsert()
    open_ef(card, 0x001B)
    assert sw(card, verify(None)) == 0x63C4


def test_removed_during_the_signature(card: SimulatedCard, monkeypatch: pytest.MonkeyPatch) -> None:
    card.state.sign_latency_ms = 7

    def pause(milliseconds: float) -> None:
        if milliseconds == 7:  # the tag leaves the field while the card computes
            card.remove()

    monkeypatch.setattr(card, "_pause", pause)
    login(card)
    assert sw(card, select_ef(0x001A)) == 0x9000
    with pytest.raises(CardRemovedFault):
        card.process_apdu(sign_apdu(digest_info(b"m")))
    assert card.history[-1].response is None


def test_arm_removal_none_disarms() -> None:
    card = SimulatedCard(make_state(remove_after_apdus=1))
    card.arm_removal(None)
    for _ in range(3):
        assert sw(card, SELECT_AP) == 0x9000


# --- history, hook and APDU log -----------------------------------------------------------


def _session_with_passwords(card: SimulatedCard) -> None:
    open_ef(card, 0x001B)
    assert sw(card, verify("WRONG9")) == 0x63C4
    assert sw(card, verify(SIGNING_PASSWORD)) == 0x9000
    open_ef(card, 0x0018)
    assert sw(card, verify(AUTH_PIN)) == 0x9000


def _secret_forms() -> list[str]:
    forms = []
    for secret in (SIGNING_PASSWORD, "WRONG9", AUTH_PIN):
        raw = secret.encode()
        forms += [secret, raw.hex(), raw.hex().upper(), raw.hex(" "), raw.hex(" ").upper()]
    return forms


def test_counters_history_and_hook(state_path: Path) -> None:
    seen: list[ApduExchange] = []
    card = SimulatedCard(CardState.load(state_path), state_path, on_apdu=seen.append)
    _session_with_passwords(card)
    assert card.apdu_count == 7
    assert list(card.history) == seen
    assert seen[0].command == SELECT_AP
    assert seen[0].sw == 0x9000
    assert seen[3].command == verify(SIGNING_PASSWORD)  # raw bytes for assertions
    text = " ".join(str(x) for x in seen) + repr(seen)
    assert "00200080 06 <redacted> -> 9000" in text
    for form in _secret_forms():
        assert form not in text


def test_apdu_log_to_stream_redacts_verify(state_path: Path) -> None:
    log = io.StringIO()
    card = SimulatedCard(CardState.load(state_path), state_path, apdu_log=log)
    _session_with_passwords(card)
    card.remove()
    with pytest.raises(CardRemovedFault):
        card.process_apdu(verify(SIGNING_PASSWORD))
    lines = log.getvalue().splitlines()
    assert len(lines) == 8
    stamp, command = lines[0].split(" ", 1)
    assert datetime.datetime.fromisoformat(stamp).tzinfo is not None
    assert command == "00A4040C 0A D392F000260100000001 -> 9000 (command 15 B, response 2 B)"
    assert lines[2].endswith(" 00200080 06 <redacted> -> 63C4 (command 11 B, response 2 B)")
    assert lines[3].endswith(" 00200080 06 <redacted> -> 9000 (command 11 B, response 2 B)")
    assert lines[6].endswith(" 00200080 04 <redacted> -> 9000 (command 9 B, response 2 B)")
    assert lines[7].endswith(" 00200080 06 <redacted> -> removed (command 11 B, response 0 B)")
    for form in _secret_forms():
        assert form not in log.getvalue()


def test_apdu_log_to_file(tmp_path: Path, state_path: Path) -> None:
    log_path = tmp_path / "apdu.log"
    card = SimulatedCard(CardState.load(state_path), state_path, apdu_log=log_path)
    _session_with_passwords(card)
    assert sw(card, bytes.fromhex("0020008007") + b"ABC1234" + b"\x00\x00") == 0x6700
    text = log_path.read_text()
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600
    assert len(text.splitlines()) == 8
    assert "<redacted malformed>" in text
    for form in [*_secret_forms(), "ABC1234", b"ABC1234".hex()]:
        assert form not in text


# --- robustness ---------------------------------------------------------------------------

_HEADERS = st.tuples(
    st.sampled_from([0x00, 0x80, 0x84, 0x0C]),
    st.sampled_from([0xA4, 0xB0, 0x20, 0x2A, 0xCA, 0x00]),
    st.integers(0, 255),
    st.integers(0, 255),
).map(bytes)
_COMMANDS = st.one_of(
    st.binary(max_size=300),
    st.tuples(_HEADERS, st.binary(max_size=300)).map(lambda hb: hb[0] + hb[1]),
    st.tuples(_HEADERS, st.binary(max_size=258)).map(
        lambda hb: hb[0] + bytes([len(hb[1]) & 0xFF]) + hb[1]
    ),
)


def _fuzz_card(extended: bool) -> SimulatedCard:
    card = SimulatedCard(make_state(extended_length=extended, remove_after_apdus=40))
    login(card)
    open_ef(card, 0x0018)
    assert sw(card, verify(AUTH_PIN)) == 0x9000
    return card


def _check_answer(card: SimulatedCard, command: bytes) -> None:
    try:
        response = card.process_apdu(command)
    except CardRemovedFault:
        card.reinsert()
        login(card)
        return
    assert isinstance(response, bytes)
    assert len(response) >= 2


@pytest.mark.parametrize("extended", [False, True])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_commands_always_get_a_status_word(extended: bool, data: st.DataObject) -> None:
    card = _fuzz_card(extended)
    for command in data.draw(st.lists(_COMMANDS, min_size=1, max_size=8)):
        _check_answer(card, command)


def test_fuzz_helper_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """The robustness check itself notices a response without a status word."""
    card = SimulatedCard(make_state())
    broken: Callable[[bytes], bytes] = lambda _: b"\x90"  # noqa: E731
    monkeypatch.setattr(card, "process_apdu", broken)
    with pytest.raises(AssertionError):
        _check_answer(card, SELECT_AP)
