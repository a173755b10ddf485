"""Files at rest, under their former name: everything lives in `webapp.storage` now.

Kept so that `from webapp.files import EncryptedFileStore, KeyEncryptionKey, ...` goes on
working; new code imports from `webapp.storage`.
"""

from webapp.storage.encryption import (
    CHUNK_SIZE,
    DATA_KEY_BYTES,
    FORMAT_VERSION,
    HEADER_BYTES,
    KEY_BYTES,
    MAGIC,
    MAX_CHUNK_SIZE,
    SALT_BYTES,
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

__all__ = [
    "CHUNK_SIZE",
    "DATA_KEY_BYTES",
    "FORMAT_VERSION",
    "HEADER_BYTES",
    "KEY_BYTES",
    "MAGIC",
    "MAX_CHUNK_SIZE",
    "SALT_BYTES",
    "TAG_BYTES",
    "BinarySink",
    "BinarySource",
    "EncryptedFileStore",
    "FileIntegrityError",
    "KeyEncryptionKey",
    "KeyFormatError",
    "StoredBlob",
    "new_data_key",
]
