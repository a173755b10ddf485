"""Files at rest: encrypted per document, kept in a local directory or an S3 bucket.

    EncryptedFileStore(blobs)            .write / .open_read / .read_to / .decrypt_to / .delete
    KeyEncryptionKey                     wraps each document's data key (`encryption.py`)
    blob_store_for(settings)             the back end `MYNASIGN_STORAGE` names (local or s3)
    LocalBlobStore(root) / S3BlobStore   the back ends (`blobs.py`, `s3.py`)

The encryption layer (`encryption.py`) sits on top of a `BlobStore` (`blobs.py`), which
only keeps opaque bytes and makes each blob appear whole or not at all. Scratch files (the
plaintext a PDF step works on) never go to the blob store: they stay in the local data
directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from webapp.storage.blobs import BlobNotFoundError, BlobReader, BlobStore, LocalBlobStore
from webapp.storage.encryption import (
    CHUNK_SIZE,
    DATA_KEY_BYTES,
    HEADER_BYTES,
    KEY_BYTES,
    TAG_BYTES,
    BinarySink,
    BinarySource,
    EncryptedFileStore,
    FileIntegrityError,
    KeyEncryptionKey,
    KeyFormatError,
    StoredBlob,
    new_data_key,
)

if TYPE_CHECKING:
    from webapp.settings import Settings

LOCAL_FILES_DIR = "files"
"""The local back end's directory inside the data directory."""


def blob_store_for(settings: Settings) -> BlobStore:
    """The blob store `MYNASIGN_STORAGE` chooses: `<data dir>/files`, or the S3 bucket.

    For S3 the bucket is tried at once: a `ConfigurationError` if it cannot be used.
    """
    if settings.storage == "s3":
        from webapp.settings import ConfigurationError, env_name  # noqa: PLC0415
        from webapp.storage.s3 import StorageUnavailableError, s3_blob_store  # noqa: PLC0415

        store = s3_blob_store(settings)
        try:
            store.check()
        except StorageUnavailableError as exc:
            names = ", ".join(env_name(f) for f in ("s3_bucket", "s3_endpoint_url", "s3_region"))
            hint = f"check {names} and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
            raise ConfigurationError([f"{exc} ({hint})"]) from exc
        return store
    return LocalBlobStore(Path(settings.data_dir) / LOCAL_FILES_DIR)


__all__ = [
    "CHUNK_SIZE",
    "DATA_KEY_BYTES",
    "HEADER_BYTES",
    "KEY_BYTES",
    "LOCAL_FILES_DIR",
    "TAG_BYTES",
    "BinarySink",
    "BinarySource",
    "BlobNotFoundError",
    "BlobReader",
    "BlobStore",
    "EncryptedFileStore",
    "FileIntegrityError",
    "KeyEncryptionKey",
    "KeyFormatError",
    "LocalBlobStore",
    "StoredBlob",
    "blob_store_for",
    "new_data_key",
]
