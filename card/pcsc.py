"""PC/SC adapter: the card seam over pyscard's `scard` API (any reader pcscd knows).

Nothing else in the project imports pyscard. Errors come out as the card layer's own:
`NoReaderError`, `NoCardError`, `CardRemovedError`, `ConnectionFailedError`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from smartcard import scard

from card.connection import ConnectionBase
from card.errors import CardRemovedError, ConnectionFailedError, NoCardError, NoReaderError

_REMOVED = {
    scard.SCARD_W_REMOVED_CARD,
    scard.SCARD_E_NO_SMARTCARD,
    scard.SCARD_W_UNRESPONSIVE_CARD,
    scard.SCARD_W_UNPOWERED_CARD,
    scard.SCARD_W_RESET_CARD,
    scard.SCARD_E_READER_UNAVAILABLE,
    scard.SCARD_E_NOT_TRANSACTED,
    scard.SCARD_E_COMM_DATA_LOST,
}
_NO_SERVICE = {scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED}
SHARING_VIOLATION_PATIENCE_SECONDS = 3.0
"""How long a connection waits for another program to let go of the card."""
_NO_READERS = {scard.SCARD_E_NO_READERS_AVAILABLE, scard.SCARD_E_UNKNOWN_READER}


def _message(hresult: int) -> str:
    return f"{scard.SCardGetErrorMessage(hresult)} ({hresult & 0xFFFFFFFF:#010x})"


def _ok(hresult: int, what: str) -> None:
    if hresult == scard.SCARD_S_SUCCESS:
        return
    if hresult in _NO_SERVICE:
        raise NoReaderError("the PC/SC service (pcscd) is not running")
    if hresult in _NO_READERS:
        raise NoReaderError("no smart-card reader is connected")
    if hresult in _REMOVED:
        raise CardRemovedError(f"{what}: the card was removed or stopped responding")
    raise ConnectionFailedError(f"{what}: {_message(hresult)}")


class _Context:
    """An established PC/SC context, released on exit."""

    def __enter__(self) -> Any:
        hresult, self.handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        _ok(hresult, "connecting to the PC/SC service")
        return self.handle

    def __exit__(self, *exc: object) -> None:
        scard.SCardReleaseContext(self.handle)


def _list(context: Any) -> list[str]:
    hresult, readers = scard.SCardListReaders(context, [])
    if hresult in _NO_READERS:
        return []
    _ok(hresult, "listing readers")
    return list(readers)


def list_readers() -> list[str]:
    """Names of the connected readers (empty if there are none)."""
    with _Context() as context:
        return _list(context)


@dataclass(frozen=True, slots=True)
class ReaderStatus:
    """A reader and whether a card sits on it."""

    name: str
    card_present: bool
    atr: bytes


def reader_statuses() -> list[ReaderStatus]:
    """Every reader with its card presence, without connecting to any card."""
    with _Context() as context:
        names = _list(context)
        if not names:
            return []
        states = [(name, scard.SCARD_STATE_UNAWARE) for name in names]
        hresult, states = scard.SCardGetStatusChange(context, 0, states)
        if hresult != scard.SCARD_E_TIMEOUT:
            _ok(hresult, "reading reader states")
        return [
            ReaderStatus(name, bool(state & scard.SCARD_STATE_PRESENT), bytes(atr))
            for name, state, atr in states
        ]


def choose_reader(readers: list[str], name: str | None) -> str:
    """The reader to use: the one named (exact, else a unique substring), or the only one."""
    if not readers:
        raise NoReaderError("no smart-card reader is connected")
    if name is None:
        return readers[0]
    if name in readers:
        return name
    matches = [r for r in readers if name.lower() in r.lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NoReaderError(f"no reader named {name!r}; connected: {', '.join(readers)}")
    raise NoReaderError(f"{name!r} names several readers: {', '.join(matches)}")


def wait_for_card(reader: str | None = None, timeout: float = 30.0) -> str:
    """Wait until a card is on the reader (the named one, or the only one); its name."""
    with _Context() as context:
        name = choose_reader(_list(context), reader)
        _wait_for_card(context, name, timeout)
        return name


def wait_for_card_removal(reader: str, timeout: float = 30.0) -> None:
    """Wait until the reader has no card; `ConnectionFailedError` if it stays past `timeout`."""
    with _Context() as context:
        _wait_for_state(context, reader, present=False, timeout=timeout)


def _wait_for_card(context: Any, reader: str, timeout: float) -> None:
    _wait_for_state(context, reader, present=True, timeout=timeout)


def _wait_for_state(context: Any, reader: str, *, present: bool, timeout: float) -> None:
    """Block on PC/SC state changes until a usable card is on (or no card is on) the reader."""
    deadline = time.monotonic() + timeout
    state = scard.SCARD_STATE_UNAWARE
    while True:
        remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
        hresult, states = scard.SCardGetStatusChange(context, remaining_ms, [(reader, state)])
        if hresult != scard.SCARD_E_TIMEOUT:
            _ok(hresult, "waiting for the reader")
            _, state, _ = states[0]
            if present and state & scard.SCARD_STATE_PRESENT and not state & scard.SCARD_STATE_MUTE:
                return
            if not present and state & scard.SCARD_STATE_EMPTY:
                return
            state &= ~scard.SCARD_STATE_CHANGED
        if hresult == scard.SCARD_E_TIMEOUT or time.monotonic() >= deadline:
            if present:
                raise NoCardError(f"no card was presented on {reader} within {timeout:g} s")
            raise ConnectionFailedError(f"the card stayed on {reader} for {timeout:g} s")


class PcscConnection(ConnectionBase):
    """A connection to the card on one PC/SC reader.

    Opened exclusively so no other program interleaves commands between a VERIFY and the
    signature, and closed with a card reset so the verified state does not outlive us.
    A read-only look (`exclusive=False, reset_on_close=False`) leaves other programs'
    sessions on the card undisturbed.
    """

    def __init__(
        self,
        reader: str | None = None,
        *,
        wait: float = 0.0,
        exclusive: bool = True,
        reset_on_close: bool = True,
    ) -> None:
        super().__init__()
        self._reset_on_close = reset_on_close
        self._context_manager = _Context()
        self._context = self._context_manager.__enter__()
        self._card: Any = None
        self._card_lost = False
        try:
            self.reader = choose_reader(_list(self._context), reader)
            if wait > 0:
                _wait_for_card(self._context, self.reader, wait)
            hresult = self._connect(exclusive)
            if hresult in (scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_REMOVED_CARD):
                raise NoCardError(f"no card on {self.reader}")
            _ok(hresult, f"connecting to the card on {self.reader}")
            hresult, _, _, _, atr = scard.SCardStatus(self._card)
            _ok(hresult, "reading the card status")
            self._atr = bytes(atr)
        except BaseException:
            self.close()
            raise

    def _connect(self, exclusive: bool) -> int:
        """SCardConnect, tried again for a moment while another program holds the card.

        Right after a card arrives, the system (or middleware such as a PKCS#11 module)
        often reads it for a few hundred milliseconds; an exclusive connection then gets
        a sharing violation that would clear up by itself.
        """
        mode = scard.SCARD_SHARE_EXCLUSIVE if exclusive else scard.SCARD_SHARE_SHARED
        deadline = time.monotonic() + SHARING_VIOLATION_PATIENCE_SECONDS
        pause = 0.05
        while True:
            hresult, card, protocol = scard.SCardConnect(
                self._context, self.reader, mode, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
            )
            if hresult == scard.SCARD_S_SUCCESS:
                self._card, self._protocol = card, protocol
            if hresult != scard.SCARD_E_SHARING_VIOLATION or time.monotonic() >= deadline:
                return int(hresult)
            time.sleep(pause)  # a back-off, not synchronisation: nothing to wait on here
            pause = min(pause * 2, 0.4)

    @property
    def atr(self) -> bytes:
        return self._atr

    def _transmit_raw(self, raw: bytes) -> bytes:
        if self._card is None:
            raise CardRemovedError("the connection to the card is closed")
        hresult, response = scard.SCardTransmit(self._card, self._protocol, list(raw))
        try:
            _ok(hresult, "sending a command to the card")
            if len(response) < 2:  # some drivers report a lost card as an empty answer
                raise CardRemovedError("the card stopped responding (it may have been moved away)")
        except CardRemovedError:
            self._card_lost = True
            raise
        return bytes(response)

    def close(self) -> None:
        if self._card is not None:
            # reset so the verified password does not outlive us; a lost card is left alone
            reset = self._reset_on_close and not self._card_lost
            disposition = scard.SCARD_RESET_CARD if reset else scard.SCARD_LEAVE_CARD
            scard.SCardDisconnect(self._card, disposition)
            self._card = None
        if self._context is not None:
            self._context_manager.__exit__(None, None, None)
            self._context = None
