"""The flow in a real browser (Debian's Chromium): send, open, agree, reject, forward.

The sender uploads and sends; the recipient opens the mailed link with its access code,
reads and agrees through the confirm dialog; the sender downloads the finished PDF. Then a
rejection, and a forward agreed without JavaScript. Screenshots of both sides, on a phone
and a desktop, land in the test's tmp dir.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, FilePayload, Page, expect

from tests.webapp.conftest import make_pdf
from tests.webapp.pages.live import DESKTOP, PHONE, LiveService, chromium, live

__all__ = ["chromium", "live"]  # fixtures

PASSWORD = "kiri-sakura-7-tsuki"
DOCUMENT_URL = re.compile(r"/documents/[A-Z2-7]{26}$")


@pytest.fixture
def sender_page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport=DESKTOP, locale="ja-JP")
    try:
        yield context.new_page()
    finally:
        context.close()


def phone_context(chromium: Browser, *, javascript: bool = True) -> BrowserContext:
    return chromium.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="ja-JP",
        java_script_enabled=javascript,
    )  # fmt: skip


def sign_up_and_send(page: Page, live: LiveService, recipients: list[tuple[str, str, str]]) -> str:
    """Sign up, upload a contract, add the recipients (name, email, code), send; the URL."""
    page.goto(f"{live.url}/signup")
    page.get_by_label("お名前（会社名）").fill("送信 太郎")
    page.get_by_label("メールアドレス").fill("sender@example.jp")
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="登録する").click()
    expect(page).to_have_url(f"{live.url}/documents")

    page.get_by_role("link", name="新しい文書").first.click()
    page.get_by_label("PDFファイル").set_input_files(
        files=FilePayload(name="contract.pdf", mimeType="application/pdf", buffer=make_pdf(2))
    )
    page.get_by_label("件名").fill("業務委託契約書")
    page.get_by_label("メッセージ").fill("ご確認をお願いします。")
    page.get_by_label("取引先").fill("株式会社テスト")
    page.get_by_label("金額（円）").fill("120000")
    page.get_by_label("取引日").fill("2025-07-01")
    page.get_by_role("button", name="アップロード").click()
    expect(page).to_have_url(DOCUMENT_URL)

    for name, email, code in recipients:
        page.get_by_label("お名前").fill(name)
        page.get_by_label("メールアドレス").fill(email)
        page.get_by_label("アクセスコード").fill(code)
        page.get_by_role("button", name="宛先を追加").click()
        expect(page.locator(".party__name", has_text=name)).to_be_visible()
    page.get_by_role("button", name="送信する").click()
    expect(page.locator(".page-head .badge")).to_have_text("送信済み")
    return page.url


def open_link(page: Page, link: str, code: str = "") -> None:
    page.goto(link)
    page.get_by_label("上記に同意します").check()
    if code:
        page.get_by_label("アクセスコード").fill(code)
    page.get_by_role("button", name="文書を開く").click()
    expect(page.get_by_role("heading", name="ご対応")).to_be_visible()


def test_send_open_with_code_agree_in_the_dialog_and_download(
    live: LiveService, chromium: Browser, sender_page: Page, tmp_path: Path
) -> None:
    document_url = sign_up_and_send(sender_page, live, [("甲 一郎", "ichiro@example.jp", "4821")])

    recipient = phone_context(chromium)
    page = recipient.new_page()
    link = live.mailed_link("ichiro@example.jp")
    page.goto(link)
    page.get_by_label("上記に同意します").check()
    page.get_by_label("アクセスコード").fill("0000")
    page.get_by_role("button", name="文書を開く").click()
    expect(page.get_by_role("alert")).to_have_text("アクセスコードが違います。")
    open_link(page, link, "4821")
    # issue 12: the pages are images (the PDF frame stayed blank on phones)
    expect(page.locator("img.page-image").first).to_have_attribute("src", re.compile(r"/page/1$"))
    page.screenshot(path=tmp_path / "recipient-phone.png", full_page=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=tmp_path / "recipient-desktop.png")
    page.set_viewport_size(PHONE)

    page.get_by_role("link", name="同意する").click()
    dialog = page.get_by_role("dialog", name="この文書に同意しますか？")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="戻る").click()  # changing one's mind closes it
    expect(dialog).to_be_hidden()
    page.get_by_role("link", name="同意する").click()
    dialog.get_by_role("button", name="同意して署名する").click()
    expect(page.get_by_role("heading", name="同意しました")).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("締結が完了しました")
    recipient.close()

    sender_page.goto(document_url)
    expect(sender_page.locator(".page-head .badge")).to_have_text("締結済み")
    sender_page.screenshot(path=tmp_path / "sender-desktop.png", full_page=True)
    sender_page.set_viewport_size(PHONE)
    sender_page.screenshot(path=tmp_path / "sender-phone.png", full_page=True)
    with sender_page.expect_download() as download:
        sender_page.get_by_role("link", name="署名済みPDFをダウンロード").click()
    signed = Path(download.value.path()).read_bytes()
    assert signed.startswith(b"%PDF") and b"/ETSI.RFC3161" in signed
    for name in ("recipient-phone", "recipient-desktop", "sender-desktop", "sender-phone"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000, name


def test_reject_with_a_reason(live: LiveService, chromium: Browser, sender_page: Page) -> None:
    document_url = sign_up_and_send(sender_page, live, [("乙 花子", "hanako@example.jp", "")])
    recipient = phone_context(chromium)
    page = recipient.new_page()
    open_link(page, live.mailed_link("hanako@example.jp"))
    page.get_by_role("link", name="却下する").click()
    page.get_by_label("却下の理由").fill("支払条件が合意内容と異なります。")
    page.get_by_role("button", name="却下する").click()
    expect(page.get_by_role("status").first).to_have_text(
        "この文書を却下しました。送信者にお知らせしています。"
    )
    recipient.close()

    sender_page.goto(document_url)
    expect(sender_page.locator(".page-head .badge")).to_have_text("却下")
    expect(sender_page.get_by_text("支払条件が合意内容と異なります。").first).to_be_visible()


def test_forward_then_agree_without_javascript(
    live: LiveService, chromium: Browser, sender_page: Page
) -> None:
    document_url = sign_up_and_send(sender_page, live, [("甲 一郎", "ichiro@example.jp", "")])
    original_link = live.mailed_link("ichiro@example.jp")
    original = phone_context(chromium)
    page = original.new_page()
    open_link(page, original_link)
    page.get_by_role("link", name="転送する").click()
    page.get_by_label("転送先のお名前").fill("丁 四郎")
    page.get_by_label("メールアドレス").fill("shiro@example.jp")
    page.get_by_label("メッセージ").fill("ご担当をお願いします。")
    page.get_by_role("button", name="転送する").click()
    expect(page.get_by_role("heading", name="転送しました")).to_be_visible()
    page.goto(original_link)
    expect(page.get_by_role("heading", name="転送済みです")).to_be_visible()
    original.close()

    successor = phone_context(chromium, javascript=False)
    page = successor.new_page()
    open_link(page, live.mailed_link("shiro@example.jp"))
    page.get_by_role("link", name="同意する").click()  # no dialog: the confirmation page
    expect(page.get_by_role("heading", name="この文書に同意しますか？")).to_be_visible()
    page.get_by_role("button", name="同意して署名する").click()
    expect(page.get_by_role("heading", name="同意しました")).to_be_visible()
    successor.close()

    sender_page.goto(document_url)
    expect(sender_page.locator(".page-head .badge")).to_have_text("締結済み")
    expect(sender_page.get_by_text("転送済み").first).to_be_visible()
