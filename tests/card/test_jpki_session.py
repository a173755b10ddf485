"""The JPKI session against scripted answers: exact bytes sent, status words translated."""

from __future__ import annotations

import hashlib

import pytest

from card.errors import (
    FileNotFoundOnCardError,
    InvalidPasswordFormatError,
    NotJpkiCardError,
    PasswordLockedError,
    SecurityStatusError,
    UnexpectedCardResponseError,
    WrongPasswordError,
)
from card.jpki import JpkiCardToken, JpkiSession, TokenKind, der_total_length
from tests.card.scripted import ScriptedCard

SELECT_AP = "00A4040C0AD392F000260100000001"
SELECT = "00A4020C02"
OK = "9000"


def fake_certificate(content_length: int) -> bytes:
    """A DER SEQUENCE of the given content length (the driver only reads the header)."""
    body = bytes((i * 7) & 0xFF for i in range(content_length))
    return b"\x30\x82" + content_length.to_bytes(2, "big") + body


def session(script: list[tuple[str, str]], **kwargs: bool) -> tuple[JpkiSession, ScriptedCard]:
    card = ScriptedCard(script)
    return JpkiSession(card.connection(), **kwargs), card


def test_select_application_exact_bytes() -> None:
    jpki, card = session([(SELECT_AP, OK)])
    jpki.select_application()
    assert card.finished()


@pytest.mark.parametrize("sw", ["6A82", "6A86", "6D00"])
def test_not_a_jpki_card(sw: str) -> None:
    jpki, _ = session([(SELECT_AP, sw)])
    with pytest.raises(NotJpkiCardError):
        jpki.select_application()


@pytest.mark.parametrize(
    ("token", "kind"),
    [
        (b"JPKIAPICCTOKEN2", TokenKind.MY_NUMBER_CARD),
        (b"JPKIAPGPSETOKEN", TokenKind.SMARTPHONE),
        (b"JPKIAPICCTOKEN", TokenKind.JUKI_CARD),
        (b"SOMETHINGELSE", TokenKind.OTHER),
    ],
)
def test_read_token(token: bytes, kind: TokenKind) -> None:
    padded = token.ljust(32, b"\x00")
    jpki, card = session(
        [(SELECT_AP, OK), (SELECT + "0006", OK), ("00B0000020", padded.hex() + OK)]
    )
    assert jpki.read_token().kind is kind
    assert card.finished()


@pytest.mark.parametrize(("sw", "left"), [("63C5", 5), ("63C1", 1), ("63C0", 0), ("6984", 0)])
def test_tries_left(sw: str, left: int) -> None:
    jpki, _ = session([(SELECT_AP, OK), (SELECT + "001B", OK), ("00200080", sw)])
    assert jpki.signing_password_tries_left() == left


def test_tries_left_unexpected_answer() -> None:
    jpki, _ = session([(SELECT_AP, OK), (SELECT + "001B", OK), ("00200080", "6A88")])
    with pytest.raises(UnexpectedCardResponseError):
        jpki.signing_password_tries_left()


def test_verify_sends_upper_case_ascii_once() -> None:
    jpki, card = session(
        [(SELECT_AP, OK), (SELECT + "001B", OK), ("0020008006" + b"ABC123".hex(), OK)]
    )
    jpki.verify_signing_password(" abc123 ")
    assert card.finished()


def test_full_width_password_is_folded() -> None:
    jpki, card = session(
        [(SELECT_AP, OK), (SELECT + "001B", OK), ("0020008006" + b"ABC123".hex(), OK)]
    )
    jpki.verify_signing_password("ａｂｃ１２３")
    assert card.finished()


@pytest.mark.parametrize(
    "bad", ["", "ABC12", "A" * 17, "ABC 123", "ABC-123", "ABCÄ12", "パスワード12", "abc12ß"]
)
def test_malformed_password_never_reaches_the_card(bad: str) -> None:
    jpki, card = session([])
    with pytest.raises(InvalidPasswordFormatError) as raised:
        jpki.verify_signing_password(bad)
    assert card.sent == []
    if bad.strip():
        assert bad not in str(raised.value)


@pytest.mark.parametrize(("sw", "left"), [("63C4", 4), ("63C1", 1)])
def test_wrong_password(sw: str, left: int) -> None:
    jpki, _ = session(
        [(SELECT_AP, OK), (SELECT + "001B", OK), ("0020008006" + b"WRONG1".hex(), sw)]
    )
    with pytest.raises(WrongPasswordError) as raised:
        jpki.verify_signing_password("wrong1")
    assert raised.value.tries_left == left
    assert "WRONG1" not in str(raised.value)


@pytest.mark.parametrize("sw", ["63C0", "6983", "6984"])
def test_locked(sw: str) -> None:
    jpki, _ = session(
        [(SELECT_AP, OK), (SELECT + "001B", OK), ("0020008006" + b"WRONG1".hex(), sw)]
    )
    with pytest.raises(PasswordLockedError):
        jpki.verify_signing_password("WRONG1")


def test_read_certificate_in_short_chunks_up_to_the_der_length() -> None:
    certificate = fake_certificate(0x06A0)  # 1700 bytes of content, 1704 in all
    padded = certificate + b"\xff" * 600
    script = [(SELECT_AP, OK), (SELECT + "0001", OK)]
    offset = 0
    while offset < len(certificate):
        want = min(256, len(certificate) - offset)
        le = "00" if want == 256 else f"{want:02X}"
        script.append((f"00B0{offset:04X}{le}", padded[offset : offset + want].hex() + OK))
        offset += want
    jpki, card = session(script)
    assert jpki.read_signing_certificate() == certificate
    assert card.finished()
    assert len(card.sent) == 2 + 7


