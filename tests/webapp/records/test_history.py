"""The sender's history in words: who did what, to the second, in the viewer's language."""

from __future__ import annotations

import html
import re

from tests.webapp.conftest import Service
from tests.webapp.pages.conftest import Sender, page_text
from tests.webapp.test_api_flow import add_recipient, open_link, upload

SECONDS = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def _finished_with_a_wrong_code(service: Service) -> str:
    document_id = upload(service)
    add_recipient(
        service, document_id, name="甲 一郎", email="ichiro@example.jp", access_code="4821"
    )
    service.client.post(f"/api/v1/documents/{document_id}/send", headers=service.auth)
    token = service.link_token("ichiro@example.jp")
    wrong = service.client.post(
        f"/api/v1/r/{token}/open", json={"accept_terms": True, "access_code": "0000"}
    )
    assert wrong.status_code == 401
    session = open_link(service, token, "4821")
    agreed = service.client.post(
        f"/api/v1/r/{token}/agree", headers={"Authorization": f"Bearer {session}"}
    )
    assert agreed.status_code == 200, agreed.text
    return document_id


def _history(page: str) -> str:
    return html.unescape(page.split('id="history-heading"', 1)[1])


def test_the_history_says_who_did_what_in_english_and_japanese(
    service: Service, sender: Sender
) -> None:
    document_id = _finished_with_a_wrong_code(service)
    english = sender.client.get(f"/documents/{document_id}?lang=en")
    assert english.status_code == 200
    words = page_text(english)
    history = " ".join(_history(english.text).split())
    for sentence in (
        "送信 太郎 uploaded the document (pages: 1)",
        "送信 太郎 added 甲 一郎 <ichiro@example.jp> as a party",
        "送信 太郎 sent the document",
        "The request was mailed to 甲 一郎",
        "甲 一郎 entered a wrong access code",
        "甲 一郎 opened the document",
        "甲 一郎 agreed (sealed, revision 3)",
        "Every party agreed: the document is complete",
        "The agreement certificate (ID ",
    ):
        assert sentence in history, sentence
    assert "IP address testclient" in words
    for raw in ("recipient.opened", "access_code_failed", "wrong_password", "document.sent"):
        assert raw not in english.text, raw
    times = SECONDS.findall(_history(english.text))
    assert len(times) >= 9  # every line to the second (Japan time)

    japanese = sender.client.get(f"/documents/{document_id}?lang=ja")
    history = " ".join(_history(japanese.text).split())
    for sentence in (
        "送信 太郎 が文書をアップロードしました（1ページ）",
        "甲 一郎 がアクセスコードを誤って入力しました",
        "甲 一郎 が文書を開きました",
        "甲 一郎 が同意しました（電子印を付与、第3版）",
        "すべての当事者が同意し、締結が完了しました",
        "締結証明書（ID ",
    ):
        assert sentence in history, sentence
    # viewing the page is itself on record, said in words the next time
    again = " ".join(_history(sender.client.get(f"/documents/{document_id}?lang=en").text).split())
    assert "送信 太郎 viewed the document's page" in again
