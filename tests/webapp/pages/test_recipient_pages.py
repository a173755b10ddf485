"""Recipient pages, with no account: open, agree, reject, forward, and each link state."""

from __future__ import annotations

import datetime

from tests.webapp.conftest import Service
from tests.webapp.pages.conftest import Sender, page_text, party, sent_document
from webapp.i18n import TEXTS
from webapp.web_session import RECIPIENT_COOKIE


def test_two_parties_agree_through_the_pages(service: Service, sender: Sender) -> None:
    document_id = sent_document(
        sender, ("甲 一郎", "ichiro@example.jp", "4821"), ("乙 花子", "hanako@example.jp", "")
    )
    first = party(service, "ichiro@example.jp")
    terms = first.client.get(first.link)
    assert terms.status_code == 200
    assert TEXTS["terms_title"][0] in terms.text and 'id="access_code"' in terms.text
    assert sender.client.get(first.link).status_code == 200  # no account needed, none used

    wrong = first.open("0000")
    assert wrong.status_code == 401
    assert TEXTS["access_code_wrong"][0] in page_text(wrong)
    no_terms = first.post(f"{first.link}/open", {"access_code": "4821"})
    assert no_terms.status_code == 400
    assert TEXTS["terms_required"][0] in page_text(no_terms)
    opened = first.open("4821")
    assert opened.status_code == 303 and opened.headers["location"] == first.link
    cookie = next(c for c in opened.headers.get_list("set-cookie") if RECIPIENT_COOKIE in c)
    assert f"Path={first.link}" in cookie and "HttpOnly" in cookie

    document = first.client.get(first.link)
    assert document.status_code == 200
    assert f'src="{first.link}/page/1"' in document.text  # issue 12: the pages as images
    assert 'data-dialog="agree-dialog"' in document.text and "<dialog" in document.text
    assert document.headers["cache-control"] == "no-store"
    assert first.client.get(f"{first.link}/pdf").content.startswith(b"%PDF")
    confirm = first.client.get(f"{first.link}/agree")  # the page without JavaScript
    assert confirm.status_code == 200 and TEXTS["agree_confirm_title"][0] in confirm.text

    agreed = first.agree()
    assert agreed.status_code == 200, page_text(agreed)
    assert TEXTS["you_agreed_waiting"][0] in page_text(agreed)
    assert TEXTS["you_agreed_waiting"][0] in page_text(first.client.get(first.link))
    twice = first.agree()
    assert twice.status_code == 409
    assert TEXTS["link_used"][0] in page_text(twice)

    second = party(service, "hanako@example.jp")
    assert second.open().status_code == 303
    done = second.agree()
    assert done.status_code == 200
    assert TEXTS["agreed_done_completed"][0] in page_text(done)

    detail = page_text(sender.detail(document_id))
    assert TEXTS["status_completed"][0] in detail
    assert TEXTS["history_document_completed"][0] in detail  # issue 12: the history in words
    signed = sender.client.get(f"/documents/{document_id}/pdf")
    assert signed.status_code == 200
    assert signed.content.startswith(b"%PDF") and b"/ETSI.RFC3161" in signed.content

    # the completion mail's link opens the finished document for the party
    finished = party(service, "ichiro@example.jp")
    assert finished.open("4821").status_code == 303
    page = finished.client.get(finished.link)
    assert TEXTS["you_agreed_completed"][0] in page_text(page)
    assert TEXTS["download_signed_pdf"][0] in page_text(page)
    assert finished.client.get(f"{finished.link}/pdf").content == signed.content


def test_a_rejection_and_its_reason_reach_the_sender(service: Service, sender: Sender) -> None:
    document_id = sent_document(sender, ("甲 一郎", "ichiro@example.jp", ""))
    recipient = party(service, "ichiro@example.jp")
    recipient.open()
    empty = recipient.post(f"{recipient.link}/reject", {"reason": "  "})
    assert empty.status_code == 400
    assert TEXTS["reason_required"][0] in page_text(empty)
    response = recipient.post(f"{recipient.link}/reject", {"reason": "金額が見積と異なります。"})
    assert response.status_code == 303
    assert TEXTS["you_rejected"][0] in page_text(recipient.client.get(recipient.link))

    detail = page_text(sender.detail(document_id))
    assert TEXTS["status_rejected"][0] in detail
    assert "金額が見積と異なります。" in detail
    assert any(
        "金額が見積と異なります。" in m.body_text for m in service.mails_to("sender@example.jp")
    )


