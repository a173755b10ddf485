"""The card on an Android phone: `NfcAdapter.enableReaderMode` and `IsoDep`, through Chaquopy.

Reader mode is on from the provider's creation (on the UI thread) until `close()`; a tag
found by the system arrives on a binder thread and waits in a queue for the card flow.
APDUs go through `IsoDep.transceive` from the flow's worker thread only (never the UI
thread, which must not block), with a timeout; extended-length reads only where
`isExtendedLengthApduSupported()` says so. A lost tag or a timeout is a removed card.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from typing import Any

from java import dynamic_proxy, jclass  # type: ignore[import-not-found]

from bridge.cards import CardHandle, JpkiCardHandle
from bridge.errors import CardUnavailableError
from card.connection import ConnectionBase
from card.errors import CardRemovedError, NoCardError, NotJpkiCardError

TRANSCEIVE_TIMEOUT_MS = 5000
"""IsoDep's wait for one answer; a signature with RSA-2048 takes well under a second."""

NfcAdapter = jclass("android.nfc.NfcAdapter")
IsoDep = jclass("android.nfc.tech.IsoDep")
IOException = jclass("java.io.IOException")
ReaderCallback = jclass("android.nfc.NfcAdapter$ReaderCallback")
READER_FLAGS = (
    NfcAdapter.FLAG_READER_NFC_B  # the My Number Card is ISO 14443 Type B
    | NfcAdapter.FLAG_READER_SKIP_NDEF_CHECK
    | NfcAdapter.FLAG_READER_NO_PLATFORM_SOUNDS
)


class _TagCallback(dynamic_proxy(ReaderCallback)):  # type: ignore[misc]
    """`NfcAdapter.ReaderCallback`: hands each discovered tag to the waiting flow."""

    def __init__(self, tags: queue.Queue[Any]) -> None:
        super().__init__()
        self.tags = tags

    def onTagDiscovered(self, tag: Any) -> None:  # noqa: N802 - the Java interface's name
        self.tags.put(tag)


class IsoDepConnection(ConnectionBase):
    """One `IsoDep` link to the card."""

    def __init__(self, isodep: Any) -> None:
        super().__init__()
        self.isodep = isodep
        self._closed = False

    @property
    def atr(self) -> bytes:
        historical = self.isodep.getHiLayerResponse() or self.isodep.getHistoricalBytes()
        return bytes(historical) if historical is not None else b""

    def _transmit_raw(self, raw: bytes) -> bytes:
        if threading.current_thread() is threading.main_thread():
            raise RuntimeError("IsoDep.transceive must not run on the UI thread")
        if self._closed:
            raise CardRemovedError("the connection to the card is closed")
        try:
            return bytes(self.isodep.transceive(raw))
        except IOException as exc:  # TagLostException, or no answer within the timeout
            raise CardRemovedError(f"the card stopped answering ({exc})") from None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(IOException):  # the tag is gone already
                self.isodep.close()


class AndroidNfcProvider:
    """The card held to the phone; `close()` turns reader mode off again."""

    def __init__(self, activity: Any, *, timeout_ms: int = TRANSCEIVE_TIMEOUT_MS) -> None:
        self.activity = activity
        self.timeout_ms = timeout_ms
        self.adapter = NfcAdapter.getDefaultAdapter(activity)
        if self.adapter is None or not self.adapter.isEnabled():
            raise CardUnavailableError("app_nfc_unavailable", reason="no_reader")
        self._tags: queue.Queue[Any] = queue.Queue()
        self._callback = _TagCallback(self._tags)
        self._tag: Any = None
        self.adapter.enableReaderMode(activity, self._callback, READER_FLAGS, None)
        self.enabled = True

    def wait_for_card(self, timeout: float) -> None:
        if self._tag is not None:
            return
        try:
            self._tag = self._tags.get(timeout=timeout)
        except queue.Empty:
            raise NoCardError(f"no card within {timeout:g} s") from None

    def open(self) -> CardHandle:
        tag, self._tag = self._tag, None
        if tag is None:
            raise NoCardError("no card was found")
        isodep = IsoDep.get(tag)
        if isodep is None:
            raise NotJpkiCardError("the card does not speak ISO 14443-4 (IsoDep)")
        try:
            isodep.connect()
        except IOException as exc:
            raise CardRemovedError(f"the card went away ({exc})") from None
        isodep.setTimeout(self.timeout_ms)
        extended = bool(isodep.isExtendedLengthApduSupported())
        return JpkiCardHandle(IsoDepConnection(isodep), extended_length=extended)

    def close(self) -> None:
        """Turn reader mode off (on the UI thread, as the app calls it)."""
        if self.enabled:
            self.enabled = False
            self.adapter.disableReaderMode(self.activity)
