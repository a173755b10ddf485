"""Sender account pages: sign-up rule, login with and without TOTP, sessions, API tokens."""

from __future__ import annotations

import re

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.webapp.conftest import Service
from tests.webapp.pages.conftest import SENDER_EMAIL, Person, Sender, page_text
from webapp.db.models import User
from webapp.i18n import TEXTS
from webapp.web_session import SENDER_COOKIE


def test_a_weak_password_is_refused_with_the_reason(service: Service) -> None:
    person = Person(TestClient(service.client.app))
    response = person.post(
        "/signup", {"display_name": "弱 太郎", "email": "weak@example.jp", "password": "password1"}
    )
    assert response.status_code == 400
    text = page_text(response)
    assert TEXTS["password_too_short"][0] in text
    assert TEXTS["password_too_common"][0] in text
    assert 'value="weak@example.jp"' in response.text  # kept for the next try
    with service.context.sessions() as db:
        assert db.scalar(select(User).where(User.email == "weak@example.jp")) is None


def test_sign_up_signs_in_with_an_http_only_cookie(service: Service) -> None:
    person = Person(TestClient(service.client.app))
    response = person.post(
        "/signup",
        {"display_name": "新規 花子", "email": "new@example.jp", "password": "yama-kawa-9-sora"},
    )
    assert response.status_code == 303 and response.headers["location"] == "/documents"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SENDER_COOKIE))
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    page = person.client.get("/documents")
    assert page.status_code == 200 and "新規 花子" not in page.text  # her list, empty
    assert TEXTS["documents_none"][0] in page_text(page)


def test_the_same_address_cannot_sign_up_twice(service: Service) -> None:
    person = Person(TestClient(service.client.app))
    response = person.post(
        "/signup", {"display_name": "x", "email": SENDER_EMAIL, "password": "yama-kawa-9-sora"}
    )
    assert response.status_code == 409
    assert TEXTS["email_taken"][0] in page_text(response)


def test_login_with_a_wrong_password_says_so(service: Service) -> None:
    person = Person(TestClient(service.client.app))
    response = person.post("/login", {"email": SENDER_EMAIL, "password": "not-the-password"})
    assert response.status_code == 401
    assert TEXTS["login_failed"][0] in page_text(response)
    assert person.client.get("/documents", follow_redirects=False).status_code == 303


def test_pages_of_senders_send_strangers_to_the_login(service: Service) -> None:
    client = TestClient(service.client.app)
    response = client.get("/documents", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fdocuments"
    client.cookies.set(SENDER_COOKIE, "eyJ4Ijoi.forged")
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(service: Service) -> None:
    person = Person(TestClient(service.client.app))
    data = {"email": SENDER_EMAIL, "password": "kiri-sakura-7-tsuki"}
    response = person.post("/login", {**data, "next": "/account/tokens"})
    assert response.headers["location"] == "/account/tokens"
    other = Person(TestClient(service.client.app))
    response = other.post("/login", {**data, "next": "//evil.example/"})
    assert response.headers["location"] == "/documents"


def test_totp_is_required_once_set_up(service: Service, sender: Sender) -> None:
    page = sender.post("/account/totp", form_page="/account/totp")
    assert page.status_code == 200
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page.text)
    assert secret, page.text
    assert "otpauth://totp/" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert sender.post("/logout").status_code == 303

    again = Person(TestClient(service.client.app))
    credentials = {"email": SENDER_EMAIL, "password": "kiri-sakura-7-tsuki"}
    asked = again.post("/login", credentials)
    assert asked.status_code == 401
    assert TEXTS["totp_required"][0] in page_text(asked)
    assert 'id="totp_code"' in asked.text and "autofocus" in asked.text
    code = pyotp.TOTP(secret.group(1)).now()
    wrong = again.post("/login", {**credentials, "totp_code": f"{(int(code) + 1) % 10**6:06d}"})
    assert wrong.status_code == 401
    assert TEXTS["totp_wrong"][0] in page_text(wrong)
    signed_in = again.post("/login", {**credentials, "totp_code": code})
    assert signed_in.status_code == 303, page_text(signed_in)
    assert again.client.get("/account").status_code == 200


def test_logout_ends_the_session_of_this_browser(sender: Sender) -> None:
    assert sender.client.get("/account").status_code == 200
    response = sender.post("/logout")
    assert response.headers["location"] == "/login?notice=signed_out"
    assert sender.client.get("/account", follow_redirects=False).status_code == 303


def test_sign_out_everywhere_ends_every_session_and_token(service: Service, sender: Sender) -> None:
    other = Sender(TestClient(service.client.app))
    other.login()
    stolen = other.client.cookies[SENDER_COOKIE]
    assert service.client.get("/api/v1/documents", headers=service.auth).status_code == 200

    response = sender.post("/account/sign-out-everywhere", form_page="/account")
    assert response.headers["location"] == "/login?notice=signed_out_everywhere"

    assert other.client.get("/documents", follow_redirects=False).status_code == 303
    replay = TestClient(service.client.app)
    replay.cookies.set(SENDER_COOKIE, stolen)
    assert replay.get("/documents", follow_redirects=False).status_code == 303
    assert service.client.get("/api/v1/documents", headers=service.auth).status_code == 401
    notice = TestClient(service.client.app).get("/login?notice=signed_out_everywhere")
    assert TEXTS["notice_signed_out_everywhere"][0] in page_text(notice)


def test_an_api_token_is_shown_once_and_works(service: Service, sender: Sender) -> None:
    page = sender.post("/account/tokens", {"name": "会計システム"}, form_page="/account/tokens")
    assert page.status_code == 200
    token = re.search(r'id="issued-token"[^>]*>([A-Za-z0-9_-]{40,})<', page.text)
    assert token, page.text
    headers = {"Authorization": f"Bearer {token.group(1)}"}
    assert service.client.get("/api/v1/documents", headers=headers).status_code == 200
    listing = sender.client.get("/account/tokens")
    assert "会計システム" in listing.text and token.group(1) not in listing.text


def test_english_on_request_and_remembered(service: Service) -> None:
    client = TestClient(service.client.app)
    japanese = client.get("/login")
    assert '<html lang="ja">' in japanese.text and "ログイン" in japanese.text
    assert 'href="/login?lang=en"' in japanese.text
    english = client.get("/login?lang=en")
    assert '<html lang="en">' in english.text and "Sign in" in english.text
    remembered = client.get("/signup")
    assert '<html lang="en">' in remembered.text and "Create an account" in remembered.text


def test_an_address_with_a_japanese_domain_signs_in_as_it_was_typed(service: Service) -> None:
    person = Person(TestClient(service.client.app))
    address = "Taro@例え.jp"
    signed_up = person.post(
        "/signup", {"display_name": "例 太郎", "email": address, "password": "yama-kawa-9-sora"}
    )
    assert signed_up.status_code == 303, signed_up.text
    with service.context.sessions() as db:  # stored in its canonical form (IDNA, lower case)
        assert db.scalar(select(User.email).where(User.display_name == "例 太郎")) == (
            "taro@xn--r8jz45g.jp"
        )
    again = Person(TestClient(service.client.app))
    response = again.post("/login", {"email": address, "password": "yama-kawa-9-sora"})
    assert response.status_code == 303 and response.headers["location"] == "/documents"
