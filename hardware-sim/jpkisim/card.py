"""The simulated My Number Card: the JPKI application's APDU engine, tries, faults and log.

Behaviour follows shared/design/jpki-card.md. Choices where real cards are not known:

- CLA other than 00/80 gives ``6E 00``; a known CLA with an INS it does not have gives
  ``6D 00`` -- so ISO's ``00 2A 9E 9A`` gets ``6D 00`` (the signature is ``80 2A 00 80``).
- Wrong P1/P2 for a known command gives ``6A 86``; READ BINARY with a short EF identifier
  (P1 bit 8) too. READ BINARY without Le gives ``67 00``.
- A failed SELECT keeps the previous selection. Selecting the application again clears
  the current EF but not the security state; power off and reset clear both.
- A wrong VERIFY clears that PIN's security state. Tries are written to the state file
  before the answer (like EEPROM); if that write fails the answer is ``65 81``.
- ``remove_after_apdus`` is one-shot: after N answered APDUs the next one raises
  CardRemovedFault; ``reinsert()`` does not re-arm it, ``arm_removal()`` does.
- The signature command takes any DigestInfo of 1 to k-11 bytes (the card does not parse
  it) and also accepts it without Le.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TextIO

from cryptography.hazmat.primitives.asymmetric import rsa

from jpkisim import apdu
from jpkisim.apdu import ApduFormatError, CommandApdu, parse_command
from jpkisim.apdulog import ApduExchange, write_log_line
from jpkisim.files import JPKI_AID, EfKind, ElementaryFile, Pin, build_files, pkcs1_v15_sign_raw
from jpkisim.state import AUTH_PIN_MAX_TRIES, SIGNING_PASSWORD_MAX_TRIES, CardState

SW_MEMORY_FAILURE = 0x6581
HISTORY_SIZE = 1000

Response = tuple[bytes, int]


class CardRemovedFault(ConnectionError):  # noqa: N818 (the name the project uses)
    """The card left the reader's field; nothing more is answered until reinsert()."""


class CardNotPoweredError(ConnectionError):
    """An APDU reached the card while it was powered off."""


