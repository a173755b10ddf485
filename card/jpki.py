"""The JPKI application of a My Number Card: one method per card command, domain errors.

Status words are translated here and nowhere else: `63Cx` on VERIFY becomes
`WrongPasswordError(x)`, the lock words become `PasswordLockedError`, and so on.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

from card.apdu import SW, ApduError, CommandApdu, ResponseApdu
from card.connection import CardConnection
from card.errors import (
    CardError,
    FileNotFoundOnCardError,
    NotJpkiCardError,
    PasswordLockedError,
    SecurityStatusError,
    UnexpectedCardResponseError,
    WrongPasswordError,
)
from card.password import normalize_auth_pin, normalize_signing_password
from card.token import sha256_digest_info

JPKI_AID = bytes.fromhex("D392F000260100000001")
SIGNING_PASSWORD_MAX_TRIES = 5
AUTH_PIN_MAX_TRIES = 3
SHORT_READ_CHUNK = 256
EXTENDED_READ_CHUNK = 0x10000
DIGEST_INFO_MAX_LENGTH = 0xFF

_LOCKED_SWS = frozenset({SW.AUTH_METHOD_BLOCKED, SW.REFERENCE_DATA_NOT_USABLE})
_NOT_ALLOWED_SWS = frozenset({SW.WRONG_LENGTH, SW.INS_NOT_SUPPORTED, SW.CLA_NOT_SUPPORTED})


class JpkiFile(enum.IntEnum):
    """Elementary files of the JPKI application."""

    TOKEN = 0x0006
    SIGNING_CERTIFICATE = 0x0001
    SIGNING_CA_CERTIFICATE = 0x0002
    SIGNING_KEY = 0x001A
    SIGNING_PASSWORD = 0x001B
    AUTH_CERTIFICATE = 0x000A
    AUTH_CA_CERTIFICATE = 0x000B
    AUTH_KEY = 0x0017
    AUTH_PIN = 0x0018


class TokenKind(enum.Enum):
    """What the token EF says the JPKI application lives on."""

    MY_NUMBER_CARD = "JPKIAPICCTOKEN2"
    SMARTPHONE = "JPKIAPGPSETOKEN"
    JUKI_CARD = "JPKIAPICCTOKEN"
    OTHER = ""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """The token EF: its kind and the raw text."""

    kind: TokenKind
    text: str


def token_kind(raw: bytes) -> TokenInfo:
    """Classify the token EF's content (ASCII, padded with NUL or space)."""
    text = raw.rstrip(b"\x00 \xff").decode("ascii", errors="replace")
    for kind in (TokenKind.MY_NUMBER_CARD, TokenKind.SMARTPHONE, TokenKind.JUKI_CARD):
        if text == kind.value:
            return TokenInfo(kind, text)
    return TokenInfo(TokenKind.OTHER, text)


