"""APDUs as data: command encoding (short and extended), responses and status words."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from card.errors import CardError, UnexpectedCardResponseError

SHORT_MAX_LC = 0xFF
SHORT_MAX_LE = 0x100
EXTENDED_MAX_LC = 0xFFFF
EXTENDED_MAX_LE = 0x10000


class SW(IntEnum):
    """Status words a JPKI card answers with. Unknown words stay plain ints (see `sw_name`)."""

    OK = 0x9000
    WRONG_LENGTH = 0x6700
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983
    REFERENCE_DATA_NOT_USABLE = 0x6984
    CONDITIONS_NOT_SATISFIED = 0x6985
    COMMAND_NOT_ALLOWED = 0x6986
    INCORRECT_PARAMETERS = 0x6A86
    FILE_NOT_FOUND = 0x6A82
    WRONG_P1P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    NO_PRECISE_DIAGNOSIS = 0x6F00


def sw_name(sw: int) -> str:
    """The status word as hex with its name when known: `6982 SECURITY_STATUS_NOT_SATISFIED`."""
    if 0x63C0 <= sw <= 0x63CF:
        return f"{sw:04X} VERIFY_FAILED({sw & 0x0F} tries left)"
    if sw & 0xFF00 == 0x6100:
        return f"{sw:04X} MORE_DATA({sw & 0xFF or 256} bytes)"
    try:
        return f"{sw:04X} {SW(sw).name}"
    except ValueError:
        return f"{sw:04X} UNKNOWN"


class ApduError(CardError):
    """A command ended with a status word other than 9000."""

    def __init__(self, data: bytes, sw: int) -> None:
        super().__init__(f"card answered {sw_name(sw)}")
        self.data = data
        self.sw = sw


@dataclass(frozen=True, slots=True)
class CommandApdu:
    """One command APDU. `le=None` expects no data; `le=256` (short) or 65536 means 'all'."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None
    extended: bool = False

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ValueError(f"{name} must be one byte, not {value}")
        max_lc = EXTENDED_MAX_LC if self.extended else SHORT_MAX_LC
        max_le = EXTENDED_MAX_LE if self.extended else SHORT_MAX_LE
        if len(self.data) > max_lc:
            raise ValueError(f"{len(self.data)} bytes of data exceed Lc {max_lc:#x}")
        if self.le is not None and not 1 <= self.le <= max_le:
            raise ValueError(f"Le {self.le} outside 1..{max_le}")

    def to_bytes(self) -> bytes:
        """ISO 7816-4 encoding: cases 1 to 4, short or extended length fields."""
        header = bytes((self.cla, self.ins, self.p1, self.p2))
        body = b""
        if self.extended:
            if self.data:
                body += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
            if self.le is not None:
                le = (self.le & 0xFFFF).to_bytes(2, "big")
                body += le if self.data else b"\x00" + le
        else:
            if self.data:
                body += bytes((len(self.data),)) + self.data
            if self.le is not None:
                body += bytes((self.le & 0xFF,))
        return header + body

    @property
    def is_verify(self) -> bool:
        """True for VERIFY (INS 20): its data is a secret and is never logged."""
        return self.ins == 0x20


@dataclass(frozen=True, slots=True)
class ResponseApdu:
    """The card's answer: data and the status word."""

    data: bytes
    sw: int

    @classmethod
    def from_bytes(cls, raw: bytes) -> ResponseApdu:
        """Split raw response bytes; fewer than two bytes is not a response."""
        if len(raw) < 2:
            raise UnexpectedCardResponseError(f"response of {len(raw)} bytes has no status word")
        return cls(data=bytes(raw[:-2]), sw=(raw[-2] << 8) | raw[-1])

    @property
    def ok(self) -> bool:
        return self.sw == SW.OK

    def check(self) -> bytes:
        """The data when the status word is 9000, else `ApduError`."""
        if not self.ok:
            raise ApduError(self.data, self.sw)
        return self.data


def redacted_hex(command: CommandApdu) -> str:
    """The command as hex for logs, with VERIFY data replaced by its length only."""
    raw = command.to_bytes()
    if command.is_verify and command.data:
        return raw[:4].hex().upper() + f" <{len(command.data)} bytes of VERIFY data redacted>"
    return raw.hex().upper()
