"""Command APDU parsing (ISO 7816-4 cases 1-4, short and extended), status words, redaction."""

from __future__ import annotations

from dataclasses import dataclass

SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_AUTH_METHOD_BLOCKED = 0x6983
SW_REFERENCE_DATA_UNUSABLE = 0x6984
SW_COMMAND_NOT_ALLOWED = 0x6986
SW_WRONG_P1P2 = 0x6A86
SW_FILE_NOT_FOUND = 0x6A82
SW_WRONG_OFFSET = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00


def sw_tries_left(tries: int) -> int:
    """``63 Cx``: the verification failed or was a status query; x tries are left."""
    return 0x63C0 | (tries & 0x0F)


# INS codes whose data field carries a PIN or password (VERIFY, CHANGE REFERENCE DATA,
# RESET RETRY COUNTER in both ISO codings): their data never reaches a log.
SECRET_INS = frozenset({0x20, 0x21, 0x24, 0x25, 0x2C, 0x2D})


class ApduFormatError(ValueError):
    """The command's length fields do not add up; the card answers ``67 00``."""


@dataclass(frozen=True)
class CommandApdu:
    """A parsed command APDU. ``ne`` is None without an Le field, else 1..65536."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    ne: int | None
    extended: bool

    @property
    def header(self) -> bytes:
        """CLA INS P1 P2."""
        return bytes((self.cla, self.ins, self.p1, self.p2))


def parse_command(raw: bytes) -> CommandApdu:
    """Split a command APDU into its fields; raise ApduFormatError for a malformed one."""
    if len(raw) < 4:
        raise ApduFormatError("shorter than a header")
    cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
    body = raw[4:]
    if not body:  # case 1
        return CommandApdu(cla, ins, p1, p2, b"", None, extended=False)
    if len(body) == 1:  # case 2 short
        return CommandApdu(cla, ins, p1, p2, b"", body[0] or 256, extended=False)
    if body[0] != 0:  # short Lc
        lc = body[0]
        if len(body) == 1 + lc:  # case 3 short
            return CommandApdu(cla, ins, p1, p2, body[1:], None, extended=False)
        if len(body) == 2 + lc:  # case 4 short
            return CommandApdu(cla, ins, p1, p2, body[1:-1], body[-1] or 256, extended=False)
        raise ApduFormatError("short Lc does not match the data")
    # extended: the first body byte is 00
    if len(body) < 3:
        raise ApduFormatError("truncated extended length")
    length = int.from_bytes(body[1:3], "big")
    if len(body) == 3:  # case 2 extended
        return CommandApdu(cla, ins, p1, p2, b"", length or 65536, extended=True)
    if length == 0:
        raise ApduFormatError("extended Lc of zero")
    if len(body) == 3 + length:  # case 3 extended
        return CommandApdu(cla, ins, p1, p2, body[3:], None, extended=True)
    if len(body) == 5 + length:  # case 4 extended
        ne = int.from_bytes(body[-2:], "big") or 65536
        return CommandApdu(cla, ins, p1, p2, body[3:-2], ne, extended=True)
    raise ApduFormatError("extended Lc does not match the data")


def redact_for_log(raw: bytes) -> str:
    """The command as hex for a log line, with the data of PIN commands replaced.

    ``00 20 00 80 06 <6 bytes>`` becomes ``00200080 06 <redacted>``. Malformed commands
    with a PIN INS lose everything after the header.
    """
    if len(raw) < 4:
        return raw.hex().upper()
    header = raw[:4].hex().upper()
    secret = raw[1] in SECRET_INS
    try:
        cmd = parse_command(raw)
    except ApduFormatError:
        if secret:
            return f"{header} <redacted malformed>"
        return f"{header} {raw[4:].hex().upper()} <malformed>"
    parts = [header]
    if cmd.data:
        lc_len = 3 if cmd.extended else 1
        parts.append(raw[4 : 4 + lc_len].hex().upper())
        parts.append("<redacted>" if secret else cmd.data.hex().upper())
    if cmd.ne is not None:
        le_len = 1 if not cmd.extended else (2 if cmd.data else 3)
        parts.append(raw[-le_len:].hex().upper())
    return " ".join(parts)
