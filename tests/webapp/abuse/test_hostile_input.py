"""No input gives a 500: every hostile value answers a bilingual 4xx (pages: a page).

Malformed JSON, lone surrogates, control and bidirectional-override characters, a BOM,
oversized fields, out-of-range numbers, impossible dates, hostile addresses and path
parameters; text that is accepted is stored in NFC, addresses in their canonical form.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.webapp.conftest import Service, make_pdf, with_sender
from tests.webapp.pages.conftest import SENDER_EMAIL, SENDER_PASSWORD, Sender, page_text, sender
from tests.webapp.test_api_flow import upload
from webapp.app import create_app
from webapp.db.models import Recipient
from webapp.i18n import TEXTS
from webapp.services.accounts import check_email
from webapp.settings import load_settings
from webapp.text_input import clean_text, normalized_text

__all__ = ["sender"]  # fixture

HOSTILE_TEXT = {
    "nul": "甲\x00一郎",
    "escape": "甲\x1b[31m一郎",
    "c1": "甲\x85一郎",
    "rlo": "甲\u202e一郎",
    "lri": "甲\u2066一郎",
    "bom": "\ufeff甲 一郎",
    "newline_in_a_name": "甲\n一郎",
}


def assert_bilingual(body: dict[str, object], code: str) -> dict[str, object]:
    error = body["error"]
    assert isinstance(error, dict), body
    assert error["code"] == code, error
    assert error["message_ja"] and error["message_en"], error
    assert error["message"] == f"{error['message_ja']} / {error['message_en']}"
    return error


def _raw_json(service: Service, path: str, raw: bytes) -> tuple[int, dict[str, object]]:
    response = service.client.post(
        path, content=raw, headers={**service.auth, "Content-Type": "application/json"}
    )
    return response.status_code, response.json()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One running app for the whole module: these requests change nothing worth keeping."""
    settings = load_settings(
        environment="development", data_dir=tmp_path_factory.mktemp("hostile") / "var"
    )
    with TestClient(create_app(settings)) as client:
        yield with_sender(client)


@pytest.fixture(scope="module")
def document_id(service: Service) -> str:
    return upload(service)


def test_a_lone_surrogate_is_refused_with_a_clear_message(
    service: Service, document_id: str
) -> None:
    path = f"/api/v1/documents/{document_id}/recipients"
    status, body = _raw_json(service, path, b'{"name": "\\ud800", "email": "a@example.jp"}')
    assert status == 422
    error = assert_bilingual(body, "text_invalid_characters")
    assert "name" in str(error["message_en"])
    status, body = _raw_json(service, path, b'{"\\udc00": 1, "name": "x", "email": "a@example.jp"}')
    assert status in (201, 422), body  # an unknown key with a surrogate is ignored or refused


@pytest.mark.parametrize("kind", sorted(HOSTILE_TEXT))
def test_control_and_bidi_characters_are_refused_in_names(
    service: Service, document_id: str, kind: str
) -> None:
    response = service.client.post(
        f"/api/v1/documents/{document_id}/recipients", headers=service.auth,
        json={"name": HOSTILE_TEXT[kind], "email": "a@example.jp"},
    )  # fmt: skip
    assert response.status_code == 422, response.text
    assert_bilingual(response.json(), "text_invalid_characters")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"name": ', "request_invalid"),
        (b"\xff\xfe not json", "request_invalid"),
        (b"[]", "request_invalid"),
        (b'{"name": "' + b"x" * 10_000 + b'", "email": "a@example.jp"}', "request_invalid"),
        (b'{"name": "x", "email": "a@example.jp", "access_code": "' + b"9" * 65 + b'"}',
         "request_invalid"),
        (b'{"name": "x", "email": "a@example.jp", "require_mynumber_card": 1e999}',
         "request_invalid"),
    ],
)  # fmt: skip
def test_malformed_and_oversized_json_is_a_422(
    service: Service, document_id: str, raw: bytes, code: str
) -> None:
    status, body = _raw_json(service, f"/api/v1/documents/{document_id}/recipients", raw)
    assert status in (400, 422), body  # 400: a body that is not even text
    error = assert_bilingual(body, code)
    assert "x" * 100 not in str(error)  # the input is never echoed


@pytest.mark.parametrize(
    "address",
    ["a@[127.0.0.1]", "<a@example.com>", "Name <a@example.com>", '"a b"@example.com',
     "a@localhost", "a@@example.jp", "a@example.jp\r\nBcc: x@example.jp", "a\u202e@example.jp",
     "a" * 250 + "@example.jp"],
)  # fmt: skip
def test_hostile_addresses_are_refused(service: Service, document_id: str, address: str) -> None:
    response = service.client.post(
        f"/api/v1/documents/{document_id}/recipients", headers=service.auth,
        json={"name": "甲 一郎", "email": address},
    )  # fmt: skip
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"]["code"] in ("invalid_email", "text_invalid_characters",
                                                "request_invalid")  # fmt: skip


