"""A finished document of the service under test, through the JSON API (issue 12 tests)."""

from __future__ import annotations

from tests.webapp.conftest import Service, make_pdf


def upload(service: Service, title: str = "業務委託契約書", pages: int = 1) -> str:
    response = service.client.post(
        "/api/v1/documents", headers=service.auth,
        files={"file": ("contract.pdf", make_pdf(pages), "application/pdf")},
        data={"title": title, "amount": "120000", "counterparty": "株式会社テスト"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def send_to_one_party(service: Service, document_id: str, email: str = "hanako@example.jp") -> str:
    """Add one party and send; the party's link token."""
    added = service.client.post(
        f"/api/v1/documents/{document_id}/recipients", headers=service.auth,
        json={"name": "乙 花子", "email": email},
    )  # fmt: skip
    assert added.status_code == 201, added.text
    sent = service.client.post(f"/api/v1/documents/{document_id}/send", headers=service.auth)
    assert sent.status_code == 200, sent.text
    return service.link_token(email)


def agree(service: Service, token: str) -> None:
    opened = service.client.post(f"/api/v1/r/{token}/open", json={"accept_terms": True})
    assert opened.status_code == 200, opened.text
    bearer = {"Authorization": f"Bearer {opened.json()['session_token']}"}
    agreed = service.client.post(f"/api/v1/r/{token}/agree", headers=bearer)
    assert agreed.status_code == 200, agreed.text


def current_pdf(service: Service, document_id: str) -> bytes:
    response = service.client.get(f"/api/v1/documents/{document_id}/pdf", headers=service.auth)
    assert response.status_code == 200
    return response.content


def completed_document(service: Service) -> tuple[str, bytes, bytes]:
    """Send to one party who agrees: the ID, the PDF as sent, and the finished PDF."""
    document_id = upload(service)
    token = send_to_one_party(service, document_id)
    sent_pdf = current_pdf(service, document_id)
    agree(service, token)
    return document_id, sent_pdf, current_pdf(service, document_id)
