"""A TSA outage at the closing step loses nothing: the agreement stands, completion follows."""

from __future__ import annotations

import pytest

from tests.webapp.conftest import Service, closing_step_down
from tests.webapp.test_api_flow import add_recipient, open_link, upload
from webapp.services.completion_retry import complete_pending, documents_awaiting_completion


def test_completion_waits_for_the_tsa_then_finishes(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    document_id = upload(service)
    add_recipient(service, document_id, name="甲 一郎", email="ichiro@example.jp")
    assert (
        service.client.post(
            f"/api/v1/documents/{document_id}/send", headers=service.auth
        ).status_code
        == 200
    )
    token = service.link_token("ichiro@example.jp")
    session = open_link(service, token)

    with closing_step_down(service.context):
        agreed = service.client.post(
            f"/api/v1/r/{token}/agree", headers={"Authorization": f"Bearer {session}"}
        )
        assert agreed.status_code == 200, agreed.text
        status = service.client.get(f"/api/v1/documents/{document_id}", headers=service.auth)
        assert status.json()["status"] == "sent"
        assert complete_pending(service.context) == 0  # still down: nothing changes
    status = service.client.get(f"/api/v1/documents/{document_id}", headers=service.auth).json()
    assert status["status"] == "sent"
    assert status["recipients"][0]["status"] == "agreed"
    assert documents_awaiting_completion(service.context) == [document_id]
    assert complete_pending(service.context) == 1
    status = service.client.get(f"/api/v1/documents/{document_id}", headers=service.auth).json()
    assert status["status"] == "completed"
    assert documents_awaiting_completion(service.context) == []
    assert any(m.attachment_filename for m in service.mails_to("ichiro@example.jp"))
