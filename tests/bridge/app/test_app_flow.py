"""The companion app's whole flow on Toga's dummy backend, against a real service and card.

The service is `mynasign dev` under uvicorn on loopback; the card is the simulated card of
the party (issued by the service's development PKI) in this process. Each test is what a
person does on the app's screens, and what the service then records.
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.cards import CardHandle, JpkiCardHandle, SimulatorCardProvider
from bridge.channel import Timeouts
from bridge.core import SessionOptions
from bridge.messages import text
from card.connection import CallableConnection
from tests.bridge.app.conftest import PARTY, SENDER, TITLE, StartParty
from tests.bridge.app.harness import AppHarness
from tests.bridge.app.proxy import CuttableProxy
from tests.bridge.fakes import assert_no_password
from tests.conftest import SIGNING_PASSWORD
from tests.webapp.pages.live import LiveService
from webapp.db.models import CardSession

MakeHarness = Callable[..., AppHarness]
FAST = Timeouts(open=10.0, reply=30.0, result=120.0, backoff_first=0.05, backoff_max=0.5)
BIN = Path(sys.executable).parent


def ja(key: str, **params: object) -> str:
    return text("ja", key, **params)


def sim(state: Path, **kwargs: bool) -> Callable[[str | None], SimulatorCardProvider]:
    provider = SimulatorCardProvider(state, **kwargs)
    return lambda _reader: provider


def start(harness: AppHarness, url: str, *, order: int = 0) -> None:
    """Paste the URL, choose the order (0: password first, 1: card first), press Start."""
    harness.type("url", url)
    harness.choose("order", order)
    harness.press("start")


def to_password(harness: AppHarness) -> None:
    """From the request screen: continue, and wait for the password screen."""
    assert harness.wait("request", "error") == "request", harness.text("error-text")
    harness.press("continue")
    assert harness.wait("password", "error") == "password", harness.text("error-text")


def type_password(harness: AppHarness, password: str) -> None:
    field = harness.widget("password")
    harness.type("password", password)
    assert harness.widget("password-submit").enabled
    harness.press("password-submit")
    assert harness.call(lambda _app: field.value) == ""  # the field forgot it at once


def no_leak(caplog: pytest.LogCaptureFixture, *passwords: str) -> None:
    logged = [record.getMessage() for record in caplog.records]
    logged += [record.exc_text or "" for record in caplog.records]
    assert_no_password(logged, passwords)


@pytest.mark.parametrize("order", [0, 1], ids=["password-first", "card-first"])
def test_the_app_shows_the_request_and_signs(
    service: LiveService,
    start_party: StartParty,
    card_file: Callable[..., Path],
    harnesses: MakeHarness,
    caplog: pytest.LogCaptureFixture,
    order: int,
) -> None:
    caplog.set_level(1)
    party = start_party()
    app = harnesses(provider_factory=sim(card_file()))
    start(app, party.bridge_url, order=order)
    assert app.wait("request", "error") == "request"
    assert app.text("request-title") == TITLE
    assert app.text("request-sender") == SENDER
    assert app.text("request-signer") == PARTY
    left = app.text("time-left")
    assert re.fullmatch(r"残り時間 (09:[0-5]\d|10:00)", left), left
    app.settle(1.2)
    assert app.text("time-left") != left  # it counts down
    app.press("continue")
    if order == 1:  # card first: the card is read, then the password asked while it stays
        assert app.wait("password", "card") in ("password", "card")
    assert app.wait("password") == "password"
    assert app.text("password-tries") == (
        "" if order == 0 else ja("app_password_tries", tries_left=5)
    )
    type_password(app, SIGNING_PASSWORD.lower())  # normalized by the core, as the CLI does
    assert app.wait("done", "error") == "done", app.text("error-text")
    assert app.text("done-signer") == ja("app_done_signer", name=PARTY)
    assert party.status(service)["state"] == "completed"
    no_leak(caplog, SIGNING_PASSWORD)


def test_the_password_rules_are_checked_as_typed(
    start_party: StartParty, card_file: Callable[..., Path], harnesses: MakeHarness
) -> None:
    party = start_party()
    app = harnesses(provider_factory=sim(card_file()))
    start(app, party.bridge_url)
    to_password(app)
    cases = [
        ("", "app_password_rule", {}),
        ("TES", "app_password_too_short", {"missing": 3}),
        ("TEST-1", "app_password_bad_character", {}),
        ("A" * 17, "app_password_too_long", {}),
        ("ｔｅｓｔ１２３４", "app_password_ok", {}),  # full-width from a Japanese IME folds
    ]
    for typed, key, params in cases:
        app.type("password", typed)
        assert app.text("password-rule") == ja(key, **params), typed
        assert app.widget("password-submit").enabled is (key == "app_password_ok"), typed
    app.press("cancel")
    assert app.wait("error") == "error"
    assert app.text("error-text") == ja("user_cancelled")


def test_a_wrong_password_shows_the_tries_left_and_a_right_one_signs(
    service: LiveService,
    start_party: StartParty,
    card_file: Callable[..., Path],
    harnesses: MakeHarness,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(1)
    party = start_party()
    app = harnesses(provider_factory=sim(card_file()))
    start(app, party.bridge_url)
    to_password(app)
    type_password(app, "WRONG999")
    app.wait("password", "error")
    assert app.screens[-1] == "password"
    assert app.text("problem") == ja("card_wrong_password", tries_left=4)
    assert app.text("password-tries") == ja("app_password_tries", tries_left=4)
    type_password(app, SIGNING_PASSWORD)
    assert app.wait("done", "error") == "done", app.text("error-text")
    no_leak(caplog, SIGNING_PASSWORD, "WRONG999")


@pytest.mark.parametrize("go", [True, False], ids=["spent", "refused"])
def test_the_last_try_is_confirmed_first(
    service: LiveService,
    start_party: StartParty,
    card_file: Callable[..., Path],
    harnesses: MakeHarness,
    go: bool,
) -> None:
    party = start_party()
    app = harnesses(provider_factory=sim(card_file(signing_tries_left=1)))
    start(app, party.bridge_url, order=1)
    app.wait("request")
    app.press("continue")
    assert app.wait("last_try", "error") == "last_try"
    if not go:
        app.press("last-try-stop")
        assert app.wait("error") == "error"
        assert app.text("error-text") == ja("last_try_refused")
        return
    app.press("last-try-go")
    assert app.wait("password") == "password"
    type_password(app, SIGNING_PASSWORD)
    assert app.wait("done", "error") == "done", app.text("error-text")


def test_a_locked_card_is_explained(
    start_party: StartParty, card_file: Callable[..., Path], harnesses: MakeHarness
) -> None:
    party = start_party()
    app = harnesses(provider_factory=sim(card_file(signing_tries_left=0)))
    start(app, party.bridge_url, order=1)
    app.wait("request")
    app.press("continue")
    assert app.wait("error") == "error"
    assert app.text("error-text") == ja("card_locked")


def test_a_card_taken_away_is_asked_for_again(
    start_party: StartParty, card_file: Callable[..., Path], harnesses: MakeHarness
) -> None:
    party = start_party()
    provider = SimulatorCardProvider(card_file())
    app = harnesses(provider_factory=lambda _reader: provider)
    start(app, party.bridge_url)
    to_password(app)
    provider.card.arm_removal(3)  # taken away in the middle of the burst
    type_password(app, SIGNING_PASSWORD)
    assert app.wait("card", "error") == "card"
    app.settle()
    assert app.text("problem") == ja("card_removed")
    provider.card.reinsert()  # put back
    assert app.wait("done", "error") == "done", app.text("error-text")


class BlankCardProvider:
    """A contactless card without the JPKI application (a transit card, say)."""

    def wait_for_card(self, timeout: float) -> None:
        return None

    def open(self) -> CardHandle:
        return JpkiCardHandle(CallableConnection(lambda _apdu: bytes.fromhex("6A82")))


def test_a_card_that_is_not_a_my_number_card_is_named(
    start_party: StartParty, harnesses: MakeHarness
) -> None:
    party = start_party()
    app = harnesses(provider_factory=lambda _reader: BlankCardProvider())
    start(app, party.bridge_url, order=1)
    app.wait("request")
    app.press("continue")
    assert app.wait("error") == "error"
    assert app.text("error-text") == ja("card_not_jpki")


def test_an_expired_session_says_so(
    service: LiveService,
    start_party: StartParty,
    card_file: Callable[..., Path],
    harnesses: MakeHarness,
) -> None:
    party = start_party()
    with service.context.sessions() as db:  # the party waited too long: 3 s left
        session = db.get_one(CardSession, party.session_id)
        session.expires_at = service.context.now() + datetime.timedelta(seconds=3)
        db.commit()
    app = harnesses(provider_factory=sim(card_file()))
    start(app, party.bridge_url)
    assert app.wait("request", "error") == "request"  # and the person does not go on
    assert app.wait("error") == "error"
    assert app.text("error-text") == ja("expired")


def test_a_revoked_card_is_rejected_by_the_service(
    service: LiveService, start_party: StartParty, harnesses: MakeHarness, tmp_path: Path
) -> None:
    party = start_party()
    pki = service.context.settings.data_dir / "pki"
    state = tmp_path / "revoked.json"  # a card of its own: revoking it must not touch others
    subprocess.run(
        [str(BIN / "jpki-sim"), "card", "new", "--pki", str(pki), "--password", SIGNING_PASSWORD,
         "--name", PARTY, "--out", str(state)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    subprocess.run(
        [str(BIN / "jpki-sim"), "card", "revoke", "--pki", str(pki), str(state)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    app = harnesses(provider_factory=sim(state))
    start(app, party.bridge_url)
    to_password(app)
    type_password(app, SIGNING_PASSWORD)
    assert app.wait("done", "error") == "error"
    shown = app.text("error-text")
    assert shown.startswith(ja("rejected", reason="", detail="").split(":")[0]), shown
    assert "revoked" in shown
    assert party.status(service)["state"] != "completed"


def test_a_dropped_connection_is_resumed(
    service: LiveService,
    start_party: StartParty,
    card_file: Callable[..., Path],
    harnesses: MakeHarness,
) -> None:
    party = start_party()
    with CuttableProxy(service.url) as proxy:
        app = harnesses(provider_factory=sim(card_file()), options=SessionOptions(timeouts=FAST))
        start(app, proxy.rewrite(party.bridge_url))
        assert app.wait("request", "error") == "request"
        proxy.cut()  # the phone's network drops while the person reads
        app.press("continue")
        assert app.wait("password", "error") == "password"
        type_password(app, SIGNING_PASSWORD)
        assert app.wait("done", "error") == "done", app.text("error-text")
        assert proxy.connections >= 2
        assert app.call(lambda application: application.runner.reconnects) >= 1  # type: ignore[union-attr]
    assert party.status(service)["state"] == "completed"


def test_the_start_screen_refuses_a_wrong_url_and_unwraps_the_pc_button_link(
    harnesses: MakeHarness,
) -> None:
    app = harnesses(provider_factory=lambda _reader: BlankCardProvider())
    app.press("start")
    assert app.text("start-error") == ja("app_url_missing")
    app.type("url", "https://example.jp/not-a-bridge-url")
    app.press("start")
    assert app.text("start-error") == ja("url_path")
    app.type("url", "http://example.jp/b/" + "A" * 30)
    app.press("start")
    assert app.text("start-error") == ja("url_insecure")
    assert app.screens == [] and app.call(lambda application: application.screen) == "start"

    token = "B" * 30
    opened = harnesses(url=f"mynasign-bridge:https://example.jp/b/{token}")
    assert opened.widget("url").value == f"https://example.jp/b/{token}"


def test_the_app_speaks_english_too(harnesses: MakeHarness) -> None:
    app = harnesses(provider_factory=lambda _reader: BlankCardProvider())
    app.press("language")
    app.press("start")
    assert app.text("start-error") == text("en", "app_url_missing")
    english = harnesses(lang="en")
    english.press("start")
    assert english.text("start-error") == text("en", "app_url_missing")


def test_jpki_bridge_app_starts_the_app_with_the_link(card_file: Callable[..., Path]) -> None:
    """`jpki-bridge app URL` as the desktop runs it for the PC page's button."""
    link = "mynasign-bridge:https://sign.example.jp/b/" + "C" * 30
    done = subprocess.run(
        [str(BIN / "jpki-bridge"), "app", link, "--sim", str(card_file()), "--lang", "en"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "TOGA_BACKEND": "toga_dummy"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Dummy backend" in done.stdout  # the app was built and its main loop entered
