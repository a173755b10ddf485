"""The development outbox page: `/dev/outbox` lists the mails kept instead of sent.

Only in development with no SMTP host: a person follows the links in the mails to act as
each recipient, without a mail server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from webapp.db.models import OutgoingMail
from webapp.pages import PageDb, context_of, render, require_csrf
from webapp.settings import Settings


def _no_store(request: Request) -> None:
    request.state.no_store = True


router = APIRouter(
    prefix="/dev", tags=["pages: development"], include_in_schema=False,
    dependencies=[Depends(require_csrf), Depends(_no_store)],
)  # fmt: skip
SHOWN_MAILS = 100
_URL = re.compile(r"https?://[^\s<>\"']+")


def outbox_enabled(settings: Settings) -> bool:
    """The page exists in development when mail is not sent anywhere."""
    return not settings.is_production and not settings.smtp_host


@dataclass(frozen=True)
class Part:
    """A piece of a mail's text; a link on this service has its path as `href`."""

    text: str
    href: str | None = None


def split_links(body: str, base_url: str) -> list[Part]:
    parts: list[Part] = []
    position = 0
    for match in _URL.finditer(body):
        url = match.group(0)
        if not url.startswith(base_url + "/"):
            continue
        parts.append(Part(body[position : match.start()]))
        parts.append(Part(url, href=url.removeprefix(base_url)))
        position = match.end()
    parts.append(Part(body[position:]))
    return parts


@router.get("/outbox")
def outbox(request: Request, db: PageDb) -> HTMLResponse:
    base_url = context_of(request).settings.base_url
    mails = db.scalars(
        select(OutgoingMail).order_by(OutgoingMail.created_at.desc()).limit(SHOWN_MAILS)
    )
    shown = [(mail, split_links(mail.body_text, base_url)) for mail in mails]
    return render(request, "outbox.html", mails=shown)
