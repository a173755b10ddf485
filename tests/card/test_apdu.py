"""Byte-exact APDU encoding, status-word naming and redaction."""

from __future__ import annotations

import pytest

from card.apdu import SW, ApduError, CommandApdu, ResponseApdu, redacted_hex, sw_name
from card.errors import CardError, UnexpectedCardResponseError
from tests.card.scripted import ScriptedCard


def test_case_1() -> None:
    assert CommandApdu(0x00, 0x20, 0x00, 0x80).to_bytes() == bytes.fromhex("00200080")


def test_case_2_short_le_256_is_00() -> None:
    assert CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256).to_bytes() == bytes.fromhex("00B0000000")


def test_case_3_short() -> None:
    aid = bytes.fromhex("D392F000260100000001")
    assert CommandApdu(0x00, 0xA4, 0x04, 0x0C, aid).to_bytes() == bytes.fromhex(
        "00A4040C0AD392F000260100000001"
    )


def test_case_4_short() -> None:
    raw = CommandApdu(0x80, 0x2A, 0x00, 0x80, b"\x01" * 51, le=256).to_bytes()
    assert raw == bytes.fromhex("802A008033") + b"\x01" * 51 + b"\x00"


@pytest.mark.parametrize("length", [0, 1, 0x7F, 0x80, 0xFF])
def test_short_lc_boundaries(length: int) -> None:
    raw = CommandApdu(0x00, 0xD6, 0x00, 0x00, bytes(length)).to_bytes()
    assert raw == bytes.fromhex("00D60000") + (bytes((length,)) if length else b"") + bytes(length)


@pytest.mark.parametrize("length", [0x100, 0x101, 0xFFFF])
def test_short_lc_too_long(length: int) -> None:
    with pytest.raises(ValueError, match="exceed"):
        CommandApdu(0x00, 0xD6, 0x00, 0x00, bytes(length))


@pytest.mark.parametrize("length", [1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF])
def test_extended_lc_boundaries(length: int) -> None:
    raw = CommandApdu(0x00, 0xD6, 0x00, 0x00, bytes(length), extended=True).to_bytes()
    assert raw[:7] == bytes.fromhex("00D6000000") + length.to_bytes(2, "big")
    assert len(raw) == 7 + length


@pytest.mark.parametrize(
    ("le", "tail"),
    [(1, "000001"), (0xFF, "0000FF"), (0x100, "000100"), (0xFFFF, "00FFFF"), (0x10000, "000000")],
)
def test_extended_le_without_data(le: int, tail: str) -> None:
    raw = CommandApdu(0x00, 0xB0, 0x00, 0x00, le=le, extended=True).to_bytes()
    assert raw == bytes.fromhex("00B00000" + tail)


def test_extended_case_4() -> None:
    raw = CommandApdu(0x00, 0x2A, 0x9E, 0x9A, b"\xaa" * 3, le=0x10000, extended=True).to_bytes()
    assert raw == bytes.fromhex("002A9E9A000003AAAAAA0000")


@pytest.mark.parametrize("le", [0, 257, 0x10001])
def test_short_le_out_of_range(le: int) -> None:
    with pytest.raises(ValueError, match="Le"):
        CommandApdu(0x00, 0xB0, 0x00, 0x00, le=le)


def test_header_bytes_checked() -> None:
    with pytest.raises(ValueError, match="one byte"):
        CommandApdu(0x100, 0xB0, 0x00, 0x00)


def test_response_split_and_check() -> None:
    response = ResponseApdu.from_bytes(bytes.fromhex("01029000"))
    assert response.data == b"\x01\x02"
    assert response.ok
    assert response.check() == b"\x01\x02"


def test_response_error_names_known_word() -> None:
    with pytest.raises(ApduError) as raised:
        ResponseApdu.from_bytes(bytes.fromhex("6982")).check()
    assert raised.value.sw == SW.SECURITY_STATUS_NOT_SATISFIED
    assert "SECURITY_STATUS_NOT_SATISFIED" in str(raised.value)
    assert isinstance(raised.value, CardError)


def test_unknown_status_word_does_not_crash() -> None:
    assert sw_name(0x6F42) == "6F42 UNKNOWN"
    assert sw_name(0x63C3) == "63C3 VERIFY_FAILED(3 tries left)"
    with pytest.raises(ApduError, match="6F42 UNKNOWN"):
        ResponseApdu.from_bytes(bytes.fromhex("6F42")).check()


@pytest.mark.parametrize("raw", [b"", b"\x90"])
def test_response_without_status_word(raw: bytes) -> None:
    with pytest.raises(UnexpectedCardResponseError):
        ResponseApdu.from_bytes(raw)


def test_verify_is_redacted() -> None:
    text = redacted_hex(CommandApdu(0x00, 0x20, 0x00, 0x80, b"ABC123"))
    assert text.startswith("00200080")
    assert "414243313233" not in text
    assert "ABC123" not in text
    assert "6 bytes" in text


def test_other_commands_are_not_redacted() -> None:
    assert redacted_hex(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=4)) == "00B0000004"


def test_61xx_is_collected_with_get_response() -> None:
    card = ScriptedCard(
        [("00B0000000", "AABB6102"), ("00C0000002", "CCDD6100"), ("00C0000000", "EE9000")]
    )
    response = card.connection().transmit(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256))
    assert response.data == bytes.fromhex("AABBCCDDEE")
    assert response.ok
    assert card.finished()
