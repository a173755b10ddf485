"""The JPKI application's elementary files (FIDs, contents, padding) and its raw RSA signer."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa

from jpkisim.state import CardState

JPKI_AID = bytes.fromhex("D392F000260100000001")

FID_SIGN_CERT = 0x0001
FID_SIGN_CA_CERT = 0x0002
FID_TOKEN = 0x0006
FID_AUTH_CERT = 0x000A
FID_AUTH_CA_CERT = 0x000B
FID_AUTH_KEY = 0x0017
FID_AUTH_PIN = 0x0018
FID_SIGN_KEY = 0x001A
FID_SIGN_PASSWORD = 0x001B

TOKEN_EF_SIZE = 32
CERT_EF_MIN_SIZE = 0x0800
CERT_EF_PADDING = 0xFF  # what follows the certificate inside its EF


class Pin(enum.Enum):
    """The two reference data of the JPKI application."""

    SIGNING_PASSWORD = enum.auto()
    AUTH_PIN = enum.auto()


class EfKind(enum.Enum):
    """How an EF behaves: readable binary data, a private key, or a PIN."""

    BINARY = enum.auto()
    KEY = enum.auto()
    PIN = enum.auto()


@dataclass(frozen=True)
class ElementaryFile:
    """One EF of the application.

    ``pin``: for a BINARY EF the PIN its READ needs (or None), for a KEY EF the PIN the
    signature needs, for a PIN EF the PIN it holds.
    """

    fid: int
    kind: EfKind
    content: bytes = b""
    pin: Pin | None = None


def certificate_ef_content(der: bytes) -> bytes:
    """A certificate padded the way the card stores it: EF larger than the DER, 0xFF after.

    The EF is at least 0x0800 bytes and at least 256 bytes longer than the certificate
    (rounded up to 256), so a reader that does not use the DER length reads padding.
    """
    size = max(CERT_EF_MIN_SIZE, -(-(len(der) + 256) // 256) * 256)
    return der + bytes([CERT_EF_PADDING]) * (size - len(der))


def token_ef_content(token: str) -> bytes:
    """The token EF: ASCII, zero-padded to 32 bytes."""
    raw = token.encode("ascii")
    return raw + b"\x00" * (TOKEN_EF_SIZE - len(raw))


def build_files(state: CardState) -> dict[int, ElementaryFile]:
    """Every EF of the JPKI application for this card state, by FID."""
    binary = EfKind.BINARY
    files = [
        ElementaryFile(FID_TOKEN, binary, token_ef_content(state.token)),
        ElementaryFile(
            FID_SIGN_CERT,
            binary,
            certificate_ef_content(state.sign_cert_der),
            Pin.SIGNING_PASSWORD,
        ),
        ElementaryFile(FID_SIGN_CA_CERT, binary, certificate_ef_content(state.sign_ca_der)),
        ElementaryFile(FID_AUTH_CERT, binary, certificate_ef_content(state.auth_cert_der)),
        ElementaryFile(FID_AUTH_CA_CERT, binary, certificate_ef_content(state.auth_ca_der)),
        ElementaryFile(FID_SIGN_KEY, EfKind.KEY, pin=Pin.SIGNING_PASSWORD),
        ElementaryFile(FID_SIGN_PASSWORD, EfKind.PIN, pin=Pin.SIGNING_PASSWORD),
        ElementaryFile(FID_AUTH_KEY, EfKind.KEY, pin=Pin.AUTH_PIN),
        ElementaryFile(FID_AUTH_PIN, EfKind.PIN, pin=Pin.AUTH_PIN),
    ]
    return {ef.fid: ef for ef in files}


def pkcs1_v15_sign_raw(key: rsa.RSAPrivateKey, digest_info: bytes) -> bytes:
    """What the card's signature command does: EMSA-PKCS1-v1_5 pad the given DigestInfo
    (no hashing) and apply the raw RSA private operation.

    Raises ValueError when the DigestInfo does not fit (``len > k - 11``) or is empty.
    """
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    k = (n.bit_length() + 7) // 8
    if not digest_info or len(digest_info) > k - 11:
        raise ValueError(f"DigestInfo of {len(digest_info)} bytes does not fit a {k}-byte key")
    padded = b"\x00\x01" + b"\xff" * (k - 3 - len(digest_info)) + b"\x00" + digest_info
    m = int.from_bytes(padded, "big")
    # CRT: about four times faster than pow(m, d, n)
    m1 = pow(m, numbers.dmp1, numbers.p)
    m2 = pow(m, numbers.dmq1, numbers.q)
    h = (numbers.iqmp * (m1 - m2)) % numbers.p
    s = m2 + h * numbers.q
    if pow(s, numbers.public_numbers.e, n) != m:  # a card checks its own result too
        raise ArithmeticError("RSA private operation self-check failed")
    return s.to_bytes(k, "big")
