"""Security headers, no-store, CSRF tokens and the JSON error shape on a small app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from webapp.errors import ConflictError, install_error_handlers
from webapp.http_security import SecurityHeadersMiddleware, csrf_token, csrf_valid, new_csrf_secret
from webapp.i18n import TEXTS


def make_app(https: bool) -> FastAPI:
    app = FastAPI()
    app.add_middleware(SecurityHeadersMiddleware, https=https)
    install_error_handlers(app)

    @app.get("/page")
    def page() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/document")
    def document(request: Request) -> dict[str, str]:
        request.state.no_store = True
        return {"ok": "yes"}

    @app.get("/api/v1/thing")
    def thing() -> dict[str, str]:
        raise ConflictError("card_signature_required")

    return app


def test_headers_on_every_page() -> None:
    response = TestClient(make_app(https=False)).get("/page")
    assert "frame-ancestors" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in response.headers
    assert "cache-control" not in response.headers


def test_hsts_behind_https_and_no_store_on_documents() -> None:
    client = TestClient(make_app(https=True))
    assert client.get("/page").headers["strict-transport-security"].startswith("max-age=")
    assert client.get("/document").headers["cache-control"] == "no-store"


def test_api_errors_are_json_in_both_languages_and_not_cached() -> None:
    response = TestClient(make_app(https=False)).get("/api/v1/thing")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "card_signature_required"
    assert error["message_ja"] == TEXTS["card_signature_required"][0]
    assert error["message_en"] == TEXTS["card_signature_required"][1]
    assert response.headers["cache-control"] == "no-store"


def test_csrf_token_belongs_to_its_cookie() -> None:
    key = b"k" * 32
    cookie = new_csrf_secret()
    token = csrf_token(cookie, key)
    assert csrf_valid(cookie, token, key)
    assert not csrf_valid(new_csrf_secret(), token, key)
    assert not csrf_valid(cookie, token, b"x" * 32)
    assert not csrf_valid(cookie, None, key)
    assert not csrf_valid(None, token, key)


def test_every_text_has_both_languages() -> None:
    for key, (japanese, english) in TEXTS.items():
        assert japanese and english, key
        assert japanese != english or key == "app_name", key
