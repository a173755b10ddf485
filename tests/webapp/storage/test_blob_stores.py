"""The blob stores, local and S3 (moto's server over real HTTP), held to the same behaviour."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from typing import Any

import pytest

from tests.webapp.storage.conftest import stored_names
from tests.webapp.storage.streams import HashingSink, RandomSource
from webapp.storage import (
    BlobNotFoundError,
    BlobStore,
    EncryptedFileStore,
    FileIntegrityError,
    KeyEncryptionKey,
    LocalBlobStore,
)
from webapp.storage.s3 import PART_SIZE, S3BlobStore

MB = 1024 * 1024
NAME = "ab/doc-r1-" + "0" * 32


@pytest.fixture
def data_key() -> bytes:
    return KeyEncryptionKey.generate().new_data_key()[0]


@pytest.mark.parametrize("size", [0, 1, 1000, MB + 7, PART_SIZE + 3 * MB])
def test_round_trip_through_the_encryption(blobs: BlobStore, data_key: bytes, size: int) -> None:
    files = EncryptedFileStore(blobs)
    plaintext = os.urandom(size)
    blob = files.write(data_key, "contract.pdf", io.BytesIO(plaintext))
    assert (blob.sha256, blob.size) == (hashlib.sha256(plaintext).hexdigest(), size)
    assert stored_names(blobs) == [blob.blob_name]
    with files.open_read(data_key, blob.blob_name) as reader:
        assert reader.read() == plaintext
    out = io.BytesIO()
    assert files.read_to(data_key, blob.blob_name, out) == blob
    assert out.getvalue() == plaintext
    raw = blobs.open_read(blob.blob_name)
    try:
        stored = raw.read(raw.size + 1)
    finally:
        raw.close()
    assert len(stored) == raw.size and (size < 16 or plaintext[:16] not in stored)


def test_a_blob_appears_only_when_written_whole(blobs: BlobStore) -> None:
    with blobs.writing(NAME) as sink:
        for _ in range(7):  # more than one S3 part
            sink.write(b"x" * MB)
        with pytest.raises(BlobNotFoundError):
            blobs.open_read(NAME)
    reader = blobs.open_read(NAME)
    try:
        assert reader.size == 7 * MB and reader.read(10) == b"x" * 10
    finally:
        reader.close()


@pytest.mark.parametrize("fail_after", [0, 100, PART_SIZE + 2 * MB])
def test_a_failed_write_leaves_nothing(blobs: BlobStore, data_key: bytes, fail_after: int) -> None:
    files = EncryptedFileStore(blobs)
    kept = files.write(data_key, "kept", io.BytesIO(b"%PDF-1.7"))
    with pytest.raises(OSError, match="interrupted"):
        files.write(data_key, "broken", RandomSource(20 * MB, fail_after=fail_after))
    assert stored_names(blobs) == [kept.blob_name]  # no temporary file, no open upload


def test_a_missing_blob_is_named(blobs: BlobStore, data_key: bytes) -> None:
    files = EncryptedFileStore(blobs)
    blob = files.write(data_key, "gone", io.BytesIO(b"x"))
    files.delete(blob.blob_name)
    files.delete(blob.blob_name)  # absent is fine
    with pytest.raises(BlobNotFoundError, match=blob.blob_name) as caught:
        files.open_read(data_key, blob.blob_name)
    assert isinstance(caught.value, FileNotFoundError)
    where = "directory" if isinstance(blobs, LocalBlobStore) else "S3 bucket"
    assert where in str(caught.value)
    with pytest.raises(BlobNotFoundError):
        files.decrypt_to(data_key, blob.blob_name, io.BytesIO())


def test_names_are_checked(blobs: BlobStore, data_key: bytes) -> None:
    files = EncryptedFileStore(blobs)
    for bad in ("../../etc/passwd", "/etc/passwd", "ab/x", NAME + "/.."):
        with pytest.raises(ValueError, match="not a blob name"):
            files.open_read(data_key, bad)
        with pytest.raises(ValueError, match="not a blob name"):
            files.delete(bad)
    with pytest.raises(ValueError, match="label"):
        files.write(data_key, "../x", io.BytesIO(b"x"))


def test_a_changed_blob_fails_authentication(blobs: BlobStore, data_key: bytes) -> None:
    files = EncryptedFileStore(blobs)
    blob = files.write(data_key, "rev", io.BytesIO(os.urandom(3000)))
    reader = blobs.open_read(blob.blob_name)
    try:
        stored = bytearray(reader.read(reader.size))
    finally:
        reader.close()
    stored[-5] ^= 1
    with blobs.writing(blob.blob_name) as sink:  # someone with access to the bucket
        sink.write(bytes(stored))
    with pytest.raises(FileIntegrityError):
        files.decrypt_to(data_key, blob.blob_name, io.BytesIO())


def test_20_mb_streams_with_bounded_memory(blobs: BlobStore, data_key: bytes) -> None:
    size = 20 * MB
    files = EncryptedFileStore(blobs)  # 1 MiB chunks, 5 MiB S3 parts
    source, sink = RandomSource(size), HashingSink()
    tracemalloc.start()
    try:
        blob = files.write(data_key, "large.pdf", source)
        written_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        assert files.read_to(data_key, blob.blob_name, sink) == blob
        read_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (blob.size, blob.sha256) == (size, source.sha256.hexdigest())
    assert (sink.size, sink.sha256.hexdigest()) == (size, blob.sha256)
    # a whole file would be 20 MiB (see test_encryption.py's check that the measure sees it)
    limit = 10 * MB if isinstance(blobs, S3BlobStore) else 5 * MB  # one 5 MiB part + chunks
    assert written_peak < limit, f"writing peaked at {written_peak / MB:.1f} MiB"
    assert read_peak < 5 * MB, f"reading peaked at {read_peak / MB:.1f} MiB"


def test_s3_objects_live_under_the_prefix(s3: Any, bucket: str, data_key: bytes) -> None:
    files = EncryptedFileStore(S3BlobStore(s3, bucket, prefix="tenant-a/"))
    blob = files.write(data_key, "doc", io.BytesIO(b"%PDF"))
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [f"tenant-a/{blob.blob_name}"]
    assert files.open_read(data_key, blob.blob_name).read() == b"%PDF"
