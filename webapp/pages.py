"""What every server-rendered page shares: templates, language, CSRF, sender, errors.

Pages render eagerly (while their database session is open) into an `HTMLResponse`.
Every form carries a CSRF token tied to a random cookie; every POST to a page router is
checked by `require_csrf`, and a missing or wrong token answers the 403 page. The
signed-in sender comes from `page_sender`; the static files are mounted by `install_pages`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from sqlalchemy.orm import Session

from webapp.audit.actor import Audit
from webapp.db.models import ActorKind, User
from webapp.deps import client, get_db
from webapp.errors import DomainError, ForbiddenError, UnauthorizedError, use_error_pages
from webapp.http_security import CSRF_COOKIE, CSRF_FIELD, csrf_token, csrf_valid, new_csrf_secret
from webapp.i18n import LANGUAGE_COOKIE, Language, install_texts, request_language
from webapp.mail.messages import JST
from webapp.services.context import ServiceContext
from webapp.web_session import SENDER_COOKIE, decode_sender_session, derived_key, secure_cookies

HERE = Path(__file__).parent
TEMPLATE_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LINK_ERRORS = frozenset(
    {"link_invalid", "link_expired", "link_cancelled", "link_forwarded", "link_used"}
)

templates = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(enabled_extensions=("html",), default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
install_texts(templates)  # `_("key")`, `t("key")`: in the page's language (its `lang`)


def _local_time(moment: datetime.datetime | None) -> str:
    """`2025-07-01 18:00` in Japan time; empty for none."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M")


def _yen(value: Decimal | str | None) -> str:
    """`¥120,000` (an amount from the database, or as the JSON view gives it)."""
    if value is None or value == "":
        return ""
    amount = Decimal(value)
    return f"¥{amount:,.0f}" if amount == amount.to_integral_value() else f"¥{amount:,.2f}"


templates.filters["local_time"] = _local_time
templates.filters["yen"] = _yen


def context_of(request: Request) -> ServiceContext:
    context: ServiceContext = request.app.state.context
    return context


# --- language and CSRF ---------------------------------------------------------------


def _csrf_cookie(request: Request) -> str:
    """The browser's CSRF cookie value; a new one (set on the response) if it has none."""
    current = request.cookies.get(CSRF_COOKIE)
    if current:
        return current
    fresh: str | None = getattr(request.state, "new_csrf_cookie", None)
    if fresh is None:
        fresh = new_csrf_secret()
        request.state.new_csrf_cookie = fresh
    return fresh


def csrf_key(request: Request) -> bytes:
    return derived_key(context_of(request).settings, "csrf")


async def require_csrf(request: Request) -> None:
    """Every state-changing page request must carry the form token of this browser."""
    if request.method in SAFE_METHODS:
        return
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    token = submitted if isinstance(submitted, str) else None
    if not csrf_valid(request.cookies.get(CSRF_COOKIE), token, csrf_key(request)):
        raise ForbiddenError("csrf_failed")


def no_store(request: Request) -> None:
    """Pages that show a document or a secret are kept in no cache (`webapp.http_security`)."""
    request.state.no_store = True


PRIVATE_PAGES = (Depends(require_csrf), Depends(no_store))
"""The dependencies of a router of private pages: the form token on every change, no cache."""


def _switch_url(request: Request, other: Language) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return f"{request.url.path}?{urlencode([*query, ('lang', other)])}"


def _finish_cookies(request: Request, response: Response) -> None:
    settings = context_of(request).settings
    fresh = getattr(request.state, "new_csrf_cookie", None)
    if fresh is not None:
        response.set_cookie(
            CSRF_COOKIE, fresh, path="/", secure=secure_cookies(settings),
            httponly=True, samesite="lax",
        )  # fmt: skip
    chosen = request.query_params.get("lang")
    if chosen in ("ja", "en") and request.cookies.get(LANGUAGE_COOKIE) != chosen:
        response.set_cookie(
            LANGUAGE_COOKIE, chosen, max_age=LANGUAGE_COOKIE_MAX_AGE, path="/",
            secure=secure_cookies(settings), httponly=True, samesite="lax",
        )  # fmt: skip


def render(request: Request, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    """The page in the visitor's language, with the CSRF field and cookies ready."""
    language = request_language(request)
    other: Language = "en" if language == "ja" else "ja"
    token = csrf_token(_csrf_cookie(request), csrf_key(request))
    hidden = Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)

    shared: dict[str, Any] = {
        "lang": language, "other_lang": other,
        "csrf_field": hidden,
        "switch_url": _switch_url(request, other), "path": request.url.path,
        "sender": getattr(request.state, "sender", None),
        "outbox_enabled": getattr(request.app.state, "dev_outbox", False),
        "app_links": getattr(request.app.state, "app_links", None),  # issue 11: the app
        "error": None, "notice": None,
    }  # fmt: skip
    page = templates.get_template(template).render(shared | values)
    response = HTMLResponse(page, status_code=status)
    _finish_cookies(request, response)
    return response


def redirect(request: Request, url: str) -> RedirectResponse:
    """303 See Other after a successful form post (cookies finished as for pages)."""
    response = RedirectResponse(url, status_code=303)
    _finish_cookies(request, response)
    return response


# --- database and the signed-in sender ----------------------------------------------


def page_db(request: Request) -> Iterator[Session]:
    """A session that commits before the response is sent (so a redirect sees the change)."""
    yield from get_db(context_of(request))


PageDb = Annotated[Session, Depends(page_db, scope="function")]


def page_sender(request: Request) -> User:
    """The sender of the session cookie (read in a short session of its own), or 401."""
    context = context_of(request)
    key = derived_key(context.settings, "sender-session")
    session = decode_sender_session(request.cookies.get(SENDER_COOKIE), key, context.now())
    if session is None:
        raise UnauthorizedError("login_required")
    with context.sessions() as db:
        user = db.get(User, session.user_id)
    if user is None or user.sessions_epoch != session.epoch:
        raise UnauthorizedError("login_required")
    request.state.sender = user
    return user


PageSender = Annotated[User, Depends(page_sender)]


def sender_audit(request: Request, sender: PageSender) -> Audit:
    ip, agent = client(request)
    return Audit(ActorKind.SENDER, sender.id, ip, agent)


PageAudit = Annotated[Audit, Depends(sender_audit)]


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site, never another host."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/documents"


# --- errors and installation ---------------------------------------------------------


async def error_page(request: Request, error: DomainError, status: int) -> Response:
    """An error on pages (`webapp.errors` decides page or JSON): the login page, a link's
    state page, or the error page, with the same text the API gives."""
    if error.code in ("login_required", "invalid_token"):
        target = request.url.path if request.method == "GET" else "/documents"
        return redirect(request, "/login?" + urlencode({"next": target}))
    message = error.text(request_language(request))
    if error.code in LINK_ERRORS:
        request.state.no_store = True
        return render(request, "link_state.html", status=status, state=error.code, message=message)
    return render(request, "error.html", status=status, message=message)


def install_pages(app: FastAPI) -> None:
    """Static files, and pages (not JSON) for errors outside the API."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    use_error_pages(app, error_page)
