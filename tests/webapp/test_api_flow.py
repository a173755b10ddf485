"""The JSON API end to end: upload, recipients, send, open, agree, complete (B-LTA)."""

from __future__ import annotations

import subprocess

from tests.webapp.conftest import Service, make_pdf
from tests.webapp.pdf.checks import lta_results, passed


def upload(service: Service, title: str = "業務委託契約書") -> str:
    response = service.client.post(
        "/api/v1/documents", headers=service.auth,
        files={"file": ("contract.pdf", make_pdf(), "application/pdf")},
        data={"title": title, "amount": "120000", "counterparty": "株式会社テスト"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def add_recipient(service: Service, document_id: str, **body: object) -> str:
    response = service.client.post(
        f"/api/v1/documents/{document_id}/recipients", headers=service.auth, json=body
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def open_link(service: Service, token: str, code: str | None = None) -> str:
    response = service.client.post(
        f"/api/v1/r/{token}/open", json={"accept_terms": True, "access_code": code}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["session_token"])


def test_two_parties_agree_and_the_document_is_completed(service: Service) -> None:
    document_id = upload(service)
    add_recipient(
        service, document_id, name="甲 一郎", email="ichiro@example.jp", access_code="4821"
    )
    add_recipient(service, document_id, name="乙 花子", email="hanako@example.jp")
    sent = service.client.post(f"/api/v1/documents/{document_id}/send", headers=service.auth)
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "sent"
    assert service.mails_to("hanako@example.jp") == []  # signing order: the second waits

    first = service.link_token("ichiro@example.jp")
    wrong = service.client.post(
        f"/api/v1/r/{first}/open", json={"accept_terms": True, "access_code": "0000"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "access_code_wrong"
    session = open_link(service, first, "4821")
    pdf = service.client.get(
        f"/api/v1/r/{first}/pdf", headers={"Authorization": f"Bearer {session}"}
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    agreed = service.client.post(
        f"/api/v1/r/{first}/agree", headers={"Authorization": f"Bearer {session}"}
    )
    assert agreed.status_code == 200, agreed.text

    assert len(service.mails_to("hanako@example.jp")) == 1
    second = service.link_token("hanako@example.jp")
    session2 = open_link(service, second)
    agreed2 = service.client.post(
        f"/api/v1/r/{second}/agree", headers={"Authorization": f"Bearer {session2}"}
    )
    assert agreed2.status_code == 200, agreed2.text

    status = service.client.get(f"/api/v1/documents/{document_id}", headers=service.auth).json()
    assert status["status"] == "completed"
    assert [r["status"] for r in status["recipients"]] == ["agreed", "agreed"]
    actions = [e["action"] for e in status["events"]]
    assert actions[:2] == ["document.uploaded", "recipient.added"]
    assert "document.completed" in actions
    final = service.client.get(f"/api/v1/documents/{document_id}/pdf", headers=service.auth)
    assert final.status_code == 200
    assert any(m.attachment_filename for m in service.mails_to("sender@example.jp"))
    assert service.mails_to("hanako@example.jp")[-1].attachment_blob_name is not None

    path = service.context.settings.data_dir / "final.pdf"
    path.write_bytes(final.content)
    pdfsig = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False)
    # every CMS signature (sending seal, two agreements, closing seal) is valid; poppler
    # lists the document timestamp last without checking it (pyHanko's LTA test does)
    assert pdfsig.stdout.count("Signature is Valid.") == 4, pdfsig.stdout
    assert "Signature #5" in pdfsig.stdout and "Signature #6" not in pdfsig.stdout
    assert "Signature is Invalid" not in pdfsig.stdout

    # offline AdES-LTA validation of every signature against the development roots
    runtime = service.client.app.state.runtime  # type: ignore[attr-defined]
    results = lta_results(path, runtime.trust_roots)
    assert len(results) == 4
    assert all(passed(result) for result in results.values()), results


def test_completion_mail_without_attachment_when_the_sender_says_so(service: Service) -> None:
    response = service.client.post(
        "/api/v1/documents", headers=service.auth,
        files={"file": ("c.pdf", make_pdf(), "application/pdf")},
        data={"title": "覚書", "attach_pdf_to_completion_mail": "false"},
    )  # fmt: skip
    document_id = response.json()["id"]
    add_recipient(service, document_id, name="丁 四郎", email="shiro@example.jp")
    service.client.post(f"/api/v1/documents/{document_id}/send", headers=service.auth)
    token = service.link_token("shiro@example.jp")
    session = open_link(service, token)
    service.client.post(f"/api/v1/r/{token}/agree", headers={"Authorization": f"Bearer {session}"})
    completion = service.mails_to("shiro@example.jp")[-1]
    assert completion.attachment_blob_name is None
    assert "/r/" in completion.body_text  # a download link instead


def test_card_signature_required_answers_409(service: Service) -> None:
    document_id = upload(service)
    add_recipient(
        service, document_id, name="丙 三郎", email="saburo@example.jp", require_mynumber_card=True
    )
    assert (
        service.client.post(
            f"/api/v1/documents/{document_id}/send", headers=service.auth
        ).status_code
        == 200
    )
    token = service.link_token("saburo@example.jp")
    session = open_link(service, token)
    response = service.client.post(
        f"/api/v1/r/{token}/agree", headers={"Authorization": f"Bearer {session}"}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "card_signature_required"
