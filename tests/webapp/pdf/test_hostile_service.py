"""The hostile-PDF corpus through the service: refused at upload with its code, or sent,
agreed and completed; and a document stored before the check knew better is refused at
send with the same words instead of a 500.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx2
import pytest
from fastapi.testclient import TestClient

from tests.webapp.conftest import Service, with_sender
from tests.webapp.pdf.hostile_corpus import ACCEPTED, REFUSED, Case, corpus_file
from tests.webapp.test_api_flow import add_recipient, open_link
from webapp.app import create_app
from webapp.db.models import Document
from webapp.services import revisions
from webapp.settings import load_settings

QUICK_REFUSED = [case for case in REFUSED if not case.slow]
QUICK_ACCEPTED = [case for case in ACCEPTED if not case.slow]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One running app for the module: the corpus is about files, not about fresh state."""
    data_dir = tmp_path_factory.mktemp("hostile") / "var"
    settings = load_settings(environment="development", data_dir=data_dir)
    with TestClient(create_app(settings)) as client:
        yield with_sender(client)


def document_count(service: Service) -> int:
    return int(service.client.get("/api/v1/documents", headers=service.auth).json()["total"])


def post_upload(service: Service, data: bytes, title: str = "契約書") -> httpx2.Response:
    return service.client.post(
        "/api/v1/documents",
        headers=service.auth,
        files={"file": ("contract.pdf", data, "application/pdf")},
        data={"title": title},
    )


@pytest.mark.parametrize("case", QUICK_REFUSED, ids=[case.name for case in QUICK_REFUSED])
def test_a_hostile_upload_is_refused_with_its_code(service: Service, case: Case) -> None:
    before = document_count(service)
    response = post_upload(service, corpus_file(case.name))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == f"pdf_{case.refused_with}"
    assert (
        error["message_ja"] and error["message_en"] and error["message_ja"] != error["message_en"]
    )
    assert document_count(service) == before  # nothing half-accepted


@pytest.mark.parametrize("case", QUICK_ACCEPTED, ids=[case.name for case in QUICK_ACCEPTED])
def test_an_accepted_upload_is_sent_agreed_and_completed(service: Service, case: Case) -> None:
    response = post_upload(service, corpus_file(case.name))
    assert response.status_code == 201, response.text
    document_id = response.json()["id"]
    add_recipient(service, document_id, name="甲 一郎", email="ichiro@example.jp")
    sent = service.client.post(f"/api/v1/documents/{document_id}/send", headers=service.auth)
    assert sent.status_code == 200, sent.text
    token = service.link_token("ichiro@example.jp")
    session = open_link(service, token)
    agreed = service.client.post(
        f"/api/v1/r/{token}/agree", headers={"Authorization": f"Bearer {session}"}
    )
    assert agreed.status_code == 200, agreed.text
    status = service.client.get(f"/api/v1/documents/{document_id}", headers=service.auth)
    assert status.json()["status"] == "completed", status.text
    final = service.client.get(f"/api/v1/documents/{document_id}/pdf", headers=service.auth)
    assert final.status_code == 200 and final.content.startswith(b"%PDF")


SEND_TIME = [
    "page-tree-5000-deep",
    "media-box-chain-3000",
    "self-referencing-media-box",
    "metadata-bomb-50mb",
    "docmdp-no-changes",
    "javascript-open-action",
]


@pytest.mark.parametrize("name", SEND_TIME)
def test_a_document_stored_before_the_check_is_refused_at_send_not_a_500(
    service: Service, name: str
) -> None:
    """The issue's eight kinds passed the old check and then failed `send` with a 500."""
    response = post_upload(service, corpus_file("plain"))
    document_id = response.json()["id"]
    address = f"{name}@example.jp"
    add_recipient(service, document_id, name="甲 一郎", email=address)
    ctx = service.context
    with ctx.sessions() as db, db.begin():  # what an older version of the check let in
        document = db.get(Document, document_id)
        assert document is not None
        row = revisions.current_revision(db, document)
        blob = ctx.files.write(
            revisions.data_key(ctx, document),
            f"{document_id}-legacy",
            io.BytesIO(corpus_file(name)),
        )
        row.blob_name, row.sha256, row.size = blob.blob_name, blob.sha256, blob.size
    sent = service.client.post(f"/api/v1/documents/{document_id}/send", headers=service.auth)
    assert sent.status_code == 400, sent.text
    error = sent.json()["error"]
    expected = next(case for case in REFUSED if case.name == name).refused_with
    assert error["code"] == f"pdf_{expected}"
    assert error["message_ja"] and error["message_en"]
    status = service.client.get(f"/api/v1/documents/{document_id}", headers=service.auth)
    assert status.json()["status"] == "draft"
    assert service.mails_to(address) == []