def der_total_length(header: bytes) -> int:
    """Length of a DER SEQUENCE (tag, length and content) from its first bytes."""
    if len(header) < 2 or header[0] != 0x30:
        raise UnexpectedCardResponseError("the certificate file does not start with a DER SEQUENCE")
    first = header[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or count > 3 or len(header) < 2 + count:
        raise UnexpectedCardResponseError("the certificate file has an unusable DER length")
    return 2 + count + int.from_bytes(header[2 : 2 + count], "big")


class JpkiSession:
    """Commands of the JPKI application over one card connection.

    `extended_length`: False reads in short chunks of 256 bytes; True tries one extended
    READ BINARY per file and falls back to short reads for good if the card or reader
    refuses it. Only enable it where the reader and card are known to handle it.
    """

    def __init__(self, connection: CardConnection, *, extended_length: bool = False) -> None:
        self.connection = connection
        self._extended_length = extended_length
        self._selected_file: int | None = None
        self._application_selected = False

    # --- plumbing -------------------------------------------------------------------

    def _send(self, command: CommandApdu) -> ResponseApdu:
        return self.connection.transmit(command)

    def select_application(self) -> None:
        """SELECT the JPKI application; `NotJpkiCardError` if the card has none."""
        response = self._send(CommandApdu(0x00, 0xA4, 0x04, 0x0C, JPKI_AID))
        if response.sw in (SW.FILE_NOT_FOUND, SW.INCORRECT_PARAMETERS, SW.INS_NOT_SUPPORTED):
            raise NotJpkiCardError("this card has no JPKI application (not a My Number Card)")
        self._check(response)
        self._application_selected = True
        self._selected_file = None

    def select_file(self, file: JpkiFile) -> None:
        """SELECT an elementary file of the application (skipped if already selected)."""
        if not self._application_selected:
            self.select_application()
        if self._selected_file == file:
            return
        response = self._send(CommandApdu(0x00, 0xA4, 0x02, 0x0C, file.to_bytes(2, "big")))
        if response.sw == SW.FILE_NOT_FOUND:
            raise FileNotFoundOnCardError(f"the card has no file {file.name} ({file:04X})")
        self._check(response)
        self._selected_file = file

    def _check(self, response: ResponseApdu) -> bytes:
        if response.sw == SW.SECURITY_STATUS_NOT_SATISFIED:
            raise SecurityStatusError("the card wants the password verified first")
        if response.sw in _LOCKED_SWS:
            raise PasswordLockedError("the password is locked")
        try:
            return response.check()
        except ApduError as exc:
            raise UnexpectedCardResponseError(str(exc)) from exc

    # --- token ----------------------------------------------------------------------

    def read_token(self) -> TokenInfo:
        """What the JPKI application lives on: My Number Card, smartphone, old Juki card."""
        self.select_file(JpkiFile.TOKEN)
        response = self._send(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=0x20))
        return token_kind(self._check(response))

    # --- passwords ------------------------------------------------------------------

    def _tries_left(self, pin_file: JpkiFile) -> int:
        self.select_file(pin_file)
        response = self._send(CommandApdu(0x00, 0x20, 0x00, 0x80))
        if response.sw in _LOCKED_SWS:
            return 0
        if response.sw & 0xFFF0 == 0x63C0:
            return response.sw & 0x0F
        if response.sw == SW.COMMAND_NOT_ALLOWED:
            raise UnexpectedCardResponseError("the card refused the password status query")
        raise UnexpectedCardResponseError(
            f"unexpected answer to the password status query: {response.sw:04X}"
        )

    def _verify(self, pin_file: JpkiFile, secret: str) -> None:
        self.select_file(pin_file)
        response = self._send(CommandApdu(0x00, 0x20, 0x00, 0x80, secret.encode("ascii")))
        if response.ok:
            return
        if response.sw in _LOCKED_SWS or response.sw == 0x63C0:
            raise PasswordLockedError("the password is locked after too many wrong tries")
        if response.sw & 0xFFF0 == 0x63C0:
            raise WrongPasswordError(response.sw & 0x0F)
        self._check(response)

    def signing_password_tries_left(self) -> int:
        """How many wrong signing passwords the card still accepts before it locks (0: locked)."""
        return self._tries_left(JpkiFile.SIGNING_PASSWORD)

    def verify_signing_password(self, password: str) -> None:
        """VERIFY the signing password; malformed input is refused before anything is sent."""
        self._verify(JpkiFile.SIGNING_PASSWORD, normalize_signing_password(password))

    def auth_pin_tries_left(self) -> int:
        """Tries left for the 4-digit authentication PIN."""
        return self._tries_left(JpkiFile.AUTH_PIN)

    def verify_auth_pin(self, pin: str) -> None:
        """VERIFY the authentication PIN (4 digits, checked before sending)."""
        self._verify(JpkiFile.AUTH_PIN, normalize_auth_pin(pin))

    # --- certificates ---------------------------------------------------------------

    def _read_binary(self, offset: int, length: int) -> ResponseApdu:
        extended = length > SHORT_READ_CHUNK
        command = CommandApdu(
            0x00, 0xB0, (offset >> 8) & 0x7F, offset & 0xFF, le=length, extended=extended
        )
        response = self._send(command)
        if response.sw & 0xFF00 == 0x6C00:  # wrong Le: the card names the right one
            right = response.sw & 0xFF or SHORT_READ_CHUNK
            response = self._send(CommandApdu(0x00, 0xB0, command.p1, command.p2, le=right))
        return response

    def read_certificate(self, file: JpkiFile) -> bytes:
        """A certificate EF, read up to the DER length in its header, never to the EF's end."""
        self.select_file(file)
        chunk = EXTENDED_READ_CHUNK - 1 if self._extended_length else SHORT_READ_CHUNK
        first = self._read_binary(0, chunk)
        if self._extended_length and first.sw in _NOT_ALLOWED_SWS:
            self._extended_length = False
            chunk = SHORT_READ_CHUNK
            first = self._read_binary(0, chunk)
        data = bytearray(self._check(first))
        total = der_total_length(bytes(data[:6]))
        if total > 0x7FFF:
            raise UnexpectedCardResponseError("the certificate is longer than a card file can be")
        while len(data) < total:
            response = self._read_binary(len(data), min(chunk, total - len(data)))
            if response.sw == SW.WRONG_P1P2:
                raise UnexpectedCardResponseError(
                    "the certificate file ends before the certificate"
                )
            piece = self._check(response)
            if not piece:
                raise UnexpectedCardResponseError(
                    "the card returned no data for a certificate read"
                )
            data += piece
        return bytes(data[:total])

    def read_signing_certificate(self) -> bytes:
        """The signing certificate (署名用電子証明書), DER; needs the signing password verified."""
        return self.read_certificate(JpkiFile.SIGNING_CERTIFICATE)

    def read_signing_ca_certificate(self) -> bytes:
        """The signing CA's certificate, DER."""
        return self.read_certificate(JpkiFile.SIGNING_CA_CERTIFICATE)

    def read_auth_certificate(self) -> bytes:
        """The authentication certificate (利用者証明用電子証明書), DER."""
        return self.read_certificate(JpkiFile.AUTH_CERTIFICATE)

    def read_auth_ca_certificate(self) -> bytes:
        """The authentication CA's certificate, DER."""
        return self.read_certificate(JpkiFile.AUTH_CA_CERTIFICATE)

    # --- signatures -----------------------------------------------------------------

    def _sign(self, key_file: JpkiFile, digest_info: bytes) -> bytes:
        if not 0 < len(digest_info) <= DIGEST_INFO_MAX_LENGTH:
            raise ValueError(f"a DigestInfo of {len(digest_info)} bytes cannot be sent")
        self.select_file(key_file)
        response = self._send(CommandApdu(0x80, 0x2A, 0x00, 0x80, digest_info, le=SHORT_READ_CHUNK))
        signature = self._check(response)
        if not signature:
            raise UnexpectedCardResponseError("the card returned an empty signature")
        return signature

    def sign_digest_info(self, digest_info: bytes) -> bytes:
        """RSA PKCS#1 v1.5 signature of a DER DigestInfo with the signing key."""
        return self._sign(JpkiFile.SIGNING_KEY, digest_info)

    def sign_sha256_digest(self, digest: bytes) -> bytes:
        """Signature of a SHA-256 digest with the signing key."""
        return self.sign_digest_info(sha256_digest_info(digest))

    def sign_sha256(self, message: bytes) -> bytes:
        """Signature of a message, hashed here with SHA-256."""
        return self.sign_sha256_digest(hashlib.sha256(message).digest())

    def auth_sign_digest_info(self, digest_info: bytes) -> bytes:
        """Signature with the authentication key (needs the auth PIN verified)."""
        return self._sign(JpkiFile.AUTH_KEY, digest_info)


