"""Japanese and English texts of the web service; Japanese by default, English on request."""

from __future__ import annotations

from typing import Literal

from starlette.requests import Request

Language = Literal["ja", "en"]
LANGUAGE_COOKIE = "mynasign_lang"

TEXTS: dict[str, tuple[str, str]] = {
    # general
    "app_name": ("mynasign", "mynasign"),
    "switch_language": ("English", "日本語"),
    "error_title": ("エラー", "Error"),
    "not_found": ("ページが見つかりません。", "The page was not found."),
    "csrf_failed": (
        "フォームの有効期限が切れました。ページを再読み込みしてもう一度お試しください。",
        "The form has expired. Reload the page and try again.",
    ),
    "login_required": ("ログインしてください。", "Please sign in."),
    "invalid_token": ("認証情報が無効です。", "The credentials are not valid."),
    # sender accounts
    "password_too_short": ("パスワードは10文字以上にしてください。", "Use at least 10 characters."),
    "password_too_long": ("パスワードは256文字以内にしてください。", "Use at most 256 characters."),
    "password_too_common": (
        "よく使われるパスワードは使えません。",
        "That password is too common.",
    ),
    "password_contains_email": (
        "メールアドレスを含むパスワードは使えません。",
        "The password must not contain your e-mail address.",
    ),
    "email_taken": (
        "このメールアドレスは登録済みです。",
        "An account with this e-mail address exists.",
    ),
    "login_failed": (
        "メールアドレスまたはパスワードが違います。",
        "The e-mail address or password is wrong.",
    ),
    "login_locked": (
        "ログインの失敗が続いたため、しばらくお待ちください。",
        "Too many failed sign-ins. Please wait a while.",
    ),
    "totp_required": ("確認コードを入力してください。", "Enter the verification code."),
    "totp_wrong": ("確認コードが違います。", "The verification code is wrong."),
    # documents
    "document_not_found": ("文書が見つかりません。", "The document was not found."),
    "document_not_draft": (
        "送信済みの文書は変更できません。",
        "A document that was sent cannot be changed.",
    ),
    "no_recipients": ("宛先を1人以上追加してください。", "Add at least one recipient."),
    "document_not_cancellable": (
        "この文書は取り消せません。",
        "This document can no longer be cancelled.",
    ),
    "invalid_email": (
        "メールアドレスの形式が正しくありません。",
        "The e-mail address is not valid.",
    ),
    "tsa_unavailable": (
        "タイムスタンプ局に接続できません。しばらくしてからもう一度お試しください。内容は保存されています。",
        "The timestamp service cannot be reached. Please try again later; nothing was lost.",
    ),
    # recipients
    "link_invalid": (
        "このリンクは無効です。送信者にお問い合わせください。",
        "This link is not valid. Please contact the sender.",
    ),
    "link_expired": (
        "このリンクの有効期限が切れています。送信者にお問い合わせください。",
        "This link has expired. Please contact the sender.",
    ),
    "link_cancelled": (
        "この文書は送信者により取り消されました。",
        "The sender cancelled this document.",
    ),
    "link_forwarded": (
        "この文書は別の方に転送されました。",
        "This document was forwarded to someone else.",
    ),
    "link_used": (
        "この文書への対応は完了しています。",
        "You have already responded to this document.",
    ),
    "terms_required": ("利用規約への同意が必要です。", "Please accept the terms of use."),
    "access_code_wrong": ("アクセスコードが違います。", "The access code is wrong."),
    "access_code_locked": (
        "アクセスコードの誤りが続いたため、しばらくロックされています。",
        "Too many wrong access codes: locked for a while.",
    ),
    "card_signature_required": (
        "この文書にはマイナンバーカードによる署名が必要です。",
        "This document needs a My Number Card signature.",
    ),
    "not_your_turn": (
        "前の方の対応が終わるまでお待ちください。",
        "Please wait until the previous party has responded.",
    ),
    "reason_required": ("理由を入力してください。", "Please give a reason."),
    "card_requirement_kept": (
        "マイナンバーカード署名の要件は転送先にも引き継がれます。",
        "The My Number Card requirement carries over to the new recipient.",
    ),
    "session_expired": (
        "セッションの有効期限が切れました。リンクを開き直してください。",
        "Your session has expired. Open the link again.",
    ),
}


def text(language: Language, key: str, **params: object) -> str:
    """The text for `key` in `language`, with `{name}` placeholders filled."""
    japanese, english = TEXTS[key]
    template = japanese if language == "ja" else english
    return template.format(**params) if params else template


def both(key: str, **params: object) -> str:
    """Japanese then English, for API errors and mail: one message a person understands."""
    return f"{text('ja', key, **params)} / {text('en', key, **params)}"


def request_language(request: Request) -> Language:
    """`?lang=` first, then the language cookie, then Japanese."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if candidate in ("ja", "en"):
            return "en" if candidate == "en" else "ja"
    return "ja"
