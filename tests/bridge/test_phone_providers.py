"""The phones' card providers against stand-ins of their platform classes (no phone here).

Each signs through the real card flow (`bridge.flow.CardFlow`) with the simulated card
behind the stand-in: the APDUs must be exactly those a PC/SC reader would carry, the
transceive must run off the UI (main) thread with a timeout, a lost tag or a silent card
must become "card removed", and the reader mode / reader session must end afterwards.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
import threading
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bridge.cards import CardHandle, JpkiCardHandle
from bridge.errors import CardUnavailableError, NotSignedError
from bridge.flow import CardFlow, FlowOptions, SignedDigest
from bridge.protocol import Order
from card.cms import verify_signed_data
from card.connection import CallableConnection
from card.errors import CardRemovedError, NoCardError
from jpkisim.card import SimulatedCard
from jpkisim.state import CardState
from tests.bridge.fakes import ScriptedUser
from tests.bridge.phone_standins import (
    FakeAdapter,
    FakeConnectionOptions,
    FakeIso7816Tag,
    FakeIsoDep,
    FakeReaderSession,
    FakeSceneDelegate,
    FakeSet,
    FakeTag,
    FakeTagReaderTag,
    FakeURL,
    FakeUserActivity,
    ReaderWorld,
    java_module,
    rubicon_modules,
    toga_ios_module,
)
from tests.conftest import SIGNING_PASSWORD

DIGEST = hashlib.sha256(b"the prepared revision").digest()
JPKI_SELECT = bytes.fromhex("00A4040C0AD392F000260100000001")


def card_of(path: Path) -> SimulatedCard:
    return SimulatedCard(CardState.load(path), path)


def reference_apdus(path: Path, order: Order, *, extended: bool = False) -> list[bytes]:
    """The APDUs the same flow sends through an in-process connection (as over PC/SC)."""
    card = card_of(path)
    sent: list[bytes] = []

    def transmit(raw: bytes) -> bytes:
        sent.append(bytes(raw))
        return card.process_apdu(raw)

    class Recording:
        def wait_for_card(self, timeout: float) -> None:
            return None

        def open(self) -> CardHandle:
            card.power_on()
            return JpkiCardHandle(CallableConnection(transmit, card.atr), extended_length=extended)

    CardFlow(Recording(), ScriptedUser([SIGNING_PASSWORD]), FlowOptions(order)).sign(DIGEST)
    return sent


def sign_off_main_thread(flow: CardFlow) -> SignedDigest:
    """The card flow runs in a worker thread in the apps, never on the UI (main) thread."""
    with ThreadPoolExecutor(1) as worker:
        return worker.submit(flow.sign, DIGEST).result(timeout=60)


# --- Android ---------------------------------------------------------------------------


@pytest.fixture
def android(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[FakeAdapter | None], Any]]:
    """The Android provider module, imported against a `java` stand-in with `adapter`."""

    def load(adapter: FakeAdapter | None) -> Any:
        monkeypatch.setitem(sys.modules, "java", java_module(adapter))
        monkeypatch.delitem(sys.modules, "bridge.providers.android", raising=False)
        return importlib.import_module("bridge.providers.android")

    yield load
    sys.modules.pop("bridge.providers.android", None)


@pytest.mark.parametrize("extended", [False, True], ids=["short", "extended"])
def test_android_signs_with_exactly_the_reader_apdus(
    android: Callable[[FakeAdapter | None], Any],
    make_card_state: Callable[..., Path],
    extended: bool,
) -> None:
    state = make_card_state(extended_length=True)
    expected = reference_apdus(
        make_card_state(extended_length=True), Order.CARD_FIRST, extended=extended
    )
    adapter = FakeAdapter()
    module = android(adapter)
    provider = module.AndroidNfcProvider(activity=object(), timeout_ms=3000)
    assert adapter.calls == ["enableReaderMode"]
    assert adapter.flags is not None and adapter.flags & module.NfcAdapter.FLAG_READER_NFC_B
    isodep = FakeIsoDep(card_of(state), extended=extended)
    user = ScriptedUser(
        [SIGNING_PASSWORD], on_card=lambda _n: adapter.discover(FakeTag(isodep)).join()
    )
    flow = CardFlow(provider, user, FlowOptions(Order.CARD_FIRST, card_wait=10))
    signed = sign_off_main_thread(flow)

    verify_signed_data(signed.cms, DIGEST)
    assert isodep.apdus == expected
    assert isodep.apdus[0] == JPKI_SELECT
    reads = [apdu for apdu in isodep.apdus if apdu[1] == 0xB0]
    assert reads and all((len(apdu) == 7) is extended for apdu in reads)  # 3-byte Le only then
    assert isodep.timeout_ms == 3000
    assert all(thread is not threading.main_thread() for thread in isodep.threads)
    assert isodep.closed  # the burst's end closes the link
    provider.close()
    assert adapter.calls == ["enableReaderMode", "disableReaderMode"]
    provider.close()  # once is enough
    assert adapter.calls.count("disableReaderMode") == 1


def test_android_never_transceives_on_the_ui_thread(
    android: Callable[[FakeAdapter | None], Any], card_state: Path
) -> None:
    adapter = FakeAdapter()
    module = android(adapter)
    provider = module.AndroidNfcProvider(activity=object())
    isodep = FakeIsoDep(card_of(card_state))
    adapter.discover(FakeTag(isodep)).join()
    provider.wait_for_card(1)
    with pytest.raises(RuntimeError, match="UI thread"):
        provider.open()  # SELECT would be sent from this (main) thread
    assert isodep.apdus == []


def test_android_a_lost_tag_is_a_removed_card_and_the_card_is_asked_for_again(
    android: Callable[[FakeAdapter | None], Any], card_state: Path
) -> None:
    adapter = FakeAdapter()
    module = android(adapter)
    provider = module.AndroidNfcProvider(activity=object())
    card = card_of(card_state)
    card.arm_removal(4)  # the card leaves the field in the middle of the burst

    def hold(times: int) -> None:
        if times == 2:
            card.reinsert()  # the person holds it again
        adapter.discover(FakeTag(FakeIsoDep(card))).join()

    user = ScriptedUser([SIGNING_PASSWORD], on_card=hold)
    signed = sign_off_main_thread(CardFlow(provider, user, FlowOptions(Order.PASSWORD_FIRST)))
    verify_signed_data(signed.cms, DIGEST)
    assert "card_removed" in user.problem_keys()
    assert user.card_requests == 2


def test_android_a_silent_card_times_out(
    android: Callable[[FakeAdapter | None], Any], card_state: Path
) -> None:
    adapter = FakeAdapter()
    module = android(adapter)
    provider = module.AndroidNfcProvider(activity=object(), timeout_ms=200)
    isodep = FakeIsoDep(card_of(card_state), hang=True)
    adapter.discover(FakeTag(isodep)).join()
    provider.wait_for_card(1)
    with ThreadPoolExecutor(1) as worker, pytest.raises(CardRemovedError, match="stopped"):
        worker.submit(provider.open).result(timeout=10)
    assert isodep.timeout_ms == 200


def test_android_without_nfc_or_without_a_card(
    android: Callable[[FakeAdapter | None], Any],
) -> None:
    module = android(None)
    with pytest.raises(CardUnavailableError) as no_nfc:
        module.AndroidNfcProvider(activity=object())
    assert no_nfc.value.key == "app_nfc_unavailable"
    module = android(FakeAdapter(enabled=False))
    with pytest.raises(CardUnavailableError):
        module.AndroidNfcProvider(activity=object())
    adapter = FakeAdapter()
    provider = android(adapter).AndroidNfcProvider(activity=object())
    with pytest.raises(NoCardError):
        provider.wait_for_card(0.1)
    adapter.discover(FakeTag(None)).join()  # a tag that does not speak ISO 14443-4
    provider.wait_for_card(1)
    with pytest.raises(Exception, match="IsoDep"):
        provider.open()


# --- iOS ---------------------------------------------------------------------------------


@pytest.fixture
def ios(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[ReaderWorld], Any]]:
    """The iOS provider module, imported against rubicon stand-ins scripted by `world`."""

    def load(world: ReaderWorld) -> Any:
        for name, module in rubicon_modules(world).items():
            monkeypatch.setitem(sys.modules, name, module)
        monkeypatch.delitem(sys.modules, "bridge.providers.ios", raising=False)
        return importlib.import_module("bridge.providers.ios")

    yield load
    sys.modules.pop("bridge.providers.ios", None)


def holding(card: SimulatedCard, mode: str = "answer") -> tuple[ReaderWorld, list[FakeIso7816Tag]]:
    """A world where the card is held to the iPhone whenever a session begins."""
    tags: list[FakeIso7816Tag] = []

    def begin(session: FakeReaderSession) -> None:
        tag = FakeIso7816Tag(card, mode=mode)
        tags.append(tag)
        world.detect(session, FakeTagReaderTag(tag))

    world = ReaderWorld(on_begin=begin)
    return world, tags


def test_ios_signs_with_exactly_the_reader_apdus_and_ends_the_session(
    ios: Callable[[ReaderWorld], Any], make_card_state: Callable[..., Path]
) -> None:
    state = make_card_state()
    expected = reference_apdus(make_card_state(), Order.PASSWORD_FIRST)
    card = card_of(state)
    card.power_on()
    world, tags = holding(card)
    module = ios(world)
    provider = module.CoreNfcProvider(alert_message="カードを iPhone の上部に当ててください")
    user = ScriptedUser([SIGNING_PASSWORD])
    signed = sign_off_main_thread(CardFlow(provider, user, FlowOptions(Order.PASSWORD_FIRST)))

    verify_signed_data(signed.cms, DIGEST)
    assert len(tags) == 1 and tags[0].apdus == expected
    assert user.asked == [None]  # the password came before the sheet
    (session,) = world.begun
    assert session.alertMessage == "カードを iPhone の上部に当ててください"
    assert session.option == module.NFC_POLLING_ISO14443
    assert session.invalidated  # the sheet is closed after the burst
    assert provider.session is None
    provider.wait_for_card  # noqa: B018 - the provider is reusable: a new session next time


def test_ios_a_lost_tag_and_a_silent_card_are_a_removed_card(
    ios: Callable[[ReaderWorld], Any], card_state: Path
) -> None:
    card = card_of(card_state)
    card.power_on()
    for mode, timeout in (("lost", 5.0), ("silent", 0.3)):
        world, _tags = holding(card, mode)
        provider = ios(world).CoreNfcProvider(alert_message="hold", timeout=timeout)
        with ThreadPoolExecutor(1) as worker:
            provider.wait_for_card(5)
            future = worker.submit(provider.open)
            with pytest.raises(CardRemovedError):
                future.result(timeout=10)
        assert world.begun[0].invalidated  # a failed burst ends the session too


def test_ios_the_person_cancels_the_sheet(
    ios: Callable[[ReaderWorld], Any], card_state: Path
) -> None:
    world = ReaderWorld(on_begin=lambda session: None)
    world.on_begin = world.cancel  # the person cancels the sheet as soon as it shows
    provider = ios(world).CoreNfcProvider(alert_message="hold")
    user = ScriptedUser([SIGNING_PASSWORD])
    flow = CardFlow(provider, user, FlowOptions(Order.PASSWORD_FIRST, card_wait=10))
    with pytest.raises(NotSignedError) as cancelled:
        sign_off_main_thread(flow)
    assert cancelled.value.key == "user_cancelled"
    assert len(world.begun) == 1  # not begun again after the person said no


def test_ios_without_nfc(ios: Callable[[ReaderWorld], Any]) -> None:
    world = ReaderWorld(on_begin=lambda _session: None, reading_available=False)
    with pytest.raises(CardUnavailableError):
        ios(world).CoreNfcProvider(alert_message="hold")
    world = ReaderWorld(on_begin=lambda _session: None)
    provider = ios(world).CoreNfcProvider(alert_message="hold")
    with pytest.raises(NoCardError):
        provider.wait_for_card(0.1)  # the sheet is up, no card yet
    provider.close()
    assert world.begun[0].invalidated


# --- the app's secure window on Android ------------------------------------------------


def test_the_password_screen_is_kept_out_of_screenshots_on_android(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bridge.app import secure  # noqa: PLC0415

    flags: list[tuple[str, int]] = []

    class Window:
        def addFlags(self, flag: int) -> None:  # noqa: N802
            flags.append(("add", flag))

        def clearFlags(self, flag: int) -> None:  # noqa: N802
            flags.append(("clear", flag))

    window = Window()
    activity = types.SimpleNamespace(getWindow=lambda: window)
    app = types.SimpleNamespace(_impl=types.SimpleNamespace(native=activity))
    view = types.ModuleType("android.view")
    view.WindowManager = types.SimpleNamespace(  # type: ignore[attr-defined]
        LayoutParams=types.SimpleNamespace(FLAG_SECURE=0x2000)
    )
    monkeypatch.setitem(sys.modules, "android", types.ModuleType("android"))
    monkeypatch.setitem(sys.modules, "android.view", view)
    secure.set_secure_window(app, True)
    assert flags == []  # not on Android: nothing
    monkeypatch.setattr(sys, "getandroidapilevel", lambda: 34, raising=False)
    secure.set_secure_window(app, True)
    secure.set_secure_window(app, False)
    assert flags == [("add", 0x2000), ("clear", 0x2000)]


# --- the URL a phone opened the app with --------------------------------------------------


def test_android_reads_the_app_link_from_the_launching_intent() -> None:
    from bridge.app.phone_links import android_launch_url  # noqa: PLC0415

    url = "https://sign.example.jp/b/" + "T" * 32
    intent = types.SimpleNamespace(getDataString=lambda: url)
    assert android_launch_url(types.SimpleNamespace(getIntent=lambda: intent)) == url
    launcher = types.SimpleNamespace(getDataString=lambda: None)
    assert android_launch_url(types.SimpleNamespace(getIntent=lambda: launcher)) is None


def test_ios_scenes_hand_universal_links_to_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, module in rubicon_modules(ReaderWorld(on_begin=lambda _s: None)).items():
        monkeypatch.setitem(sys.modules, name, module)
    toga_ios = toga_ios_module()
    monkeypatch.setitem(sys.modules, "toga_iOS", types.ModuleType("toga_iOS"))
    monkeypatch.setitem(sys.modules, "toga_iOS.app", toga_ios)
    from bridge.app.phone_links import install_ios  # noqa: PLC0415

    opened: list[str] = []
    delegate_class = install_ios(opened.append)
    assert toga_ios.PythonSceneDelegate is delegate_class  # what toga-iOS configures scenes with
    delegate = delegate_class.alloc().init()
    link = "https://sign.example.jp/b/" + "U" * 32
    cold = FakeConnectionOptions(
        userActivities=FakeSet([FakeUserActivity(FakeURL(link))]),
        URLContexts=FakeSet([]),
    )
    delegate.scene_willConnectToSession_options_("scene", "session", cold)
    assert FakeSceneDelegate.connected[-1] == "scene"  # toga's own work still happens
    assert opened == [link]
    delegate.scene_continueUserActivity_("scene", FakeUserActivity(FakeURL(link + "2")))
    delegate.scene_continueUserActivity_("scene", FakeUserActivity(None))
    handoff = FakeUserActivity(FakeURL("https://x/"), activityType="com.example.handoff")
    delegate.scene_continueUserActivity_("scene", handoff)
    assert opened == [link, link + "2"]