def test_card_answering_255_bytes_per_read() -> None:
    certificate = fake_certificate(600)
    script = [(SELECT_AP, OK), (SELECT + "0002", OK)]
    offset = 0
    while offset < len(certificate):
        want = min(256, len(certificate) - offset)
        le = "00" if want == 256 else f"{want:02X}"
        give = min(255, want)
        script.append((f"00B0{offset:04X}{le}", certificate[offset : offset + give].hex() + OK))
        offset += give
    jpki, card = session(script)
    assert jpki.read_signing_ca_certificate() == certificate
    assert card.finished()


def test_wrong_le_answer_is_retried_with_the_named_length() -> None:
    certificate = fake_certificate(100)
    jpki, card = session(
        [
            (SELECT_AP, OK),
            (SELECT + "000A", OK),
            ("00B0000000", f"6C{len(certificate):02X}"),
            (f"00B00000{len(certificate):02X}", certificate.hex() + OK),
        ]
    )
    assert jpki.read_auth_certificate() == certificate
    assert card.finished()


def test_signing_certificate_before_verify() -> None:
    jpki, _ = session([(SELECT_AP, OK), (SELECT + "0001", OK), ("00B0000000", "6982")])
    with pytest.raises(SecurityStatusError):
        jpki.read_signing_certificate()


def test_file_ending_before_the_certificate() -> None:
    certificate = fake_certificate(400)
    jpki, _ = session(
        [
            (SELECT_AP, OK),
            (SELECT + "0001", OK),
            ("00B0000000", certificate[:256].hex() + OK),
            ("00B0010094", "6B00"),
        ]
    )
    with pytest.raises(UnexpectedCardResponseError, match="ends before"):
        jpki.read_signing_certificate()


def test_extended_read_with_fallback() -> None:
    certificate = fake_certificate(300)
    jpki, card = session(
        [
            (SELECT_AP, OK),
            (SELECT + "0001", OK),
            ("00B0000000FFFF", "6700"),
            ("00B0000000", certificate[:256].hex() + OK),
            ("00B0010030", certificate[256:].hex() + OK),
            (SELECT + "0002", OK),
            ("00B0000000", certificate[:256].hex() + OK),
            ("00B0010030", certificate[256:].hex() + OK),
        ],
        extended_length=True,
    )
    assert jpki.read_signing_certificate() == certificate
    assert jpki.read_signing_ca_certificate() == certificate  # no second extended attempt
    assert card.finished()


def test_extended_read_in_one_command() -> None:
    certificate = fake_certificate(1700)
    jpki, card = session(
        [
            (SELECT_AP, OK),
            (SELECT + "0001", OK),
            ("00B0000000FFFF", certificate.hex() + "00" * 50 + OK),
        ],
        extended_length=True,
    )
    assert jpki.read_signing_certificate() == certificate
    assert card.finished()


def test_sign_sha256_digest_exact_bytes() -> None:
    digest = hashlib.sha256(b"contract").digest()
    digest_info = "3031300D060960864801650304020105000420" + digest.hex()
    signature = bytes(range(256))
    jpki, card = session(
        [
            (SELECT_AP, OK),
            (SELECT + "001A", OK),
            ("802A008033" + digest_info + "00", signature.hex() + OK),
        ]
    )
    assert jpki.sign_sha256_digest(digest) == signature
    assert card.finished()


def test_sign_without_verified_password() -> None:
    jpki, _ = session(
        [(SELECT_AP, OK), (SELECT + "001A", OK), ("802A008033" + "00" * 51 + "00", "6982")]
    )
    with pytest.raises(SecurityStatusError):
        jpki.sign_digest_info(bytes(51))


def test_missing_file() -> None:
    jpki, _ = session([(SELECT_AP, OK), (SELECT + "000A", "6A82")])
    with pytest.raises(FileNotFoundOnCardError):
        jpki.read_auth_certificate()


def test_one_signature_burst_is_at_most_16_apdus() -> None:
    certificate = fake_certificate(0x06A0)
    digest = hashlib.sha256(b"x").digest()
    script = [
        (SELECT_AP, OK),
        (SELECT + "001B", OK),
        ("00200080", "63C5"),
        ("0020008008" + b"PASSWORD".hex(), OK),
        (SELECT + "0001", OK),
    ]
    offset = 0
    while offset < len(certificate):
        want = min(256, len(certificate) - offset)
        le = "00" if want == 256 else f"{want:02X}"
        script.append((f"00B0{offset:04X}{le}", certificate[offset : offset + want].hex() + OK))
        offset += want
    script += [
        (SELECT + "001A", OK),
        (
            "802A008033" + "3031300D060960864801650304020105000420" + digest.hex() + "00",
            "AA" * 256 + OK,
        ),
    ]
    jpki, card = session(script)
    assert jpki.signing_password_tries_left() == 5
    jpki.verify_signing_password("password")
    token = JpkiCardToken(jpki)
    assert token.signing_certificate() == certificate
    assert token.signing_certificate() == certificate  # read once
    assert token.ca_certificates() == []
    jpki.sign_sha256_digest(digest)
    assert card.finished()
    assert len(card.sent) <= 16


@pytest.mark.parametrize(
    ("header", "total"),
    [
        ("3003", 5),
        ("307F", 0x81),
        ("308180", 0x83),
        ("3082 06A0", 0x06A4),
        ("30830100 00", 0x10005),
    ],
)
def test_der_total_length(header: str, total: int) -> None:
    assert der_total_length(bytes.fromhex(header.replace(" ", ""))) == total


@pytest.mark.parametrize("header", ["", "31", "3180", "3080", "3084", "3082 01"])
def test_der_total_length_refuses(header: str) -> None:
    with pytest.raises(UnexpectedCardResponseError):
        der_total_length(bytes.fromhex(header.replace(" ", "")))
