"""Every kind of error is answered in one place: JSON on the API (or when JSON is asked
for), the error page elsewhere, with the same bilingual text and status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from tests.webapp.conftest import Service
from tests.webapp.pages.conftest import page_text
from webapp.db.engine import DatabaseBusyError
from webapp.errors import DomainError
from webapp.i18n import TEXTS
from webapp.text_input import SingleLineText

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def app(service: Service) -> FastAPI:
    """The running app with routes that fail in each way, on a page path and an API path."""
    app = service.client.app
    assert isinstance(app, FastAPI)
    for prefix in ("/api/v1/test-only", "/test-only"):

        @app.get(f"{prefix}/number")
        def number(n: int) -> dict[str, int]:
            return {"n": n}

        @app.get(f"{prefix}/name")
        def name(name: SingleLineText) -> dict[str, str]:
            return {"name": name}

        @app.get(f"{prefix}/busy")
        def busy() -> None:
            raise DatabaseBusyError("test: the write lock is held")

        @app.get(f"{prefix}/bug")
        def bug() -> None:
            raise RuntimeError("test: a bug")

    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    yield TestClient(app, raise_server_exceptions=False)  # the running app, no new start


def message(language: int, key: str, **params: object) -> str:
    return TEXTS[key][language].format(**params)


def test_an_unknown_page_asked_for_as_json_answers_json(client: TestClient) -> None:
    page = client.get("/no-such-page", headers={"Accept": BROWSER})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert message(0, "not_found") in page_text(page)
    asked = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert asked.status_code == 404 and asked.json()["error"]["code"] == "not_found"
    api = client.get("/api/v1/no-such-thing", headers={"Accept": BROWSER})
    assert api.status_code == 404 and api.json()["error"]["message_en"] == message(1, "not_found")


def test_a_wrong_method_on_a_page_says_so_as_the_api_does(client: TestClient) -> None:
    page = client.delete("/login?lang=en")
    assert page.status_code == 405 and "GET" in page.headers["allow"]
    assert message(1, "method_not_allowed") in page_text(page)
    api = client.delete("/api/v1/documents")
    assert api.status_code == 405
    assert api.json()["error"]["message_en"] == message(1, "method_not_allowed")


def test_an_invalid_request_is_a_422_on_the_api_and_the_page_again_on_pages(
    client: TestClient,
) -> None:
    api = client.get("/api/v1/test-only/number?n=twelve")
    assert api.status_code == 422
    assert api.json()["error"]["code"] == "request_invalid"
    assert api.json()["error"]["fields"] == [{"field": "query.n", "type": "int_parsing"}]
    page = client.get("/test-only/number?n=twelve&lang=en")
    assert page.status_code == 400 and message(1, "request_invalid") in page_text(page)
    assert "twelve" not in page_text(page)  # the input is not repeated in the text


def test_refused_text_names_the_field_on_pages_too(client: TestClient) -> None:
    api = client.get("/api/v1/test-only/name", params={"name": "a\u202eb"})
    assert api.status_code == 422
    assert api.json()["error"]["message_ja"] == message(0, "text_invalid_characters", field="name")
    page = client.get("/test-only/name", params={"name": "a\u202eb"})
    assert page.status_code == 400
    assert message(0, "text_invalid_characters", field="name") in page_text(page)


def test_a_busy_database_is_a_503_to_try_again_on_pages_and_the_api(client: TestClient) -> None:
    for path in ("/api/v1/test-only/busy", "/test-only/busy"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert int(response.headers["retry-after"]) >= 1
    assert client.get("/api/v1/test-only/busy").json()["error"]["code"] == "database_busy"
    assert message(0, "database_busy") in page_text(client.get("/test-only/busy"))


def test_a_bug_whose_error_page_fails_too_still_answers_a_bilingual_500(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_page(request: Request, error: DomainError, status: int) -> None:
        raise RuntimeError("test: the error page fails")

    monkeypatch.setattr(app.state, "page_error_renderer", broken_page)
    response = client.get("/test-only/bug")
    assert response.status_code == 500
    assert response.json()["error"]["message_ja"] == message(0, "internal_error")
