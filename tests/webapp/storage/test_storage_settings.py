"""`MYNASIGN_STORAGE` and the S3 settings: checked at start, with messages that say what to do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from webapp.settings import ConfigurationError, get_settings, load_settings
from webapp.storage import LocalBlobStore, blob_store_for
from webapp.storage.s3 import S3BlobStore


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("MYNASIGN_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()


def test_local_is_the_default(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.storage == "local"
    store = blob_store_for(settings)
    assert isinstance(store, LocalBlobStore) and store.root == tmp_path / "files"


def test_s3_without_a_bucket_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MYNASIGN_STORAGE", "s3")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(data_dir=tmp_path)
    assert "MYNASIGN_S3_BUCKET is required with MYNASIGN_STORAGE=s3" in str(caught.value)


def test_s3_settings_without_s3_storage_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(data_dir=tmp_path, s3_bucket="documents", s3_region="ap-northeast-1")
    text = str(caught.value)
    assert "MYNASIGN_S3_BUCKET only goes with MYNASIGN_STORAGE=s3" in text
    assert "MYNASIGN_S3_REGION only goes with MYNASIGN_STORAGE=s3" in text


def test_unknown_storage_and_bad_endpoint_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(data_dir=tmp_path, storage="gcs", s3_endpoint_url="minio:9000")
    text = str(caught.value)
    assert "MYNASIGN_STORAGE" in text and "'local' or 's3'" in text
    assert "MYNASIGN_S3_ENDPOINT_URL" in text and "http://" in text


def test_s3_store_from_settings(
    s3_endpoint: str, bucket: str, aws_credentials: None, tmp_path: Path
) -> None:
    settings = load_settings(
        data_dir=tmp_path, storage="s3", s3_bucket=bucket,
        s3_endpoint_url=s3_endpoint + "/", s3_region="us-east-1",
    )  # fmt: skip
    assert settings.s3_endpoint_url == s3_endpoint
    store = blob_store_for(settings)
    assert isinstance(store, S3BlobStore) and store.bucket == bucket


def test_a_bucket_that_cannot_be_used_stops_the_start(
    s3_endpoint: str, aws_credentials: None, tmp_path: Path
) -> None:
    settings = load_settings(
        data_dir=tmp_path, storage="s3", s3_bucket="no-such-bucket",
        s3_endpoint_url=s3_endpoint, s3_region="us-east-1",
    )  # fmt: skip
    with pytest.raises(ConfigurationError) as caught:
        blob_store_for(settings)
    text = str(caught.value)
    assert "the S3 bucket 'no-such-bucket' cannot be used" in text
    assert "AWS_ACCESS_KEY_ID" in text and "MYNASIGN_S3_ENDPOINT_URL" in text
