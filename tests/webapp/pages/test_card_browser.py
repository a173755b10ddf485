"""The card session page in a real browser (Debian's Chromium) against the live service.

A party who must sign with the card consents in the dialog, presses "Next" and gets the QR
code with a running countdown; the page then follows the session by itself: a newer QR
code from elsewhere, the bridge's progress (driven through the service in the live
server's process), a dropped status feed, and the signature's completion.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Browser, Page, expect

from bridge.protocol import CardErrorCode, Order, Stage
from tests.webapp.conftest import make_pdf
from tests.webapp.pages.live import DESKTOP, PHONE, LiveService, chromium, live
from webapp.card_signing import sessions as card_sessions
from webapp.db.models import CardSession, CardSessionState, RecipientStatus
from webapp.i18n import TEXTS
from webapp.services.accounts import create_api_token, sign_up

__all__ = ["chromium", "live"]  # fixtures

EVENTS = "**/card/events"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def ja(key: str, **params: object) -> str:
    japanese = TEXTS[key][0]
    return japanese.format(**params) if params else japanese


@pytest.fixture
def card_link(live: LiveService) -> str:
    """The mailed link of a party who must sign with the card (sent through the API)."""
    with live.context.sessions() as db:
        user = sign_up(db, "sender@example.jp", "kiri-sakura-7-tsuki", "送信 太郎")
        token = create_api_token(db, user, "tests").token
        db.commit()
    with httpx2.Client(
        base_url=live.url, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as api:
        uploaded = api.post(
            "/api/v1/documents", data={"title": "業務委託契約書"},
            files={"file": ("contract.pdf", make_pdf(), "application/pdf")},
        )  # fmt: skip
        document_id = uploaded.json()["id"]
        added = api.post(
            f"/api/v1/documents/{document_id}/recipients",
            json={"name": "丙 三郎", "email": "saburo@example.jp", "require_mynumber_card": True},
        )
        assert added.status_code == 201, added.text
        assert api.post(f"/api/v1/documents/{document_id}/send").status_code == 200
    return live.mailed_link("saburo@example.jp")


@pytest.fixture
def page(chromium: Browser, live: LiveService) -> Iterator[Page]:
    """A desktop browser tab, closed before the service stops (its status feed is open)."""
    context = chromium.new_context(viewport=DESKTOP, locale="ja-JP")
    try:
        yield context.new_page()
    finally:
        context.close()


def to_session_page(page: Page, link: str) -> str:
    """Open the link, consent in the dialog, "Next": the session's id, from the page."""
    page.goto(link)
    page.get_by_label("上記に同意します").check()
    page.get_by_role("button", name="文書を開く").click()
    page.get_by_role("link", name=ja("card_page_sign_button")).click()
    dialog = page.get_by_role("dialog", name=ja("card_page_consent_title"))
    expect(dialog).to_be_visible()
    dialog.get_by_label(ja("card_page_consent_document", title="業務委託契約書")).check()
    dialog.get_by_label(ja("card_page_consent_certificate")).check()
    dialog.get_by_label(ja("card_page_consent_terms")).check()
    dialog.get_by_role("button", name=ja("card_page_consent_button")).click()
    expect(page.get_by_role("heading", name=ja("card_page_requirements_title"))).to_be_visible()
    page.get_by_role("button", name=ja("card_page_next"), exact=True).click()
    expect(page).to_have_url(f"{link}/card/session")
    expect(page.get_by_role("button", name=ja("copy"), exact=True)).to_be_visible()  # card.js runs
    session_id = page.locator("#card-session").get_attribute("data-session-id")
    assert session_id
    return session_id