def test_addresses_and_text_are_stored_canonical(service: Service, document_id: str) -> None:
    decomposed = "ヒ\u309a" + "ロ"  # ピロ with a combining mark: NFC makes it one character
    response = service.client.post(
        f"/api/v1/documents/{document_id}/recipients", headers=service.auth,
        json={"name": decomposed, "email": "Ichiro@例え.JP"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    with service.context.sessions() as db:
        recipient = db.get_one(Recipient, response.json()["id"])
        assert recipient.name == "ピロ"
        assert recipient.email == "ichiro@xn--r8jz45g.jp"
    assert check_email("  A@Example.JP ") == "a@example.jp"
    assert normalized_text("行1\r\n行2\t", multi_line=True) == "行1\n行2\t"
    assert normalized_text("行1\n行2") is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("amount", "-1"), ("amount", "NaN"), ("amount", "Infinity"), ("amount", "1e400"),
     ("amount", "0.001"), ("transaction_date", "2025-02-30"), ("transaction_date", "0000-01-01"),
     ("transaction_date", "2025-13-01"), ("title", "\u202eevil"), ("title", "x" * 501),
     ("message", "ok\x00"), ("counterparty", "\ufeffACME")],
)  # fmt: skip
def test_upload_fields_out_of_range_are_refused(service: Service, field: str, value: str) -> None:
    data = {"title": "契約書", field: value}
    response = service.client.post(
        "/api/v1/documents", headers=service.auth, data=data,
        files={"file": ("c.pdf", make_pdf(), "application/pdf")},
    )  # fmt: skip
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"], response.text


@pytest.mark.parametrize(
    "query",
    ["offset=9223372036854775808", "offset=-1", "limit=0", "limit=100000", "limit=1e3",
     "q=%00", "q=%E2%80%AE", "date_from=2025-02-30", "status=nope", "offset=" + "9" * 5000],
)  # fmt: skip
def test_list_parameters_out_of_range_are_a_422(service: Service, query: str) -> None:
    response = service.client.get(f"/api/v1/documents?{query}", headers=service.auth)
    assert response.status_code == 422, response.text
    assert_bilingual(response.json(), response.json()["error"]["code"])


@pytest.mark.parametrize(
    "path",
    ["/api/v1/documents/%00", "/api/v1/documents/%ED%A0%80", "/api/v1/documents/" + "A" * 300,
     "/api/v1/r/%E2%80%AE/open", "/documents/%00", "/r/%00%01"],
)  # fmt: skip
def test_hostile_path_parameters_are_not_found(service: Service, path: str) -> None:
    method = service.client.post if path.endswith("/open") else service.client.get
    response = method(path, headers=service.auth)
    assert response.status_code == 404, response.text
    if path.startswith("/api/"):
        assert_bilingual(response.json(), "not_found")
    else:
        assert TEXTS["not_found"][0] in page_text(response)


def test_wrong_methods_and_unknown_api_paths_answer_bilingual_json(service: Service) -> None:
    assert_bilingual(service.client.delete("/api/v1/documents").json(), "method_not_allowed")
    assert_bilingual(service.client.get("/api/v1/nothing-here").json(), "not_found")


def test_page_forms_refuse_hostile_text_with_a_page(service: Service, sender: Sender) -> None:
    for field in ("title", "counterparty", "message"):
        response = sender.post(
            "/documents", {"title": "契約書", field: "a\x1bb\u202e"},
            files={"file": ("c.pdf", make_pdf(), "application/pdf")}, form_page="/documents/new",
        )  # fmt: skip
        assert response.status_code == 400, response.text
        assert TEXTS["text_invalid_characters"][0].format(field=field) in page_text(response)
    refused = sender.post(
        "/documents", {"title": "契約書", "amount": "-1"},
        files={"file": ("c.pdf", make_pdf(), "application/pdf")}, form_page="/documents/new",
    )  # fmt: skip
    assert refused.status_code == 400
    assert TEXTS["amount_invalid"][0] in page_text(refused)


def test_login_and_sign_up_forms_refuse_hostile_text(service: Service) -> None:
    person = Sender(TestClient(service.client.app))  # another browser on the running app
    signup = person.post(
        "/signup", {"email": "new@example.jp", "password": "kiri-sakura-7-tsuki",
                    "display_name": "\u202eevil"},
        form_page="/signup",
    )  # fmt: skip
    assert signup.status_code == 400
    assert TEXTS["text_invalid_characters"][0].format(field="display_name") in page_text(signup)
    login = person.post("/login", {"email": SENDER_EMAIL + "\x00", "password": SENDER_PASSWORD})
    assert login.status_code == 400
    english = person.client.post(
        "/login?lang=en", data={"csrf_token": person.csrf(), "email": "\u202e", "password": "x"}
    )
    assert english.status_code == 400
    assert TEXTS["text_invalid_characters"][1].format(field="email") in page_text(english)


def test_clean_text_names_the_field() -> None:
    with pytest.raises(Exception) as raised:
        clean_text("\u202e", "title")
    assert getattr(raised.value, "code", None) == "text_invalid_characters"
    assert clean_text("テ\u3099スト", "title") == "デスト"


def test_a_genuine_bug_is_a_logged_bilingual_500(service: Service) -> None:
    app = service.client.app
    assert isinstance(app, FastAPI)

    @app.get("/api/v1/test-only-bug")
    def bug() -> None:
        raise RuntimeError("a bug")

    @app.get("/test-only-bug-page")
    def bug_page() -> None:
        raise RuntimeError("a bug")

    client = TestClient(app, raise_server_exceptions=False)  # the running app, no new start
    response = client.get("/api/v1/test-only-bug")
    assert response.status_code == 500
    assert_bilingual(response.json(), "internal_error")
    page = client.get("/test-only-bug-page")
    assert page.status_code == 500
    assert TEXTS["internal_error"][0] in page_text(page)