def test_forwarding_hands_the_link_on(service: Service, sender: Sender) -> None:
    document_id = sent_document(sender, ("甲 一郎", "ichiro@example.jp", "4821"), card=True)
    original = party(service, "ichiro@example.jp")
    original.open("4821")
    form = original.client.get(f"{original.link}/forward")
    assert TEXTS["card_requirement_kept"][0] in page_text(form)
    self_forward = original.post(
        f"{original.link}/forward", {"name": "甲", "email": "ichiro@example.jp"},
    )  # fmt: skip
    assert self_forward.status_code == 400
    assert TEXTS["forward_to_self"][0] in page_text(self_forward)
    response = original.post(
        f"{original.link}/forward",
        {"name": "丁 四郎", "email": "shiro@example.jp", "message": "ご確認ください"},
    )
    assert response.status_code == 200
    assert "shiro@example.jp" in page_text(response)

    gone = original.client.get(original.link)
    assert gone.status_code == 410
    assert TEXTS["link_forwarded"][0] in page_text(gone)

    successor = party(service, "shiro@example.jp")
    assert successor.open().status_code == 303  # the access code was for 甲 only
    page = page_text(successor.client.get(successor.link))
    assert TEXTS["card_signature_required"][0] in page  # the requirement carried over
    detail = page_text(sender.detail(document_id))
    assert TEXTS["party_forwarded"][0] in detail and "shiro@example.jp" in detail


def test_a_card_signer_is_told_the_card_is_required(service: Service, sender: Sender) -> None:
    sent_document(sender, ("丙 三郎", "saburo@example.jp", ""), card=True)
    recipient = party(service, "saburo@example.jp")
    recipient.open()
    page = recipient.client.get(recipient.link)
    assert TEXTS["card_signature_required"][0] in page_text(page)
    assert 'data-dialog="agree-dialog"' not in page.text
    refused = recipient.agree()
    assert refused.status_code == 409
    assert TEXTS["card_signature_required"][0] in page_text(refused)


def test_access_code_guessing_locks_the_link(service: Service, sender: Sender) -> None:
    sent_document(sender, ("甲 一郎", "ichiro@example.jp", "4821"))
    recipient = party(service, "ichiro@example.jp")
    for _ in range(service.context.settings.access_code_max_attempts):
        assert recipient.open("1111").status_code == 401
    locked = recipient.open("4821")
    assert locked.status_code == 429
    assert TEXTS["access_code_locked"][0] in page_text(locked)


def test_unknown_and_expired_links_have_clear_pages(service: Service, sender: Sender) -> None:
    sent_document(sender, ("甲 一郎", "ichiro@example.jp", ""))
    recipient = party(service, "ichiro@example.jp")
    invalid = recipient.client.get("/r/" + "A" * 43)
    assert invalid.status_code == 404
    assert TEXTS["link_invalid_title"][0] in page_text(invalid)
    assert invalid.headers["cache-control"] == "no-store"

    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=30)
    service.context.clock = lambda: later
    expired = recipient.client.get(recipient.link)
    assert expired.status_code == 410
    assert TEXTS["link_expired"][0] in page_text(expired)


def test_recipient_actions_need_the_opened_session(service: Service, sender: Sender) -> None:
    sent_document(sender, ("甲 一郎", "ichiro@example.jp", ""))
    recipient = party(service, "ichiro@example.jp")
    for path in ("/pdf", "/agree", "/reject", "/forward"):
        response = recipient.client.get(recipient.link + path)
        assert response.status_code == 401, path
        assert TEXTS["session_expired"][0] in page_text(response)
    recipient.client.cookies.set(RECIPIENT_COOKIE, "made-up", path=recipient.link)
    assert recipient.agree().status_code == 401
    page = recipient.client.get(recipient.link)
    assert TEXTS["session_expired"][0] in page_text(page) and 'id="accept_terms"' in page.text
