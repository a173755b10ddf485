"""The recipient's page shows the document as page images, pages first, answers after them.

Server side: the images are PNGs of the current revision, only for that party's session;
the attachments are listed. In Chromium at phone size: every page image has loaded and
the agree button comes after the last page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfWriter

from tests.webapp.conftest import Service
from tests.webapp.pages.conftest import Party, page_text, party
from tests.webapp.pages.live import DESKTOP, PHONE, LiveService, chromium, live
from tests.webapp.verification.flow import send_to_one_party
from webapp.web_session import RECIPIENT_COOKIE

__all__ = ["chromium", "live"]  # fixtures
PNG = b"\x89PNG\r\n\x1a\n"


def pdf_with_attachment(pages: int = 2) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    writer.add_attachment("見積書.txt", "金額 120,000円".encode())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def upload(service: Service, pdf: bytes) -> str:
    response = service.client.post(
        "/api/v1/documents", headers=service.auth, data={"title": "業務委託契約書"},
        files={"file": ("c.pdf", pdf, "application/pdf")},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def opened(service: Service) -> tuple[Party, str]:
    document_id = upload(service, pdf_with_attachment())
    send_to_one_party(service, document_id)
    person = party(service, "hanako@example.jp")
    assert person.open().status_code == 303
    return person, document_id


def test_pages_are_images_before_the_answers(opened: tuple[Party, str]) -> None:
    person, _ = opened
    page = person.client.get(person.link)
    assert page.status_code == 200
    images = re.findall(rf'src="{re.escape(person.link)}/page/(\d+)"', page.text)
    assert images == ["1", "2"]
    assert page.text.index("/page/2") < page.text.index(f'href="{person.link}/agree"')
    assert "見積書.txt" in page_text(page)
    assert "<iframe" not in page.text
    first = person.client.get(f"{person.link}/page/1")
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert first.content.startswith(PNG)
    width = int.from_bytes(first.content[16:20], "big")
    assert width == 1000
    assert person.client.get(f"{person.link}/page/1").content == first.content  # cached
    assert person.client.get(f"{person.link}/page/3").status_code == 404


def test_only_the_party_session_gets_the_images(
    opened: tuple[Party, str], service: Service
) -> None:
    person, _ = opened
    from fastapi.testclient import TestClient  # noqa: PLC0415

    stranger = TestClient(service.client.app)
    response = stranger.get(f"{person.link}/page/1", follow_redirects=False)
    assert response.status_code == 401
    assert not response.content.startswith(PNG)
    stranger.cookies.set(RECIPIENT_COOKIE, "forged-session-token-" + "x" * 30)
    assert stranger.get(f"{person.link}/page/1").status_code in (401, 403, 404)


@pytest.fixture
def phone(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="ja-JP"
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def test_phone_reads_every_page_then_finds_the_agree_button(live: LiveService, phone: Page) -> None:
    client_service = _api_sender(live)
    document_id = upload(client_service, pdf_with_attachment(3))
    send_to_one_party(client_service, document_id)
    phone.goto(live.mailed_link("hanako@example.jp"))
    phone.get_by_label("上記に同意します").check()
    phone.get_by_role("button", name="文書を開く").click()
    pages = phone.locator("img.page-image")
    expect(pages).to_have_count(3)
    for index in range(3):
        image = pages.nth(index)
        image.scroll_into_view_if_needed()
        expect(image).to_be_visible()
        phone.wait_for_function(
            "img => img.complete && img.naturalWidth === 1000", arg=image.element_handle()
        )
        box = image.bounding_box()
        assert box is not None and box["width"] <= PHONE["width"]  # fits the screen
    agree = phone.get_by_role("link", name="同意する")
    last = pages.nth(2).bounding_box()
    button = agree.bounding_box()
    assert last is not None and button is not None and button["y"] > last["y"] + last["height"]
    expect(phone.get_by_text("見積書.txt")).to_be_visible()
    phone.screenshot(path=str(live.context.settings.data_dir / "phone-pages.png"), full_page=True)
    phone.set_viewport_size(DESKTOP)  # a wide screen: the same pages, wider, answers after
    wide = pages.nth(0).bounding_box()
    assert wide is not None and PHONE["width"] < wide["width"] <= DESKTOP["width"]
    last, button = pages.nth(2).bounding_box(), agree.bounding_box()
    assert last is not None and button is not None and button["y"] > last["y"] + last["height"]


def _api_sender(live: LiveService) -> Service:
    """The live service through an HTTP client, with a sender and an API token."""
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from tests.webapp.conftest import with_sender  # noqa: PLC0415

    client = TestClient(live.app, base_url=live.url)
    return with_sender(client)