class JpkiCardToken:
    """The card's signing key as a `SigningToken`, once the signing password is verified.

    The certificate is read once and kept. The card's signing CA is the self-signed JPKI
    root, which any verifier holds as a trust anchor; it is embedded only when asked for,
    since reading it costs about eight more APDUs while the card is held.
    """

    def __init__(self, session: JpkiSession, *, include_ca_certificate: bool = False) -> None:
        self.session = session
        self._include_ca = include_ca_certificate
        self._certificate: bytes | None = None
        self._ca: list[bytes] | None = None

    def signing_certificate(self) -> bytes:
        if self._certificate is None:
            self._certificate = self.session.read_signing_certificate()
        return self._certificate

    def ca_certificates(self) -> list[bytes]:
        if self._ca is None:
            self._ca = [self.session.read_signing_ca_certificate()] if self._include_ca else []
        return self._ca

    def sign_digest_info(self, digest_info: bytes) -> bytes:
        return self.session.sign_digest_info(digest_info)


__all__ = [
    "AUTH_PIN_MAX_TRIES",
    "JPKI_AID",
    "SIGNING_PASSWORD_MAX_TRIES",
    "CardError",
    "JpkiCardToken",
    "JpkiFile",
    "JpkiSession",
    "TokenInfo",
    "TokenKind",
    "der_total_length",
    "token_kind",
]
