"""Sender document pages: upload refusals, recipients, send, detail, list, cancel, PDF."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient

from tests.webapp.conftest import Service, make_pdf
from tests.webapp.pages.conftest import Sender, page_text, party, sent_document
from webapp.i18n import TEXTS
from webapp.pdf import PdfRejected, inspect_pdf
from webapp.services.accounts import sign_up


def refusal(data: bytes) -> PdfRejected:
    """What the PDF layer says about these bytes (the page must show the same words)."""
    with pytest.raises(PdfRejected) as caught:
        inspect_pdf(io.BytesIO(data), max_bytes=10**7, max_pages=100)
    return caught.value


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage", b"not a pdf at all", make_pdf()[:200]],
    ids=["malformed", "not-pdf", "truncated"],
)
def test_an_unusable_pdf_is_refused_with_the_pdf_error(sender: Sender, data: bytes) -> None:
    expected = refusal(data)
    response = sender.post(
        "/documents", {"title": "壊れた契約書", "counterparty": "株式会社テスト"},
        files={"file": ("broken.pdf", data, "application/pdf")},
    )  # fmt: skip
    assert response.status_code == 400
    text = page_text(response)
    assert expected.message_ja in text
    assert 'value="壊れた契約書"' in response.text and 'value="株式会社テスト"' in response.text
    assert "/documents/" not in response.headers.get("location", "")


def test_upload_form_errors_in_english_too(sender: Sender) -> None:
    sender.client.get("/documents/new?lang=en")
    response = sender.post(
        "/documents", {"title": "Contract", "amount": "twelve"},
        files={"file": ("c.pdf", make_pdf(), "application/pdf")},
    )  # fmt: skip
    assert response.status_code == 400
    assert TEXTS["amount_invalid"][1] in page_text(response)
    missing = sender.post("/documents", {"title": "Contract"})
    assert missing.status_code == 400
    assert TEXTS["file_required"][1] in page_text(missing)


def test_draft_detail_list_and_search(sender: Sender) -> None:
    first = sender.upload(
        "売買契約書",
        counterparty="株式会社みなと",
        amount="1,250,000",
        transaction_date="2025-07-01",
    )
    sender.upload("秘密保持契約書", counterparty="合同会社やま")
    detail = page_text(sender.detail(first))
    assert "売買契約書" in detail and "株式会社みなと" in detail
    assert "¥1,250,000" in detail and "2025-07-01" in detail
    assert TEXTS["status_draft"][0] in detail
    assert TEXTS["event_document_uploaded"][0] in detail

    listing = sender.client.get("/documents", params={"q": "みなと"})
    assert "売買契約書" in listing.text and "秘密保持契約書" not in listing.text
    drafts = sender.client.get("/documents", params={"status": "sent"})
    assert "売買契約書" not in drafts.text and TEXTS["documents_none_found"][0] in drafts.text


def test_recipient_form_errors_are_shown_on_the_detail_page(sender: Sender) -> None:
    document_id = sender.upload()
    response = sender.post(
        f"/documents/{document_id}/recipients", {"name": "甲 一郎", "email": "not-an-address"}
    )
    assert response.status_code == 400
    assert TEXTS["invalid_email"][0] in page_text(response)
    assert 'value="甲 一郎"' in response.text
    nobody = sender.post(f"/documents/{document_id}/send")
    assert nobody.status_code == 409
    assert TEXTS["no_recipients"][0] in page_text(nobody)


def test_sent_document_shows_recipients_and_history(service: Service, sender: Sender) -> None:
    document_id = sent_document(
        sender, ("甲 一郎", "ichiro@example.jp", "4821"), ("乙 花子", "hanako@example.jp", "")
    )
    text = page_text(sender.detail(document_id))
    assert TEXTS["status_sent"][0] in text
    assert TEXTS["party_notified"][0] in text and TEXTS["party_waiting"][0] in text
    assert TEXTS["has_access_code"][0] in text
    # issue 12: the history in words (who did what): tests/webapp/records/test_history.py
    assert "送信 太郎 が文書を送信しました" in text
    assert "甲 一郎 <ichiro@example.jp> に依頼メールを送りました" in text
    assert "4821" not in text  # the access code is never shown again
    assert service.mails_to("hanako@example.jp") == []


def test_cancel_stops_the_links(service: Service, sender: Sender) -> None:
    document_id = sent_document(sender, ("甲 一郎", "ichiro@example.jp", ""))
    recipient = party(service, "ichiro@example.jp")
    confirm = sender.client.get(f"/documents/{document_id}/cancel")
    assert confirm.status_code == 200 and TEXTS["cancel_confirm_title"][0] in confirm.text
    response = sender.post(f"/documents/{document_id}/cancel")
    assert response.status_code == 303
    assert TEXTS["status_cancelled"][0] in page_text(sender.detail(document_id))
    gone = recipient.client.get(recipient.link)
    assert gone.status_code == 410
    assert TEXTS["link_cancelled"][0] in page_text(gone)
    again = sender.post(f"/documents/{document_id}/cancel")
    assert again.status_code == 409
    assert TEXTS["document_not_cancellable"][0] in page_text(again)


def test_another_senders_document_is_not_found(service: Service, sender: Sender) -> None:
    document_id = sender.upload()
    with service.context.sessions() as db:
        sign_up(db, "other@example.jp", "umi-hoshi-4-kaze", "他社 次郎")
        db.commit()
    other = Sender(TestClient(service.client.app))
    other.login("other@example.jp", "umi-hoshi-4-kaze")
    for path in (f"/documents/{document_id}", f"/documents/{document_id}/pdf"):
        response = other.client.get(path)
        assert response.status_code == 404, path
        assert TEXTS["document_not_found"][0] in page_text(response)
    for path in (f"/documents/{document_id}/cancel", f"/documents/{document_id}/send"):
        assert other.post(path).status_code == 404, path
    added = other.post(
        f"/documents/{document_id}/recipients", {"name": "x", "email": "x@example.jp"}
    )
    assert added.status_code == 404
    assert TEXTS["status_draft"][0] in page_text(sender.detail(document_id))  # untouched


def test_the_draft_pdf_downloads(sender: Sender) -> None:
    pdf = make_pdf(pages=2)
    document_id = sender.upload(pdf=pdf)
    response = sender.client.get(f"/documents/{document_id}/pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    assert response.content == pdf


def test_a_sender_who_signs_with_the_card_is_taken_to_the_card_flow_first(
    service: Service, sender: Sender
) -> None:
    document_id = sender.upload()
    sender.add_recipient(document_id, "乙 花子", "hanako@example.jp")
    draft = page_text(sender.detail(document_id))
    assert TEXTS["sender_signs_button"][0] in draft
    assert sender.post(f"/documents/{document_id}/sender-signature").status_code == 303
    assert TEXTS["sender_party_tag"][0] in page_text(sender.detail(document_id))
    response = sender.post(f"/documents/{document_id}/send")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/r/")  # the sender's own card flow
    assert service.mails_to("hanako@example.jp") == []  # told only after the sender signed
    detail = page_text(sender.detail(document_id))
    assert TEXTS["sender_sign_now_button"][0] in detail
    again = sender.post(f"/documents/{document_id}/sign")
    assert again.status_code == 303 and again.headers["location"].startswith("/r/")
    assert again.headers["location"] != response.headers["location"]  # a fresh link
