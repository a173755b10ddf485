"""One whole document flow with MYNASIGN_STORAGE=s3: upload, send, agree, completed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.webapp.conftest import Service, with_sender
from tests.webapp.test_api_flow import add_recipient, open_link, upload
from webapp.app import create_app
from webapp.db.models import DocumentRevision
from webapp.settings import load_settings


@pytest.fixture
def s3_service(
    tmp_path: Path, s3_endpoint: str, bucket: str, aws_credentials: None
) -> Iterator[Service]:
    settings = load_settings(
        environment="development", data_dir=tmp_path / "var", storage="s3", s3_bucket=bucket,
        s3_endpoint_url=s3_endpoint, s3_region="us-east-1",
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:
        yield with_sender(client)


def test_a_document_is_completed_with_its_files_in_s3(
    s3_service: Service, s3: Any, bucket: str
) -> None:
    service = s3_service
    document_id = upload(service)
    add_recipient(service, document_id, name="甲 一郎", email="ichiro@example.jp")
    sent = service.client.post(f"/api/v1/documents/{document_id}/send", headers=service.auth)
    assert sent.status_code == 200, sent.text
    token = service.link_token("ichiro@example.jp")
    session = open_link(service, token)
    auth = {"Authorization": f"Bearer {session}"}
    assert service.client.get(f"/api/v1/r/{token}/pdf", headers=auth).content.startswith(b"%PDF")
    agreed = service.client.post(f"/api/v1/r/{token}/agree", headers=auth)
    assert agreed.status_code == 200, agreed.text

    status = service.client.get(f"/api/v1/documents/{document_id}", headers=service.auth).json()
    assert status["status"] == "completed"
    final = service.client.get(f"/api/v1/documents/{document_id}/pdf", headers=service.auth)
    assert final.status_code == 200 and final.content.startswith(b"%PDF")
    assert final.content.count(b"/ByteRange") >= 3  # sending seal, agreement, closing seal

    with service.context.sessions() as db:
        recorded = {r.blob_name for r in db.query(DocumentRevision)}
    objects = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert recorded and recorded <= objects  # every revision is an object in the bucket
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    data_dir = service.context.settings.data_dir
    assert not (data_dir / "files").exists()  # nothing kept locally but scratch
    attachment = service.mails_to("ichiro@example.jp")[-1].attachment_blob_name
    assert attachment in objects  # the completion mail's attachment comes from the bucket