class SimulatedCard:
    """A My Number Card's JPKI application at APDU level, driven by a CardState."""

    def __init__(
        self,
        state: CardState,
        state_path: Path | str | None = None,
        *,
        apdu_log: TextIO | Path | str | None = None,
        on_apdu: Callable[[ApduExchange], None] | None = None,
    ) -> None:
        self.state = state
        self.state_path = Path(state_path) if state_path is not None else None
        self.apdu_log = Path(apdu_log) if isinstance(apdu_log, str) else apdu_log
        self.on_apdu = on_apdu
        self.history: deque[ApduExchange] = deque(maxlen=HISTORY_SIZE)
        self.apdu_count = 0
        self.apdus_since_insert = 0
        self.signature_count = 0
        self.insertions = 1
        self.inserted = threading.Event()
        self.inserted.set()
        self._lock = threading.RLock()
        self._files = build_files(state)
        self._keys: dict[Pin, rsa.RSAPrivateKey] = {
            Pin.SIGNING_PASSWORD: state.sign_private_key(),
            Pin.AUTH_PIN: state.auth_private_key(),
        }
        self._remove_after = state.remove_after_apdus
        self._lose_answer_on_removal = False
        self._powered = True
        self._ap_selected = False
        self._current_ef: ElementaryFile | None = None
        self._verified: set[Pin] = set()
        self._handlers: dict[tuple[int, int], Callable[[CommandApdu], Response]] = {
            (0x00, 0xA4): self._select,
            (0x00, 0xB0): self._read_binary,
            (0x00, 0x20): self._verify,
            (0x80, 0x2A): self._sign,
        }

    # --- reader-side events -------------------------------------------------------------

    @property
    def atr(self) -> bytes:
        """The answer to reset."""
        return self.state.atr

    @property
    def powered(self) -> bool:
        """Whether the card is powered (and so answers APDUs)."""
        return self._powered

    @property
    def removed(self) -> bool:
        """Whether the card is out of the reader."""
        return not self.inserted.is_set()

    def power_on(self) -> None:
        """Cold start: power and a fresh session (no selection, no security state)."""
        with self._lock:
            if self.removed:
                raise CardRemovedFault("the card is not in the reader")
            self._powered = True
            self._clear_session()

    def power_off(self) -> None:
        """Power off: the security state and the selection are lost; tries are not."""
        with self._lock:
            self._powered = False
            self._clear_session()

    def reset(self) -> None:
        """Warm reset: like power off then on."""
        self.power_on()

    def remove(self) -> None:
        """Take the card out of the field; APDUs raise CardRemovedFault until reinsert().

        Safe to call from another thread while an APDU (e.g. a slow signature) is under
        way: that APDU then raises CardRemovedFault instead of answering.
        """
        self.inserted.clear()

    def reinsert(self) -> None:
        """Put the card back: powered on, fresh session, APDU count since insertion 0.

        ``insertions`` counts insertions, so a reader link notices a remove + reinsert
        even when it happened between two of its looks.
        """
        with self._lock:
            self.apdus_since_insert = 0
            self.insertions += 1
            self.inserted.set()
            self.power_on()

    def arm_removal(self, after_apdus: int | None, *, lose_answer: bool = False) -> None:
        """Remove the card after ``after_apdus`` more answered APDUs (None disarms).

        With ``lose_answer`` the next command is still executed (a VERIFY spends its try,
        a signature is made) but the card is removed before answering it.
        """
        with self._lock:
            self._remove_after = (
                None if after_apdus is None else self.apdus_since_insert + after_apdus
            )
            self._lose_answer_on_removal = lose_answer

    # --- test visibility ----------------------------------------------------------------

    @property
    def signing_password_verified(self) -> bool:
        """Security state: the signing password was verified in this session."""
        return Pin.SIGNING_PASSWORD in self._verified

    @property
    def auth_pin_verified(self) -> bool:
        """Security state: the authentication PIN was verified in this session."""
        return Pin.AUTH_PIN in self._verified

    @property
    def current_fid(self) -> int | None:
        """The FID of the selected EF, if any."""
        return None if self._current_ef is None else self._current_ef.fid

    # --- APDU processing ----------------------------------------------------------------

    def process_apdu(self, raw: bytes) -> bytes:
        """Answer one command APDU with response data + SW1 SW2.

        Raises CardRemovedFault when the card is (or goes) out of the reader and
        CardNotPoweredError when it is powered off.
        """
        raw = bytes(raw)
        with self._lock:
            if self.removed:
                self._lost(raw, "the card is not in the reader")
            if not self._powered:
                raise CardNotPoweredError("the card is powered off")
            fire = self._remove_after is not None and self.apdus_since_insert >= self._remove_after
            if fire:
                self._remove_after = None
                if not self._lose_answer_on_removal:
                    self.remove()
                    self._lost(raw, "the card left the field before the command")
            self._pause(self.state.apdu_latency_ms)
            if self.removed:
                self._lost(raw, "the card left the field before the command")
            data, sw = self._execute(raw)
            if fire or self.removed:  # armed to lose the answer, or removed meanwhile
                self.remove()
                self._lost(raw, "the card left the field before answering")
            response = data + sw.to_bytes(2, "big")
            self.apdu_count += 1
            self.apdus_since_insert += 1
            self._record(raw, response)
            return response

    def _lost(self, raw: bytes, why: str) -> NoReturn:
        self._record(raw, None)
        raise CardRemovedFault(why)

    def _pause(self, milliseconds: float) -> None:
        """Model the card's processing time; a removal during it loses the command."""
        if milliseconds > 0:
            time.sleep(milliseconds / 1000)

    def _execute(self, raw: bytes) -> Response:
        if len(raw) < 4:
            return b"", apdu.SW_WRONG_LENGTH
        if raw[0] not in (0x00, 0x80):
            return b"", apdu.SW_CLA_NOT_SUPPORTED
        handler = self._handlers.get((raw[0], raw[1]))
        if handler is None:
            return b"", apdu.SW_INS_NOT_SUPPORTED
        try:
            cmd = parse_command(raw)
        except ApduFormatError:
            return b"", apdu.SW_WRONG_LENGTH
        if cmd.extended and not self.state.extended_length:
            return b"", apdu.SW_WRONG_LENGTH
        return handler(cmd)

    def _select(self, cmd: CommandApdu) -> Response:
        if cmd.p2 not in (0x0C, 0x00) or cmd.p1 not in (0x02, 0x04):
            return b"", apdu.SW_WRONG_P1P2
        if not cmd.data:
            return b"", apdu.SW_WRONG_LENGTH
        if cmd.p1 == 0x04:  # by DF name (AID)
            if cmd.data != JPKI_AID:
                return b"", apdu.SW_FILE_NOT_FOUND
            self._ap_selected = True
            self._current_ef = None
            return b"", apdu.SW_OK
        if len(cmd.data) != 2:
            return b"", apdu.SW_WRONG_LENGTH
        ef = self._files.get(int.from_bytes(cmd.data, "big"))
        if not self._ap_selected or ef is None:
            return b"", apdu.SW_FILE_NOT_FOUND
        self._current_ef = ef
        return b"", apdu.SW_OK

    def _read_binary(self, cmd: CommandApdu) -> Response:
        if cmd.data or cmd.ne is None:
            return b"", apdu.SW_WRONG_LENGTH
        if cmd.p1 & 0x80:
            return b"", apdu.SW_WRONG_P1P2
        ef = self._current_ef
        if ef is None:
            return b"", apdu.SW_COMMAND_NOT_ALLOWED
        if ef.kind is not EfKind.BINARY:
            return b"", apdu.SW_SECURITY_NOT_SATISFIED  # keys and PINs never leave
        if ef.pin is not None and ef.pin not in self._verified:
            return b"", apdu.SW_SECURITY_NOT_SATISFIED
        offset = cmd.p1 << 8 | cmd.p2
        if offset >= len(ef.content):
            return b"", apdu.SW_WRONG_OFFSET
        return ef.content[offset : offset + cmd.ne], apdu.SW_OK

    def _verify(self, cmd: CommandApdu) -> Response:
        if cmd.p1 != 0x00 or cmd.p2 != 0x80:
            return b"", apdu.SW_WRONG_P1P2
        ef = self._current_ef
        if ef is None or ef.kind is not EfKind.PIN or ef.pin is None:
            return b"", apdu.SW_COMMAND_NOT_ALLOWED
        pin = ef.pin
        tries = self._tries_left(pin)
        if not cmd.data:
            return b"", apdu.sw_tries_left(tries)
        if tries == 0:
            return b"", self.state.lock_sw
        if hmac.compare_digest(cmd.data, self._reference(pin)):
            self._verified.add(pin)
            if not self._set_tries_left(pin, self._max_tries(pin)):
                return b"", SW_MEMORY_FAILURE
            return b"", apdu.SW_OK
        self._verified.discard(pin)
        if not self._set_tries_left(pin, tries - 1):
            return b"", SW_MEMORY_FAILURE
        if tries - 1 == 0:
            return b"", self.state.lock_sw
        return b"", apdu.sw_tries_left(tries - 1)

    def _sign(self, cmd: CommandApdu) -> Response:
        if cmd.p1 != 0x00 or cmd.p2 != 0x80:
            return b"", apdu.SW_WRONG_P1P2
        ef = self._current_ef
        if ef is None or ef.kind is not EfKind.KEY or ef.pin is None:
            return b"", apdu.SW_COMMAND_NOT_ALLOWED
        if ef.pin not in self._verified:
            return b"", apdu.SW_SECURITY_NOT_SATISFIED
        key = self._keys[ef.pin]
        if not cmd.data or len(cmd.data) > key.key_size // 8 - 11:
            return b"", apdu.SW_WRONG_LENGTH
        self._pause(self.state.sign_latency_ms)
        signature = pkcs1_v15_sign_raw(key, cmd.data)
        self.signature_count += 1
        return signature, apdu.SW_OK

    # --- tries and reference data -------------------------------------------------------

    def _reference(self, pin: Pin) -> bytes:
        if pin is Pin.SIGNING_PASSWORD:
            return self.state.signing_password.encode("ascii")
        return self.state.auth_pin.encode("ascii")

    def _max_tries(self, pin: Pin) -> int:
        return SIGNING_PASSWORD_MAX_TRIES if pin is Pin.SIGNING_PASSWORD else AUTH_PIN_MAX_TRIES

    def _tries_left(self, pin: Pin) -> int:
        if pin is Pin.SIGNING_PASSWORD:
            return self.state.signing_tries_left
        return self.state.auth_tries_left

    def _set_tries_left(self, pin: Pin, tries: int) -> bool:
        """Update and persist the counter; False when the state file could not be written."""
        if tries == self._tries_left(pin):
            return True
        if pin is Pin.SIGNING_PASSWORD:
            self.state.signing_tries_left = tries
        else:
            self.state.auth_tries_left = tries
        if self.state_path is None:
            return True
        try:
            self.state.save(self.state_path)
        except OSError:
            return False
        return True

    def _clear_session(self) -> None:
        self._verified.clear()
        self._ap_selected = False
        self._current_ef = None

    # --- history and log ----------------------------------------------------------------

    def _record(self, raw: bytes, response: bytes | None) -> None:
        exchange = ApduExchange(raw, response)
        self.history.append(exchange)
        if self.apdu_log is not None:
            write_log_line(self.apdu_log, exchange)
        if self.on_apdu is not None:
            self.on_apdu(exchange)


__all__ = [
    "ApduExchange",
    "CardNotPoweredError",
    "CardRemovedFault",
    "SimulatedCard",
]
