"""CSRF on every form, security headers on pages, cookies, and the development outbox."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.responses import Response

from tests.webapp.conftest import Service
from tests.webapp.pages.conftest import Sender, page_text, party, sent_document
from webapp.app import create_app
from webapp.http_security import CSRF_COOKIE
from webapp.i18n import TEXTS
from webapp.settings import load_settings
from webapp.web_session import (
    SenderSession,
    decode_sender_session,
    encode_sender_session,
    set_sender_cookie,
)

NOW = datetime.datetime(2025, 7, 1, 9, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/login", {"email": "sender@example.jp", "password": "kiri-sakura-7-tsuki"}),
        ("/signup", {"display_name": "x", "email": "x@example.jp", "password": "yama-kawa-9"}),
        ("/logout", {}),
        ("/account/sign-out-everywhere", {}),
        ("/documents", {"title": "x"}),
    ],
)
def test_a_form_without_its_token_is_refused(
    sender: Sender, path: str, fields: dict[str, str]
) -> None:
    response = sender.client.post(path, data=fields, follow_redirects=False)
    assert response.status_code == 403
    assert TEXTS["csrf_failed"][0] in page_text(response)
    assert sender.client.get("/account").status_code == 200  # nothing happened


def test_a_tampered_token_is_refused_in_english_too(service: Service, sender: Sender) -> None:
    document_id = sender.upload()
    sender.client.get("/documents?lang=en")
    token = sender.csrf()
    tampered = token[:-1] + ("0" if token[-1] != "0" else "1")
    response = sender.client.post(
        f"/documents/{document_id}/cancel", data={"csrf_token": tampered}, follow_redirects=False
    )
    assert response.status_code == 403
    assert TEXTS["csrf_failed"][1] in page_text(response)
    assert '<html lang="en">' in response.text
    assert TEXTS["status_draft"][1] in page_text(sender.detail(document_id))  # not cancelled


def test_a_token_from_another_browser_is_refused(service: Service, sender: Sender) -> None:
    sent_document(sender, ("甲 一郎", "ichiro@example.jp", ""))
    recipient = party(service, "ichiro@example.jp")
    attacker_token = sender.csrf()  # valid, but for the sender's cookie
    response = recipient.client.post(
        f"{recipient.link}/open", data={"csrf_token": attacker_token, "accept_terms": "1"}
    )
    assert response.status_code == 403
    del recipient.client.cookies[CSRF_COOKIE]
    response = recipient.client.post(
        f"{recipient.link}/open", data={"csrf_token": attacker_token, "accept_terms": "1"}
    )
    assert response.status_code == 403


def test_pages_carry_the_security_headers(service: Service, sender: Sender) -> None:
    document_id = sent_document(sender, ("甲 一郎", "ichiro@example.jp", ""))
    recipient = party(service, "ichiro@example.jp")
    recipient.open()
    pages = {
        "login": TestClient(service.client.app).get("/login"),
        "document": sender.client.get(f"/documents/{document_id}"),
        "recipient": recipient.client.get(recipient.link),
    }
    for name, response in pages.items():
        headers = response.headers
        assert response.status_code == 200, name
        assert "script-src 'self'" in headers["content-security-policy"], name
        assert "unsafe-inline" not in headers["content-security-policy"], name
        assert headers["x-content-type-options"] == "nosniff", name
        assert headers["x-frame-options"] == "SAMEORIGIN", name
        assert headers["referrer-policy"] == "no-referrer", name
        assert "<script>" not in response.text and "style=" not in response.text, name
    assert pages["document"].headers["cache-control"] == "no-store"
    assert pages["recipient"].headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in pages["login"].headers  # http in the tests


def test_static_files_are_served(service: Service) -> None:
    client = TestClient(service.client.app)
    assert "showModal" in client.get("/static/app.js").text
    assert ":focus-visible" in client.get("/static/app.css").text


def test_unknown_pages_answer_an_html_404_and_the_api_json(service: Service) -> None:
    client = TestClient(service.client.app)
    page = client.get("/no-such-page")
    assert page.status_code == 404 and TEXTS["not_found"][0] in page_text(page)
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"  # issue 10
    assert api.json()["error"]["message_en"] == TEXTS["not_found"][1]


def test_the_outbox_shows_mails_and_their_links(service: Service, sender: Sender) -> None:
    sent_document(sender, ("甲 一郎", "ichiro@example.jp", ""))
    outbox = sender.client.get("/dev/outbox")
    assert outbox.status_code == 200
    link = f'href="/r/{service.link_token("ichiro@example.jp")}"'
    assert link in outbox.text and "ichiro@example.jp" in outbox.text


def test_no_outbox_page_when_mail_goes_to_a_server(tmp_path: Path) -> None:
    settings = load_settings(
        environment="development", data_dir=tmp_path / "var", smtp_host="127.0.0.1"
    )
    with TestClient(create_app(settings)) as client:  # no mail is queued: nothing is sent
        assert client.get("/dev/outbox").status_code == 404
        assert 'href="/dev/outbox"' not in client.get("/login").text


def test_sender_sessions_are_signed_and_expire() -> None:
    key = b"k" * 32
    session = SenderSession("user-1", 3, NOW + datetime.timedelta(hours=1))
    value = encode_sender_session(session, key)
    assert decode_sender_session(value, key, NOW) == SenderSession(
        "user-1", 3, NOW + datetime.timedelta(hours=1)
    )
    assert decode_sender_session(value, b"x" * 32, NOW) is None
    assert decode_sender_session(value, key, NOW + datetime.timedelta(hours=2)) is None
    payload, signature = value.split(".")
    forged = encode_sender_session(SenderSession("user-2", 3, session.expires_at), b"x" * 32)
    assert decode_sender_session(f"{forged.split('.')[0]}.{signature}", key, NOW) is None
    for junk in ("", "a", "a.b.c", "!!.!!", f"{payload}.", "e30.e30"):
        assert decode_sender_session(junk, key, NOW) is None


def test_cookies_are_secure_behind_https(tmp_path: Path) -> None:
    settings = load_settings(
        environment="development", data_dir=tmp_path / "var", base_url="https://sign.example.jp"
    )
    response = Response()
    set_sender_cookie(response, settings, user_id="u", epoch=0, now=NOW)
    cookie = response.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
