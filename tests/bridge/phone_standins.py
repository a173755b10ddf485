"""Stand-ins for the phones' platform classes, replaying the simulated card's answers.

No Android or iOS runtime exists here, so the providers' `java` (Chaquopy) and
`rubicon.objc` imports are given these modules instead. They behave as the platform
documents: Android's reader mode hands tags to a callback on another thread and
`IsoDep.transceive` blocks until the answer or its timeout (then `TagLostException`);
Core NFC answers on its own queue through completion handlers, and invalidating a
session makes the delegate hear `userCanceled` (200), as iOS does.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jpkisim.card import SimulatedCard

# --- Android (Chaquopy's `java` module) -------------------------------------------------


class IOException(Exception):  # noqa: N818 - the Java class's name
    """java.io.IOException."""


class TagLostException(IOException):
    """android.nfc.TagLostException."""


@dataclass
class FakeIsoDep:
    """android.nfc.tech.IsoDep over the simulated card."""

    card: SimulatedCard
    extended: bool = False
    hang: bool = False
    """Never answer (a card that went quiet): transceive waits its timeout, then throws."""
    apdus: list[bytes] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    timeout_ms: int | None = None
    connected: bool = False
    closed: bool = False

    def connect(self) -> None:
        if self.card.removed:
            raise TagLostException("Tag was lost.")
        self.card.power_on()
        self.connected = True

    def setTimeout(self, timeout_ms: int) -> None:  # noqa: N802
        self.timeout_ms = timeout_ms

    def isExtendedLengthApduSupported(self) -> bool:  # noqa: N802
        return self.extended

    def getHiLayerResponse(self) -> bytes | None:  # noqa: N802
        return None

    def getHistoricalBytes(self) -> bytes:  # noqa: N802
        return self.card.atr[-8:]

    def transceive(self, raw: bytes) -> bytes:
        assert self.connected and not self.closed, "transceive on a closed IsoDep"
        self.threads.append(threading.current_thread())
        self.apdus.append(bytes(raw))
        if self.hang:
            assert self.timeout_ms is not None, "no timeout was set: transceive would hang"
            threading.Event().wait(self.timeout_ms / 1000)
            raise TagLostException("Transceive failed")
        try:
            return self.card.process_apdu(bytes(raw))
        except ConnectionError as exc:  # the simulator's CardRemovedFault
            raise TagLostException("Tag was lost.") from exc

    def close(self) -> None:
        self.closed = True
        self.card.power_off()


@dataclass
class FakeTag:
    """android.nfc.Tag: IsoDep-capable or not."""

    isodep: FakeIsoDep | None


@dataclass
class FakeAdapter:
    """android.nfc.NfcAdapter."""

    enabled: bool = True
    callback: Any = None
    flags: int | None = None
    reader_mode: bool = False
    calls: list[str] = field(default_factory=list)

    def isEnabled(self) -> bool:  # noqa: N802
        return self.enabled

    def enableReaderMode(self, activity: object, callback: Any, flags: int, extras: object) -> None:  # noqa: N802
        self.calls.append("enableReaderMode")
        self.callback, self.flags, self.reader_mode = callback, flags, True

    def disableReaderMode(self, activity: object) -> None:  # noqa: N802
        self.calls.append("disableReaderMode")
        self.reader_mode = False

    def discover(self, tag: FakeTag) -> threading.Thread:
        """The system found a tag: the callback runs on a binder thread."""
        assert self.reader_mode, "reader mode is off"
        thread = threading.Thread(target=self.callback.onTagDiscovered, args=(tag,))
        thread.start()
        return thread


class _NfcAdapterClass:
    FLAG_READER_NFC_A = 0x1
    FLAG_READER_NFC_B = 0x2
    FLAG_READER_SKIP_NDEF_CHECK = 0x80
    FLAG_READER_NO_PLATFORM_SOUNDS = 0x100
    adapter: FakeAdapter | None = None

    @classmethod
    def getDefaultAdapter(cls, activity: object) -> FakeAdapter | None:  # noqa: N802
        return cls.adapter


class _IsoDepClass:
    @staticmethod
    def get(tag: FakeTag) -> FakeIsoDep | None:
        return tag.isodep


class _ReaderCallback:
    """The interface `dynamic_proxy` implements."""


def java_module(adapter: FakeAdapter | None) -> types.ModuleType:
    """A `java` module whose `jclass` knows the classes the Android provider uses."""
    _NfcAdapterClass.adapter = adapter
    classes: dict[str, Any] = {
        "android.nfc.NfcAdapter": _NfcAdapterClass,
        "android.nfc.tech.IsoDep": _IsoDepClass,
        "java.io.IOException": IOException,
        "android.nfc.NfcAdapter$ReaderCallback": _ReaderCallback,
    }
    module = types.ModuleType("java")

    def jclass(name: str) -> Any:
        return classes[name]

    def dynamic_proxy(interface: type) -> type:
        return type("DynamicProxy", (interface,), {})

    module.jclass = jclass  # type: ignore[attr-defined]
    module.dynamic_proxy = dynamic_proxy  # type: ignore[attr-defined]
    return module


# --- iOS (rubicon-objc, Core NFC) ---------------------------------------------------------


class NSObject:
    """rubicon's NSObject: `alloc().init()`; subclasses may name protocols."""

    protocols: list[Any] = []  # noqa: RUF012 - set per subclass

    def __init_subclass__(cls, protocols: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.protocols = protocols or []

    @classmethod
    def alloc(cls) -> Any:
        return cls.__new__(cls)

    def init(self) -> Any:
        return self


@dataclass
class FakeNSData:
    data: bytes

    def __bytes__(self) -> bytes:
        return self.data


class _NSDataClass:
    @staticmethod
    def dataWithBytes_length_(raw: bytes, length: int) -> FakeNSData:  # noqa: N802
        return FakeNSData(bytes(raw[:length]))


class FakeAPDU:
    """NFCISO7816APDU."""

    data: bytes = b""

    @classmethod
    def alloc(cls) -> FakeAPDU:
        return cls()

    def initWithData_(self, data: FakeNSData) -> FakeAPDU:  # noqa: N802
        self.data = bytes(data)
        return self


@dataclass
class FakeError:
    code: int
    localizedDescription: str = "error"  # noqa: N815


@dataclass
class FakeIso7816Tag:
    """NFCISO7816Tag over the simulated card; answers on Core NFC's queue (a thread)."""

    card: SimulatedCard
    mode: str = "answer"
    """`answer`, `lost` (the tag connection is lost) or `silent` (no answer at all)."""
    apdus: list[bytes] = field(default_factory=list)
    historicalBytes: FakeNSData | None = None  # noqa: N815

    def sendCommandAPDU_completionHandler_(  # noqa: N802
        self, apdu: FakeAPDU, handler: Callable[[Any, int, int, Any], None]
    ) -> None:
        self.apdus.append(apdu.data)

        def answer() -> None:
            if self.mode == "silent":
                return
            if self.mode == "lost":
                handler(None, 0, 0, FakeError(102, "Tag connection lost"))
                return
            try:
                response = self.card.process_apdu(apdu.data)
            except ConnectionError:
                handler(None, 0, 0, FakeError(102, "Tag connection lost"))
                return
            handler(FakeNSData(response[:-2]), response[-2], response[-1], None)

        threading.Thread(target=answer).start()


@dataclass
class FakeTagReaderTag:
    """An NFCTag as `didDetectTags` delivers it."""

    iso: FakeIso7816Tag | None
    type: int = 3

    def asNFCISO7816Tag(self) -> FakeIso7816Tag | None:  # noqa: N802
        return self.iso


class FakeReaderSession:
    """NFCTagReaderSession: scripted by `ReaderWorld`."""

    world: ReaderWorld

    @classmethod
    def alloc(cls) -> FakeReaderSession:
        return cls()

    def initWithPollingOption_delegate_queue_(  # noqa: N802
        self, option: int, delegate: Any, queue: object
    ) -> FakeReaderSession:
        self.option, self.delegate = option, delegate
        self.alertMessage = ""
        self.invalidated = False
        return self

    def beginSession(self) -> None:  # noqa: N802
        self.world.begun.append(self)
        self.world.on_begin(self)

    def connectToTag_completionHandler_(self, tag: Any, handler: Callable[[Any], None]) -> None:  # noqa: N802
        threading.Thread(target=handler, args=(None,)).start()

    def restartPolling(self) -> None:  # noqa: N802
        self.world.restarts += 1

    def invalidateSession(self) -> None:  # noqa: N802
        self.invalidated = True
        # iOS tells the delegate "user canceled" even when the app ended the session
        threading.Thread(
            target=self.delegate.tagReaderSession_didInvalidateWithError_,
            args=(self, FakeError(200, "Session invalidated by user")),
        ).start()


@dataclass
class ReaderWorld:
    """What happens when a reader session begins (the person holds the card, or cancels)."""

    on_begin: Callable[[FakeReaderSession], None]
    begun: list[FakeReaderSession] = field(default_factory=list)
    restarts: int = 0
    reading_available: bool = True

    def detect(self, session: FakeReaderSession, tag: FakeTagReaderTag) -> None:
        threading.Thread(
            target=session.delegate.tagReaderSession_didDetectTags_, args=(session, [tag])
        ).start()

    def cancel(self, session: FakeReaderSession) -> None:
        threading.Thread(
            target=session.delegate.tagReaderSession_didInvalidateWithError_,
            args=(session, FakeError(200, "Session invalidated by user")),
        ).start()


def rubicon_modules(world: ReaderWorld) -> dict[str, types.ModuleType]:
    """`rubicon` and `rubicon.objc` with the Core NFC classes the iOS provider uses."""
    FakeReaderSession.world = world
    session_class = type(
        "NFCTagReaderSession", (FakeReaderSession,), {"readingAvailable": world.reading_available}
    )
    classes: dict[str, Any] = {
        "NFCTagReaderSession": session_class,
        "NFCISO7816APDU": FakeAPDU,
        "NSData": _NSDataClass,
    }
    objc = types.ModuleType("rubicon.objc")
    objc.NSObject = NSObject  # type: ignore[attr-defined]
    objc.ObjCClass = classes.__getitem__  # type: ignore[attr-defined]
    objc.ObjCProtocol = lambda name: ("protocol", name)  # type: ignore[attr-defined]
    objc.objc_method = lambda function: function  # type: ignore[attr-defined]
    objc.objc_id = object  # type: ignore[attr-defined]

    def send_super(cls: type, self: object, selector: str, *args: Any, **_types: Any) -> Any:
        return getattr(super(cls, self), selector.replace(":", "_"))(*args)

    objc.send_super = send_super  # type: ignore[attr-defined]
    rubicon = types.ModuleType("rubicon")
    rubicon.objc = objc  # type: ignore[attr-defined]
    return {"rubicon": rubicon, "rubicon.objc": objc}


# --- toga-iOS's scene delegate -----------------------------------------------------------


class FakeSceneDelegate(NSObject):
    """toga_iOS.app.PythonSceneDelegate: attaches the window when a scene connects."""

    connected: list[object] = []  # noqa: RUF012 - a record shared by the stand-in's instances

    def scene_willConnectToSession_options_(  # noqa: N802
        self, scene: object, session: object, options: object
    ) -> None:
        FakeSceneDelegate.connected.append(scene)


@dataclass
class FakeSet:
    items: list[Any]

    def allObjects(self) -> list[Any]:  # noqa: N802
        return self.items


@dataclass
class FakeURL:
    absoluteString: str  # noqa: N815


@dataclass
class FakeUserActivity:
    webpageURL: FakeURL | None  # noqa: N815
    activityType: str = "NSUserActivityTypeBrowsingWeb"  # noqa: N815


@dataclass
class FakeConnectionOptions:
    userActivities: FakeSet  # noqa: N815
    URLContexts: FakeSet


def toga_ios_module() -> types.ModuleType:
    module = types.ModuleType("toga_iOS.app")
    module.PythonSceneDelegate = FakeSceneDelegate  # type: ignore[attr-defined]
    return module
