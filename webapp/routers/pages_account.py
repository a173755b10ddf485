"""Pages for a sender's account: sign-up, login, logout, TOTP setup and API tokens.

Login takes the TOTP code when the second factor is on; "sign out everywhere" ends every
session and revokes every API token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from webapp.db.models import ApiToken, User
from webapp.deps import client
from webapp.errors import DomainError
from webapp.i18n import request_language, text
from webapp.pages import (
    PRIVATE_PAGES,
    PageDb,
    PageSender,
    context_of,
    redirect,
    render,
    safe_next,
)
from webapp.rate_limits import limited
from webapp.security import totp_uri
from webapp.services import accounts
from webapp.text_input import clean_text
from webapp.web_session import SENDER_COOKIE, clear_sender_cookie, set_sender_cookie

router = APIRouter(
    tags=["pages: account"], include_in_schema=False,
    dependencies=[*PRIVATE_PAGES],
)  # fmt: skip
NOTICES = frozenset({"signed_out", "signed_out_everywhere"})
Text = Annotated[str, Form()]


@router.get("/")
def home(request: Request) -> Response:
    signed_in = request.cookies.get(SENDER_COOKIE) is not None
    return redirect(request, "/documents" if signed_in else "/login")


@router.get("/signup")
def sign_up_form(request: Request) -> HTMLResponse:
    return render(request, "signup.html", email="", display_name="", problems=[])


@router.post("/signup", dependencies=[limited("signup")])
def sign_up(
    request: Request, db: PageDb, display_name: Text = "", email: Text = "", password: Text = ""
) -> Response:
    language = request_language(request)
    try:
        display_name = clean_text(display_name, "display_name")[:200]
        user = accounts.sign_up(db, clean_text(email, "email"), password, display_name)
    except accounts.WeakPasswordError as error:
        db.rollback()
        problems = [text(language, key) for key in error.problems]
        return render(
            request, "signup.html", status=400, email=email, display_name=display_name,
            problems=problems,
        )  # fmt: skip
    except DomainError as error:
        db.rollback()
        return render(
            request, "signup.html", status=error.status_code, email=email,
            display_name=display_name, problems=[error.text(language)],
        )  # fmt: skip
    db.commit()
    return _signed_in(request, user, "/documents")


def _signed_in(request: Request, user: User, target: str) -> Response:
    context = context_of(request)
    response = redirect(request, target)
    set_sender_cookie(
        response, context.settings, user_id=user.id, epoch=user.sessions_epoch, now=context.now()
    )
    return response


@router.get("/login")
def login_form(
    request: Request,
    next_page: Annotated[str, Query(alias="next")] = "/documents",
    notice: str = "",
) -> HTMLResponse:
    language = request_language(request)
    message = text(language, f"notice_{notice}") if notice in NOTICES else None
    return render(
        request, "login.html", email="", next=safe_next(next_page), notice=message, ask_code=False
    )


@router.post("/login", dependencies=[limited("login")])
def login(
    request: Request,
    db: PageDb,
    email: Text = "",
    password: Text = "",
    totp_code: Text = "",
    next_page: Annotated[str, Form(alias="next")] = "/documents",
) -> Response:
    context = context_of(request)
    try:
        user = accounts.authenticate(
            db, context.kek, email=clean_text(email, "email"), password=password,
            totp_code=clean_text(totp_code, "totp_code").strip() or None,
            now=context.now(), ip=client(request)[0],
        )  # fmt: skip
    except DomainError as error:
        db.rollback()
        return render(
            request, "login.html", status=error.status_code, email=email, next=safe_next(next_page),
            error=error.text(request_language(request)),
            ask_code=error.code in ("totp_required", "totp_wrong"),
        )  # fmt: skip
    db.commit()
    return _signed_in(request, user, safe_next(next_page))


@router.post("/logout")
def logout(request: Request) -> Response:
    response = redirect(request, "/login?notice=signed_out")
    clear_sender_cookie(response, context_of(request).settings)
    return response


@router.get("/account")
def account(request: Request, sender: PageSender) -> HTMLResponse:
    return render(request, "account.html", totp_enabled=sender.totp_secret_encrypted is not None)


@router.post("/account/sign-out-everywhere")
def sign_out_everywhere(request: Request, sender: PageSender, db: PageDb) -> Response:
    context = context_of(request)
    accounts.sign_out_everywhere(db, db.get_one(User, sender.id), context.now())
    db.commit()
    response = redirect(request, "/login?notice=signed_out_everywhere")
    clear_sender_cookie(response, context.settings)
    return response


@router.get("/account/totp")
def totp_page(request: Request, sender: PageSender) -> HTMLResponse:
    return render(
        request, "totp.html", secret=None, uri=None,
        totp_enabled=sender.totp_secret_encrypted is not None,
    )  # fmt: skip


@router.post("/account/totp")
def totp_start(request: Request, sender: PageSender, db: PageDb) -> HTMLResponse:
    """A new secret, shown once: the authenticator app takes it from this page."""
    user = db.get_one(User, sender.id)
    secret = accounts.start_totp(db, context_of(request).kek, user)
    db.commit()
    return render(
        request, "totp.html", secret=secret, uri=totp_uri(secret, user.email), totp_enabled=True
    )


def _tokens(db: PageDb, user_id: str) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == user_id)
    return list(db.scalars(query.order_by(ApiToken.created_at.desc())))


@router.get("/account/tokens")
def tokens_page(request: Request, sender: PageSender, db: PageDb) -> HTMLResponse:
    return render(request, "tokens.html", tokens=_tokens(db, sender.id), issued=None)


@router.post("/account/tokens")
def create_token(request: Request, sender: PageSender, db: PageDb, name: Text = "") -> HTMLResponse:
    """The new token is shown on this answer only; the service keeps its hash."""
    try:
        name = clean_text(name, "name")[:200]
    except DomainError as error:
        return render(
            request, "tokens.html", status=error.status_code, tokens=_tokens(db, sender.id),
            issued=None, error=error.text(request_language(request)),
        )  # fmt: skip
    issued = accounts.create_api_token(db, db.get_one(User, sender.id), name)
    db.commit()
    return render(request, "tokens.html", tokens=_tokens(db, sender.id), issued=issued.token)
