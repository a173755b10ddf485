"""Mail rendering: both languages, the link and expiry shown, nothing unsafe or secret."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from webapp.mail.messages import (
    MailMessage,
    format_time_en,
    format_time_ja,
    render_completion,
    render_forwarded_notice,
    render_invitation,
    render_rejection_notice,
)

LINK = "https://sign.example.jp/r/Zx9-token_Abc"
AT = datetime(2030, 3, 31, 15, 30, tzinfo=UTC)  # 2030-04-01 00:30 in Japan, a Monday

Renderer = Callable[..., MailMessage]
CASES: dict[str, tuple[Renderer, dict[str, Any], str, str]] = {
    # name: (renderer, arguments, a Japanese phrase, an English phrase)
    "invitation": (
        render_invitation,
        {
            "recipient_name": "山田 太郎",
            "sender_name": "株式会社サンプル 佐藤",
            "document_title": "業務委託契約書",
            "message": "ご確認のほど\nよろしくお願いいたします。",
            "expires_at": AT,
        },
        "文書の確認と同意のご依頼",
        "has sent you a document to review and agree to",
    ),
    "rejection": (
        render_rejection_notice,
        {
            "recipient_name": "佐藤 花子",
            "rejected_by": "山田 太郎",
            "document_title": "業務委託契約書",
            "reason": "金額が違います。",
            "rejected_at": AT,
        },
        "却下されました",
        "rejected it",
    ),
    "forwarded": (
        render_forwarded_notice,
        {
            "recipient_name": "佐藤 花子",
            "forwarded_by": "山田 太郎",
            "forwarded_to_name": "鈴木 一郎",
            "forwarded_to_email": "ichiro@example.jp",
            "document_title": "業務委託契約書",
            "message": "担当を引き継ぎます。",
            "forwarded_at": AT,
        },
        "転送されました",
        "forwarded the document",
    ),
    "completion": (
        render_completion,
        {"recipient_name": "山田 太郎", "document_title": "業務委託契約書", "completed_at": AT},
        "締結が完了しました",
        "the following document is complete",
    ),
}


def render(name: str, language: str = "ja", **changes: Any) -> MailMessage:
    renderer, arguments, _, _ = CASES[name]
    return renderer(**({"link": LINK, "language": language} | arguments | changes))


@pytest.mark.parametrize("name", CASES)
def test_both_languages_link_and_time(name: str) -> None:
    _, _, japanese, english = CASES[name]
    message = render(name)
    assert message.html is not None
    for body in (message.text, message.html):
        assert japanese in body and english in body
        assert LINK in body
        assert "2030年4月1日（月）00:30（日本時間）" in body
        assert "Mon 1 April 2030, 00:30 Japan time (UTC+9)" in body
    assert f'href="{LINK}"' in message.html
    assert " / " in message.subject and "業務委託契約書" in message.subject
    assert "\n" not in message.subject


@pytest.mark.parametrize("name", CASES)
def test_japanese_first_unless_english_is_asked_for(name: str) -> None:
    _, _, japanese, english = CASES[name]
    for language, first, second in (("ja", japanese, english), ("en", english, japanese)):
        message = render(name, language)
        assert message.html is not None
        for body in (message.text, message.html):
            assert body.index(first) < body.index(second)
        assert f'<html lang="{language}">' in message.html


@pytest.mark.parametrize("name", CASES)
def test_no_access_code_can_reach_a_mail(name: str) -> None:
    renderer = CASES[name][0]
    parameters = inspect.signature(renderer).parameters
    assert not [p for p in parameters if "code" in p or "secret" in p or "token" in p]


def test_invitation_says_the_code_comes_another_way() -> None:
    message = render("invitation")
    assert "アクセスコードがメールに記載されることはありません" in message.text
    assert "it is never\n  written in a mail" in message.text


def test_html_is_escaped_and_text_is_not() -> None:
    message = render(
        "invitation",
        document_title="<script>alert(1)</script>",
        message='<a href="https://evil.example">click</a>\nline two',
    )
    assert message.html is not None
    assert "<script>" not in message.html and "&lt;script&gt;" in message.html
    assert 'href="https://evil.example"' not in message.html
    assert "&lt;a href=" in message.html
    assert "<script>alert(1)</script>" in message.text
    assert "line two" in message.text


def test_names_and_titles_are_made_single_line() -> None:
    message = render(
        "invitation",
        document_title="契約書\r\nBcc: victim@example.jp",
        sender_name="佐藤\u202e花子",
    )
    assert "\r" not in message.subject and "\n" not in message.subject
    assert "契約書 Bcc: victim@example.jp" in message.subject
    assert "\u202e" not in message.subject and "\u202e" not in message.text


def test_long_title_is_shortened_in_the_subject_only() -> None:
    title = "長" * 100
    message = render("completion", document_title=title)
    assert "長" * 59 + "…" in message.subject and "長" * 60 not in message.subject
    assert title in message.text


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "ftp://example.jp/x", "https://ok.example/\n<x>", "/r/abc"]
)
def test_only_plain_http_links(link: str) -> None:
    with pytest.raises(ValueError, match="link"):
        render("invitation", link=link)


def test_optional_message_left_out() -> None:
    message = render("invitation", message=None)
    assert "からのメッセージ" not in message.text and "Message from" not in message.text


def test_completion_mentions_the_attachment_only_when_there_is_one() -> None:
    attached = render("completion", attachment_name="契約書_署名済み.pdf")
    linked = render("completion")
    assert "契約書_署名済み.pdf" in attached.text
    assert "attached" in attached.text and "添付" in attached.text
    assert "attached" not in linked.text and "添付" not in linked.text


def test_naive_time_is_utc() -> None:
    naive = datetime(2030, 3, 31, 15, 30)
    assert format_time_ja(naive) == format_time_ja(AT)
    assert format_time_en(naive) == format_time_en(AT)