def test_the_qr_code_counts_down_and_a_newer_one_replaces_it(
    live: LiveService, page: Page, card_link: str, tmp_path: Path
) -> None:
    to_session_page(page, card_link)
    expect(page.get_by_role("img", name=ja("card_page_qr_label"))).to_be_visible()
    page.screenshot(path=tmp_path / "card-session-desktop.png", full_page=True)
    assert (tmp_path / "card-session-desktop.png").stat().st_size > 10_000
    countdown = page.locator("#card-countdown")
    shown = countdown.inner_text()
    expect(countdown).not_to_have_text(shown)  # it runs
    expect(page.locator("#card-state")).to_have_text(ja("card_page_state_created"))

    link_token = card_link.rsplit("/", 1)[1]  # the party's phone app, say, asks for a new QR
    with httpx2.Client(base_url=live.url, timeout=120) as api:
        opened = api.post(f"/api/v1/r/{link_token}/open", json={"accept_terms": True})
        bearer = {"Authorization": f"Bearer {opened.json()['session_token']}"}
        assert api.post(f"/api/v1/r/{link_token}/card-session", headers=bearer).status_code == 201
    expect(page.get_by_role("alert")).to_have_text(ja("card_page_replaced"))
    expect(page.get_by_role("img", name=ja("card_page_qr_label"))).to_be_hidden()
    expect(page.locator("#card-state")).to_have_text(ja("card_page_try_again"))

    page.get_by_role("button", name=ja("card_page_refresh")).click()  # a new one here
    expect(page.get_by_role("img", name=ja("card_page_qr_label"))).to_be_visible()
    expect(page.locator("#card-state")).to_have_text(ja("card_page_state_created"))


def test_the_page_follows_the_bridge_and_survives_a_dropped_feed(
    live: LiveService, page: Page, card_link: str
) -> None:
    page.route(EVENTS, lambda route: route.abort())  # the feed is down at first
    session_id = to_session_page(page, card_link)
    connection = page.locator("#card-connection")
    expect(connection).to_have_text(ja("card_page_reconnecting"))
    page.unroute(EVENTS)  # EventSource tries again by itself
    expect(connection).to_be_hidden()
    state = page.locator("#card-state")
    expect(state).to_have_text(ja("card_page_state_created"))

    context = live.context
    card_sessions.claim(context, session_id, Order.PASSWORD_FIRST)
    expect(state).to_have_text(f"{ja('card_page_state_claimed')} {ja('card_page_next_password')}")
    card_sessions.record_progress(context, session_id, Stage.VERIFYING)
    expect(state).to_have_text(ja("card_page_stage_verifying"))
    card_sessions.record_card_error(context, session_id, CardErrorCode.WRONG_PASSWORD, 4)
    expect(page.get_by_role("alert")).to_have_text(ja("card_error_wrong_password", tries_left=4))
    card_sessions.record_progress(context, session_id, Stage.SENDING)
    expect(state).to_have_text(ja("card_page_stage_sending"))

    with context.sessions() as db:  # what an accepted signature records, in short
        session = db.get_one(CardSession, session_id)
        session.state = CardSessionState.COMPLETED
        session.recipient.status = RecipientStatus.AGREED
        session.recipient.card_signer_name = "丙 三郎"
        db.commit()
        status = card_sessions.status_of(session)
        recipient_id = session.recipient_id
    context.card_events.publish(recipient_id, status)
    expect(page).to_have_url(card_link)
    expect(page.get_by_text(ja("card_page_signed_with_card"))).to_be_visible()


def test_a_phone_gets_a_button_into_the_app(
    chromium: Browser, card_link: str, tmp_path: Path
) -> None:
    context = chromium.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="ja-JP",
        user_agent=IPHONE,
    )  # fmt: skip
    try:
        page = context.new_page()
        to_session_page(page, card_link)
        button = page.get_by_role("link", name=ja("card_page_open_app"))
        expect(button).to_be_visible()
        expect(button).to_have_attribute("href", re.compile(r"/b/[A-Za-z0-9_-]{22,}$"))
        expect(page.locator("#bridge-url")).to_have_text(button.get_attribute("href") or "?")
        page.screenshot(path=tmp_path / "card-session-phone.png", full_page=True)
        assert (tmp_path / "card-session-phone.png").stat().st_size > 10_000
    finally:
        context.close()


def test_the_page_says_when_the_qr_code_has_expired(page: Page, card_link: str) -> None:
    page.clock.install()  # the page's timers and Date only: the service keeps real time
    to_session_page(page, card_link)
    expect(page.get_by_role("img", name=ja("card_page_qr_label"))).to_be_visible()
    # the page's script must have started its countdown (and its feed) before the jump
    expect(page.locator("#card-session")).to_have_attribute("data-running", "1")
    expect(page.locator("#card-state")).to_have_text(ja("card_page_state_created"))
    page.clock.fast_forward("10:01")
    expect(page.get_by_role("alert")).to_have_text(ja("card_session_expired"))
    expect(page.locator("#card-countdown")).to_have_text("00:00")
    expect(page.get_by_role("img", name=ja("card_page_qr_label"))).to_be_hidden()
    expect(page.get_by_role("button", name=ja("card_page_refresh"))).to_be_visible()
