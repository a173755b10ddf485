"""The card on an iPhone: Core NFC's `NFCTagReaderSession` and `NFCISO7816Tag`, via rubicon-objc.

A reader session (the system's "Ready to Scan" sheet) is begun when the flow first waits
for the card and ended (`invalidateSession`) when the burst's handle closes, so the sheet
never hides the password screen. Core NFC answers on its own queue: each APDU waits for
its completion handler on an event, with a timeout. The JPKI application's AID must be in
the app's `com.apple.developer.nfc.readersession.iso7816.select-identifiers` (see the
Briefcase configuration in pyproject.toml).
"""

from __future__ import annotations

import threading
from typing import Any

from rubicon.objc import (  # type: ignore[import-not-found]
    NSObject,
    ObjCClass,
    ObjCProtocol,
    objc_method,
)

from bridge.cards import CardHandle, JpkiCardHandle
from bridge.errors import CardUnavailableError, NotSignedError
from card.connection import ConnectionBase
from card.errors import CardRemovedError, NoCardError, NotJpkiCardError

APDU_TIMEOUT = 5.0
NFC_POLLING_ISO14443 = 1 << 0  # NFCPollingOption.iso14443
NFC_TAG_TYPE_ISO7816 = 3  # NFCTagType.iso7816Compatible (feliCa 1, iso15693 2, 7816 3, mifare 4)
USER_CANCELED = 200  # NFCReaderError.readerSessionInvalidationErrorUserCanceled
SESSION_TIMEOUT = 201  # NFCReaderError.readerSessionInvalidationErrorSessionTimeout
FIRST_NDEF_READ = 204  # readerSessionInvalidationErrorFirstNDEFTagRead: not an error for us

NFCTagReaderSession = ObjCClass("NFCTagReaderSession")
NFCISO7816APDU = ObjCClass("NFCISO7816APDU")
NSData = ObjCClass("NSData")
NFCTagReaderSessionDelegate = ObjCProtocol("NFCTagReaderSessionDelegate")


class _Delegate(NSObject, protocols=[NFCTagReaderSessionDelegate]):  # type: ignore[misc,call-arg]
    """The session's delegate: forwards to the Python provider."""

    @objc_method  # type: ignore[untyped-decorator]
    def tagReaderSessionDidBecomeActive_(self, session: Any) -> None:  # noqa: N802
        pass

    @objc_method  # type: ignore[untyped-decorator]
    def tagReaderSession_didInvalidateWithError_(self, session: Any, error: Any) -> None:  # noqa: N802
        self.provider.invalidated(session, error)

    @objc_method  # type: ignore[untyped-decorator]
    def tagReaderSession_didDetectTags_(self, session: Any, tags: Any) -> None:  # noqa: N802
        self.provider.detected(session, tags)


class _Waiter:
    """One asynchronous Core NFC answer, waited for from the worker thread."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.value: Any = None
        self.error: Any = None

    def done(self, value: Any = None, error: Any = None) -> None:
        self.value, self.error = value, error
        self.event.set()

    def wait(self, timeout: float, what: str) -> Any:
        if not self.event.wait(timeout):
            raise CardRemovedError(f"no answer from the card within {timeout:g} s ({what})")
        if self.error is not None:
            raise CardRemovedError(f"the card went away ({self.error.localizedDescription})")
        return self.value


class CoreNfcConnection(ConnectionBase):
    """APDUs to one `NFCISO7816Tag` of a reader session; closing ends the session."""

    def __init__(self, provider: CoreNfcProvider, tag: Any, timeout: float) -> None:
        super().__init__()
        self.provider = provider
        self.tag = tag
        self.timeout = timeout
        self._closed = False

    @property
    def atr(self) -> bytes:
        historical = self.tag.historicalBytes
        return bytes(historical) if historical is not None else b""

    def _transmit_raw(self, raw: bytes) -> bytes:
        if self._closed:
            raise CardRemovedError("the connection to the card is closed")
        apdu = NFCISO7816APDU.alloc().initWithData_(NSData.dataWithBytes_length_(raw, len(raw)))
        waiter = _Waiter()

        def answered(data: Any, sw1: int, sw2: int, error: Any) -> None:
            body = b"" if data is None else bytes(data)
            waiter.done(body + bytes([int(sw1) & 0xFF, int(sw2) & 0xFF]), error)

        self.tag.sendCommandAPDU_completionHandler_(apdu, answered)
        result: bytes = waiter.wait(self.timeout, "sendCommandAPDU")
        return result

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.provider.end_session()


class CoreNfcProvider:
    """The card held to the iPhone; one reader session per burst."""

    def __init__(
        self, *, alert_message: str, lang: str = "ja", timeout: float = APDU_TIMEOUT
    ) -> None:
        if not NFCTagReaderSession.readingAvailable:
            raise CardUnavailableError("app_nfc_unavailable", reason="no_reader")
        self.alert_message = alert_message
        self.lang = lang
        self.timeout = timeout
        self.session: Any = None
        self._delegate = _Delegate.alloc().init()
        self._delegate.provider = self
        self._found = _Waiter()
        self._tag: Any = None
        self._cancelled = False
        self._lock = threading.Lock()

    # --- the delegate's calls (Core NFC's queue) ---------------------------------------

    def detected(self, session: Any, tags: Any) -> None:
        tag = tags[0]
        if int(tag.type) != NFC_TAG_TYPE_ISO7816:
            self._found.done(error=None, value=("not_iso7816", tag))
            return

        def connected(error: Any) -> None:
            if error is not None:
                session.restartPolling()  # try again when the card is held steady
                return
            self._found.done(value=("ok", tag.asNFCISO7816Tag()))

        session.connectToTag_completionHandler_(tag, connected)

    def invalidated(self, session: Any, error: Any) -> None:
        with self._lock:
            if session is not self.session:
                return
            self.session = None
        code = int(error.code) if error is not None else 0
        if code == USER_CANCELED:
            self._cancelled = True
        self._found.done(value=("ended", code))

    # --- the card flow's calls (its worker thread) -------------------------------------

    def _begin(self) -> None:
        with self._lock:
            if self.session is not None:
                return
            self._found = _Waiter()
            session = NFCTagReaderSession.alloc().initWithPollingOption_delegate_queue_(
                NFC_POLLING_ISO14443, self._delegate, None
            )
            session.alertMessage = self.alert_message
            self.session = session
        session.beginSession()

    def wait_for_card(self, timeout: float) -> None:
        if self._cancelled:
            raise NotSignedError("user_cancelled", reason="user_cancelled")
        if self._tag is not None:
            return
        self._begin()
        if not self._found.event.wait(timeout):
            raise NoCardError(f"no card within {timeout:g} s")
        kind, value = self._found.value
        if kind == "ended":
            if self._cancelled:
                raise NotSignedError("user_cancelled", reason="user_cancelled")
            raise NoCardError("the reader session ended (it times out after a minute)")
        if kind == "not_iso7816":
            self.end_session()
            raise NotJpkiCardError("the tag is not an ISO 7816 card")
        self._tag = value

    def open(self) -> CardHandle:
        tag, self._tag = self._tag, None
        if tag is None:
            raise NoCardError("no card was found")
        return JpkiCardHandle(CoreNfcConnection(self, tag, self.timeout))

    def end_session(self) -> None:
        """Close the system's sheet (after the burst, or when the flow stops)."""
        with self._lock:
            session, self.session = self.session, None
        if session is not None:
            session.invalidateSession()

    def close(self) -> None:
        self.end_session()
