"""The app from the PC page's button to "done", with the party's page in Chromium.

The party reads the card notice on the landing page (and in the mail), consents, gets the
session page, and its "sign with this PC's reader" button hands `mynasign-bridge:<URL>`
to the app (the dummy backend here). The page follows the app's progress and switches to
done by itself; the finished PDF's card signature names the party in `/Name`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from bridge.cards import SimulatorCardProvider
from bridge.messages import text
from tests.bridge.app.harness import AppHarness
from tests.conftest import SIGNING_PASSWORD
from tests.webapp.card_signing.test_end_to_end import PARTY, new_card, the_document
from tests.webapp.pages.live import LiveService, chromium, live
from tests.webapp.pages.test_card_browser import card_link, ja, page, to_session_page
from webapp.db.models import Document, OutgoingMail

__all__ = ["card_link", "chromium", "live", "page"]  # fixtures

MakeHarness = Callable[..., AppHarness]


def final_pdf(live: LiveService, path: Path) -> Path:
    from webapp.services import revisions  # noqa: PLC0415

    document_id, _ = the_document(live)
    with live.context.sessions() as db:
        document = db.get_one(Document, document_id)
        assert document.status.value == "completed"
        blob = revisions.current_revision(db, document).blob_name
        with revisions.decrypted_copy(live.context, document, blob) as plain:
            path.write_bytes(plain.read())
    return path


@pytest.mark.parametrize("order", [0, 1], ids=["password-first", "card-first"])
def test_the_pc_button_opens_the_app_and_the_page_switches_to_done(
    live: LiveService,
    page: Page,
    card_link: str,
    harnesses: MakeHarness,
    tmp_path: Path,
    order: int,
) -> None:
    with live.context.sessions() as db:  # the mail said it: card, password, device, the app
        mail = db.scalars(select(OutgoingMail).where(OutgoingMail.to == "saburo@example.jp")).one()
        assert "この文書はマイナンバーカードで署名します" in mail.body_text
        assert "英数字 6〜16 文字" in mail.body_text
        assert f"{live.url}/app" in mail.body_text
    page.goto(card_link)  # so does the landing page
    notice = page.locator("#card-notice")
    expect(notice).to_contain_text(ja("card_notice_title"))
    expect(notice).to_contain_text(ja("card_notice_prepare"))

    to_session_page(page, card_link)
    bridge_url = page.locator("#bridge-url").inner_text().strip()
    button = page.get_by_role("link", name=ja("card_page_pc_button"))
    expect(button).to_be_visible()
    link = button.get_attribute("href")
    assert link == f"mynasign-bridge:{bridge_url}"

    provider = SimulatorCardProvider(new_card(live, tmp_path / "card.json"))
    app = harnesses(url=link, provider_factory=lambda _reader: provider)  # as the OS opens it
    assert app.widget("url").value == bridge_url
    app.choose("order", order)
    app.press("start")
    assert app.wait("request", "error") == "request", app.text("error-text")
    assert app.text("request-signer") == PARTY
    expect(page.locator("#card-state")).to_contain_text(ja("card_page_state_claimed"))
    app.press("continue")
    assert app.wait("password") == "password"
    waiting = ja("card_page_stage_waiting_for_password")  # card first: read, then this
    expect(page.locator("#card-state")).to_contain_text(waiting)
    app.type("password", SIGNING_PASSWORD)
    app.press("password-submit")
    assert app.wait("done", "error") == "done", app.text("error-text")
    assert app.text("done-signer") == text("ja", "app_done_signer", name=PARTY)

    expect(page).to_have_url(card_link)  # the page went to "done" by itself
    expect(page.get_by_text(ja("card_page_signed_with_card"))).to_be_visible()
    expect(page.get_by_text(ja("you_agreed_completed"))).to_be_visible()  # the last signature

    reader = PdfFileReader(final_pdf(live, tmp_path / "signed.pdf").open("rb"))
    card_signatures = [
        signature
        for signature in reader.embedded_signatures
        if re.fullmatch(r"mynasign-card-\d+-.+", signature.field_name)
    ]
    names = [signature.field_name for signature in reader.embedded_signatures]
    assert len(card_signatures) == 1, names
    assert card_signatures[0].sig_object["/Name"] == PARTY  # readers show a person
