"""The service's mails, rendered: Japanese with the English below it (or the reverse).

Each `render_*` takes what the mail says, never a secret: there is no access-code
parameter, so no mail can carry one. Names and titles are made single-line (no header
injection, no bidirectional-override tricks); messages keep their line breaks. Times are
shown in Japan time (JST, no daylight saving); a naive datetime is taken as UTC.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from webapp.i18n import Language

TEMPLATE_DIR = Path(__file__).with_name("templates")
JST = timezone(timedelta(hours=9), "JST")
WEEKDAYS_JA = "月火水木金土日"
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # not strftime: locale-free
MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
SUBJECT_TITLE_LENGTH = 60


@dataclass(frozen=True)
class MailMessage:
    """A rendered mail: subject, plain text and (optionally) HTML alternative."""

    subject: str
    text: str
    html: str | None = None


def _nl2br(value: str) -> Markup:
    return Markup("<br>\n").join(escape(line) for line in value.split("\n"))


_templates = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(enabled_extensions=("html",), default=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["nl2br"] = _nl2br


def one_line(value: str) -> str:
    """`value` without control, format or line-separator characters, spaces collapsed."""
    kept = (" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in value)
    return " ".join("".join(kept).split())


def _multi_line(value: str) -> str:
    lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(one_line(line) for line in lines).strip("\n")


def _checked_link(link: str) -> str:
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc or one_line(link) != link:
        raise ValueError(f"a mail link must be a plain http(s) URL, not {link!r}")
    return link


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def format_time_ja(moment: datetime) -> str:
    """`2025年7月1日（火）18:00（日本時間）`."""
    local = _utc(moment).astimezone(JST)
    weekday = WEEKDAYS_JA[local.weekday()]
    return f"{local.year}年{local.month}月{local.day}日（{weekday}）{local:%H:%M}（日本時間）"


def format_time_en(moment: datetime) -> str:
    """`Tue 1 July 2025, 18:00 Japan time (UTC+9)`."""
    local = _utc(moment).astimezone(JST)
    weekday, month = WEEKDAYS_EN[local.weekday()], MONTHS_EN[local.month - 1]
    return f"{weekday} {local.day} {month} {local.year}, {local:%H:%M} Japan time (UTC+9)"


def _subject(language: Language, ja: str, en: str) -> str:
    return f"{en} / {ja}" if language == "en" else f"{ja} / {en}"


def _short(title: str) -> str:
    if len(title) <= SUBJECT_TITLE_LENGTH:
        return title
    return title[: SUBJECT_TITLE_LENGTH - 1] + "…"


def _render(kind: str, subject: str, language: Language, **values: Any) -> MailMessage:
    values = {"language": language, "subject": subject, **values}
    text = _templates.get_template(f"{kind}.txt").render(values)
    text = re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+\n", "\n", text)).strip() + "\n"
    html = _templates.get_template(f"{kind}.html").render(values)
    return MailMessage(subject=subject, text=text, html=html)


def render_invitation(
    *,
    recipient_name: str,
    sender_name: str,
    document_title: str,
    message: str | None,
    link: str,
    expires_at: datetime,
    language: Language = "ja",
    card_app_link: str | None = None,
) -> MailMessage:
    """To a recipient: please review and agree, with the personal link and its expiry.

    `card_app_link` (a party who must sign with the My Number Card): the page that gets the
    app; the mail then says so and lists what to prepare.
    """
    title, sender = one_line(document_title), one_line(sender_name)
    subject = _subject(
        language,
        ja=f"【確認依頼】{_short(title)}（{sender} 様より）",
        en=f"Please review: {_short(title)} (from {sender})",
    )
    return _render(
        "invitation",
        subject,
        language,
        recipient_name=one_line(recipient_name),
        sender_name=sender,
        document_title=title,
        message=_multi_line(message or ""),
        link=_checked_link(link),
        expires_ja=format_time_ja(expires_at),
        expires_en=format_time_en(expires_at),
        card_app_link=_checked_link(card_app_link) if card_app_link else None,
    )


def render_rejection_notice(
    *,
    recipient_name: str,
    rejected_by: str,
    document_title: str,
    reason: str,
    link: str,
    rejected_at: datetime,
    language: Language = "ja",
) -> MailMessage:
    """To the sender: a recipient rejected the document, with the reason they gave."""
    title = one_line(document_title)
    subject = _subject(language, ja=f"【却下】{_short(title)}", en=f"Rejected: {_short(title)}")
    return _render(
        "rejection",
        subject,
        language,
        recipient_name=one_line(recipient_name),
        rejected_by=one_line(rejected_by),
        document_title=title,
        reason=_multi_line(reason),
        link=_checked_link(link),
        at_ja=format_time_ja(rejected_at),
        at_en=format_time_en(rejected_at),
    )


def render_forwarded_notice(
    *,
    recipient_name: str,
    forwarded_by: str,
    forwarded_to_name: str,
    forwarded_to_email: str,
    document_title: str,
    message: str | None,
    link: str,
    forwarded_at: datetime,
    language: Language = "ja",
) -> MailMessage:
    """To the sender: a recipient forwarded the document to someone else."""
    title = one_line(document_title)
    subject = _subject(language, ja=f"【転送】{_short(title)}", en=f"Forwarded: {_short(title)}")
    return _render(
        "forwarded",
        subject,
        language,
        recipient_name=one_line(recipient_name),
        forwarded_by=one_line(forwarded_by),
        forwarded_to_name=one_line(forwarded_to_name),
        forwarded_to_email=one_line(forwarded_to_email),
        document_title=title,
        message=_multi_line(message or ""),
        link=_checked_link(link),
        at_ja=format_time_ja(forwarded_at),
        at_en=format_time_en(forwarded_at),
    )


def render_completion(
    *,
    recipient_name: str,
    document_title: str,
    link: str,
    completed_at: datetime,
    attachment_name: str | None = None,
    language: Language = "ja",
    certificate_link: str | None = None,
) -> MailMessage:
    """To every party: the document is complete; the signed PDF attached and/or linked, and
    (issue 12) the link to the agreement certificate (締結証明書)."""
    title = one_line(document_title)
    subject = _subject(
        language, ja=f"【締結完了】{_short(title)}", en=f"Completed: {_short(title)}"
    )
    return _render(
        "completion",
        subject,
        language,
        recipient_name=one_line(recipient_name),
        document_title=title,
        link=_checked_link(link),
        attachment_name=one_line(attachment_name) if attachment_name else None,
        certificate_link=_checked_link(certificate_link) if certificate_link else None,
        at_ja=format_time_ja(completed_at),
        at_en=format_time_en(completed_at),
    )


def render_access_code_locked(
    *,
    recipient_name: str,
    party_name: str,
    party_email: str,
    document_title: str,
    failures: int,
    link: str,
    locked_at: datetime,
    language: Language = "ja",
) -> MailMessage:
    """To the sender (issue 10): a party's link is locked after too many wrong access codes.

    It stays locked until the sender sets a new code on the document's page; the mail
    carries no code (the sender tells the party by another way).
    """
    title = one_line(document_title)
    subject = _subject(
        language,
        ja=f"【アクセスコードのロック】{_short(title)}",
        en=f"Access code locked: {_short(title)}",
    )
    return _render(
        "access_code_locked",
        subject,
        language,
        recipient_name=one_line(recipient_name),
        party_name=one_line(party_name),
        party_email=one_line(party_email),
        document_title=title,
        failures=failures,
        link=_checked_link(link),
        at_ja=format_time_ja(locked_at),
        at_en=format_time_en(locked_at),
    )
