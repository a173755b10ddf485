"""The search through `GET /api/v1/documents`, the CSV export and the sender's list page."""

from __future__ import annotations

import csv
import io

from tests.webapp.conftest import Service, make_pdf
from tests.webapp.pages.conftest import Sender, page_text, sender

__all__ = ["sender"]  # fixture

UPLOADS = [
    {"title": "=HYPERLINK(\"http://evil\")", "counterparty": "株式会社テスト", "amount": "120000",
     "transaction_date": "2025-07-01"},
    {"title": "業務委託契約書", "counterparty": "+テスト商事", "amount": "5000",
     "transaction_date": "2025-01-15"},
    {"title": "秘密保持契約書", "counterparty": "Acme Corp", "amount": "999999",
     "transaction_date": "2024-12-31"},
]  # fmt: skip


def upload_all(service: Service) -> list[str]:
    ids = []
    for fields in UPLOADS:
        response = service.client.post(
            "/api/v1/documents", headers=service.auth, data=fields,
            files={"file": ("c.pdf", make_pdf(), "application/pdf")},
        )  # fmt: skip
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def titles(service: Service, **params: str) -> list[str]:
    response = service.client.get("/api/v1/documents", headers=service.auth, params=params)
    assert response.status_code == 200, response.text
    return [d["title"] for d in response.json()["documents"]]


def test_api_filters_combine_sort_and_count(service: Service) -> None:
    upload_all(service)
    assert titles(service, counterparty="テスト", amount_min="6000") == [UPLOADS[0]["title"]]
    assert titles(service, date_from="2025-01-01", date_to="2025-06-30") == ["業務委託契約書"]
    assert titles(service, amount_max="5000", q="契約", status="draft") == ["業務委託契約書"]
    assert titles(service, sort="amount", order="asc") == [
        "業務委託契約書", UPLOADS[0]["title"], "秘密保持契約書",
    ]  # fmt: skip
    body = service.client.get(
        "/api/v1/documents", headers=service.auth, params={"limit": 1, "offset": 1}
    ).json()
    assert body["total"] == 3 and len(body["documents"]) == 1
    assert titles(service, counterparty="テスト", status="completed") == []


def test_api_refuses_wrong_searches_in_both_languages(service: Service) -> None:
    reversed_dates = service.client.get(
        "/api/v1/documents", headers=service.auth,
        params={"date_from": "2025-02-01", "date_to": "2025-01-01"},
    )  # fmt: skip
    assert reversed_dates.status_code == 400
    error = reversed_dates.json()["error"]
    assert error["code"] == "search_date_range_invalid"
    assert "取引年月日" in error["message_ja"] and "date range" in error["message_en"]
    for params in ({"amount_min": "abc"}, {"sort": "password"}, {"date_to": "2025-13-01"}):
        response = service.client.get("/api/v1/documents", headers=service.auth, params=params)
        assert response.status_code == 422, params
    assert service.client.get("/api/v1/documents.csv").status_code == 401


def test_csv_export_is_excel_ready_and_never_a_formula(service: Service) -> None:
    upload_all(service)
    response = service.client.get(
        "/api/v1/documents.csv",
        headers=service.auth,
        params={"q": "テスト", "sort": "amount", "order": "asc"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "文書ID (document_id)"
    assert [row[2] for row in rows[1:]] == ["'+テスト商事", "株式会社テスト"]
    assert rows[2][1] == '\'=HYPERLINK("http://evil")'
    assert rows[2][3:5] == ["2025-07-01", "120000"]


def test_list_page_searches_pages_and_exports(service: Service, sender: Sender) -> None:
    upload_all(service)
    page = sender.client.get(
        "/documents",
        params={"counterparty": "テスト", "amount_min": "1,000", "amount_max": "¥200,000"},
    )
    assert page.status_code == 200
    text = page_text(page)
    assert "業務委託契約書" in text and "秘密保持契約書" not in text
    assert "/documents.csv?counterparty=" in page.text
    exported = sender.client.get("/documents.csv", params={"counterparty": "acme"})
    assert exported.status_code == 200 and "秘密保持契約書" in exported.content.decode("utf-8-sig")
    wrong = sender.client.get(
        "/documents", params={"date_from": "2025-02-01", "date_to": "2025-01-01"}
    )
    assert wrong.status_code == 400 and "範囲が逆です" in page_text(wrong)
    bad_amount = sender.client.get("/documents", params={"amount_min": "たくさん", "lang": "en"})
    assert bad_amount.status_code == 400
    none = sender.client.get("/documents", params={"counterparty": "存在しない"})
    assert none.status_code == 200 and "業務委託契約書" not in page_text(none)
