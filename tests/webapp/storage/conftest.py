"""Fixtures for the blob stores: a moto S3 server, a fresh bucket, and each back end."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.webapp.storage.s3_server import moto_s3_server
from webapp.storage import BlobStore, LocalBlobStore
from webapp.storage.s3 import S3BlobStore, s3_client

REGION = "us-east-1"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with moto_s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto takes any credentials; boto3 must find some (the standard variables)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3(s3_endpoint: str, aws_credentials: None) -> Any:
    return s3_client(endpoint_url=s3_endpoint, region=REGION)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"mynasign-{secrets.token_hex(6)}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """Each back end in turn: the same behaviour is asked of both."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "files")
    s3, bucket = request.getfixturevalue("s3"), request.getfixturevalue("bucket")
    return S3BlobStore(s3, bucket)


def stored_names(blobs: BlobStore) -> list[str]:
    """Everything the back end holds, including unfinished writes (temporary files and
    multipart uploads not completed)."""
    if isinstance(blobs, LocalBlobStore):
        if not blobs.root.exists():
            return []
        return sorted(str(p.relative_to(blobs.root)) for p in blobs.root.rglob("*") if p.is_file())
    assert isinstance(blobs, S3BlobStore)
    client: Any = blobs.client
    objects = client.list_objects_v2(Bucket=blobs.bucket).get("Contents", [])
    uploads = client.list_multipart_uploads(Bucket=blobs.bucket).get("Uploads", [])
    return sorted([o["Key"] for o in objects] + [f"upload:{u['Key']}" for u in uploads])
