"""Encryption at rest: AES-256-GCM in chunks, one data key per document, wrapped by the KEK.

The key-encryption key (KEK) comes from configuration; each document has its own random
data key, stored only wrapped by the KEK (`Document.data_key_wrapped`).

A stored file is a header followed by chunks:

    header  = b"MNSF" | version (1 byte) | chunk size (4 bytes, big-endian) | salt (16 bytes)
    chunk i = AES-256-GCM(file key, nonce = i as 12 bytes big-endian,
                          aad = header | i as 8 bytes | 1 if last chunk else 0)

The file key is HKDF-SHA256 of the document's data key with the file's random salt and its
blob name, so every file has its own key (nonces never repeat under a key, and a file
cannot be passed off under another file's name). Every chunk but the last holds exactly
`chunk size` bytes of plaintext; the last holds the rest (nothing, for an empty file) and
says it is last; a reader knows which chunk is last from the file's size. Changed,
reordered, dropped or appended chunks, a file cut short, and a wrong key all fail
authentication: `FileIntegrityError`. Reading and writing stream: a few chunks in memory,
whatever the file's size. The encrypted bytes are kept by a blob store
(`webapp.storage.blobs`: a local directory or S3), which makes each file appear whole or
not at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from webapp.storage.blobs import (
    LABEL_RE,
    BlobReader,
    BlobStore,
    LocalBlobStore,
    check_blob_name,
)

KEY_BYTES = 32
DATA_KEY_BYTES = KEY_BYTES
WRAP_FORMAT_VERSION = 1
SECRET_FORMAT_VERSION = 1
KEK_FINGERPRINT_BYTES = 8
CHUNK_SIZE = 1 << 20
MAX_CHUNK_SIZE = 16 << 20
MAGIC = b"MNSF"
FORMAT_VERSION = 1
SALT_BYTES = 16
TAG_BYTES = 16
HEADER_BYTES = len(MAGIC) + 1 + 4 + SALT_BYTES


class FileIntegrityError(Exception):
    """A stored file is not what was written: changed, cut short, or the wrong key."""


class KeyFormatError(ValueError):
    """A key is malformed, or a wrapped key or sealed secret does not open with this KEK."""


class KeyEncryptionKey:
    """The key-encryption key (KEK) from configuration: wraps documents' data keys.

    A wrapped data key is `version (1 byte) | KEK fingerprint (8 bytes) | AES key wrap
    (RFC 3394) of the data key`, so a key wrapped by another KEK (after a rotation, or a
    wrong configuration) is named as such rather than failing obscurely. The KEK also seals
    small secrets (TOTP seeds) with AES-256-GCM under a key derived from it.
    """

    __slots__ = ("_key", "fingerprint")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise KeyFormatError(f"a key-encryption key is {KEY_BYTES} bytes, not {len(key)}")
        self._key = bytes(key)
        digest = hashlib.sha256(b"mynasign kek fingerprint\x00" + self._key).digest()
        self.fingerprint = digest[:KEK_FINGERPRINT_BYTES]
        """A short public name of this KEK (a hash; reveals nothing of the key)."""

    @classmethod
    def from_base64(cls, text: str) -> KeyEncryptionKey:
        """The KEK from its base64 text (standard or URL-safe alphabet), 32 bytes."""
        cleaned = "".join(text.split()).rstrip("=").replace("-", "+").replace("_", "/")
        try:
            key = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
        except binascii.Error as error:
            raise KeyFormatError(f"the key-encryption key is not base64: {error}") from None
        return cls(key)

    @classmethod
    def generate(cls) -> KeyEncryptionKey:
        """A fresh random KEK (development; production takes one from configuration)."""
        return cls(secrets.token_bytes(KEY_BYTES))

    def to_base64(self) -> str:
        """The base64 text `from_base64` reads."""
        return base64.b64encode(self._key).decode("ascii")

    def __repr__(self) -> str:
        return f"KeyEncryptionKey(fingerprint={self.fingerprint.hex()})"

    def new_data_key(self) -> tuple[bytes, bytes]:
        """A fresh random data key for one document: (the key, the key wrapped by this KEK)."""
        data_key = secrets.token_bytes(DATA_KEY_BYTES)
        return data_key, self.wrap(data_key)

    def wrap(self, data_key: bytes) -> bytes:
        """The data key wrapped for storage in `Document.data_key_wrapped`."""
        if len(data_key) != DATA_KEY_BYTES:
            raise KeyFormatError(f"a data key is {DATA_KEY_BYTES} bytes")
        return bytes([WRAP_FORMAT_VERSION]) + self.fingerprint + aes_key_wrap(self._key, data_key)

    def unwrap(self, wrapped: bytes) -> bytes:
        """The data key from its wrapped form; `KeyFormatError` when this KEK did not wrap it."""
        if len(wrapped) < 1 + KEK_FINGERPRINT_BYTES or wrapped[0] != WRAP_FORMAT_VERSION:
            raise KeyFormatError("not a wrapped data key of a known format")
        if wrapped[1 : 1 + KEK_FINGERPRINT_BYTES] != self.fingerprint:
            raise KeyFormatError("the data key was wrapped by another key-encryption key")
        try:
            return aes_key_unwrap(self._key, wrapped[1 + KEK_FINGERPRINT_BYTES :])
        except InvalidUnwrap:
            raise KeyFormatError("the wrapped data key was changed") from None

    def encrypt_secret(self, plaintext: bytes, *, purpose: str) -> bytes:
        """A small secret sealed for storage; `purpose` (e.g. "totp:<user id>") must match."""
        nonce = secrets.token_bytes(12)
        sealed = self._secrets_cipher().encrypt(nonce, plaintext, _purpose_aad(purpose))
        return bytes([SECRET_FORMAT_VERSION]) + nonce + sealed

    def decrypt_secret(self, sealed: bytes, *, purpose: str) -> bytes:
        """The secret `encrypt_secret` sealed; `KeyFormatError` when it does not open."""
        if len(sealed) < 1 + 12 + TAG_BYTES or sealed[0] != SECRET_FORMAT_VERSION:
            raise KeyFormatError("not a sealed secret of a known format")
        try:
            return self._secrets_cipher().decrypt(sealed[1:13], sealed[13:], _purpose_aad(purpose))
        except InvalidTag:
            raise KeyFormatError(
                "the sealed secret does not open with this key and purpose"
            ) from None

    def _secrets_cipher(self) -> AESGCM:
        info = b"mynasign sealed secrets v1"
        return AESGCM(HKDF(hashes.SHA256(), KEY_BYTES, None, info).derive(self._key))


def new_data_key(kek: KeyEncryptionKey) -> tuple[bytes, bytes]:
    """A fresh data key for one document and its wrapped form (`kek.new_data_key()`)."""
    return kek.new_data_key()


def _purpose_aad(purpose: str) -> bytes:
    return b"mynasign secret\x00" + purpose.encode("utf-8")


class BinarySource(Protocol):
    """What `write` reads from: an open binary file, an upload's spool, a pipe."""

    def read(self, size: int, /) -> bytes: ...


class BinarySink(Protocol):
    """What `read_to` writes to."""

    def write(self, data: bytes, /) -> object: ...


class StoredBlob(NamedTuple):
    """A stored file: its name in the store, and its plaintext's SHA-256 (hex) and size."""

    blob_name: str
    sha256: str
    size: int


class EncryptedFileStore:
    """Encrypted files in a blob store, named `<2 hex>/<name>-<32 random hex>`.

    `blobs` is a `BlobStore` (a local directory or S3), or a directory path for the local one.
    """

    def __init__(self, blobs: BlobStore | Path, *, chunk_size: int = CHUNK_SIZE) -> None:
        if not 0 < chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk size must be 1 to {MAX_CHUNK_SIZE} bytes")
        self.blobs: BlobStore = LocalBlobStore(blobs) if isinstance(blobs, Path) else blobs
        self.chunk_size = chunk_size

    @property
    def root(self) -> Path:
        """The directory of a local store (`TypeError` for another back end)."""
        if not isinstance(self.blobs, LocalBlobStore):
            raise TypeError(f"{self.blobs!r} is not a local directory")
        return self.blobs.root

    def write(self, document_data_key: bytes, name: str, source: BinarySource) -> StoredBlob:
        """Encrypt everything `source` yields into a new file; `name` is a readable label."""
        if not LABEL_RE.fullmatch(name):
            raise ValueError(f"a blob label is letters, digits, '.', '_' or '-': {name!r}")
        random_part = secrets.token_hex(16)
        blob_name = f"{random_part[:2]}/{name}-{random_part}"
        header = _header(self.chunk_size, secrets.token_bytes(SALT_BYTES))
        cipher = AESGCM(_file_key(document_data_key, header, blob_name))
        with self.blobs.writing(blob_name) as output:
            output.write(header)
            sha256, size = _encrypt_chunks(cipher, header, self.chunk_size, source, output)
        return StoredBlob(blob_name, sha256, size)

    def open_read(self, document_data_key: bytes, blob_name: str) -> BinaryIO:
        """A reader of the plaintext; every byte it gives has been authenticated.

        A file cut short is only noticed at its end: treat a `FileIntegrityError` from any
        read as the failure of everything read so far. A missing file: `BlobNotFoundError`
        (a `FileNotFoundError`).
        """
        return io.BufferedReader(self._open(document_data_key, blob_name))

    def read_to(self, document_data_key: bytes, blob_name: str, output: BinarySink) -> StoredBlob:
        """Decrypt the whole file into `output`; its SHA-256 and size, to check a record."""
        digest, size = hashlib.sha256(), 0
        with self._open(document_data_key, blob_name) as reader:
            for chunk in reader.chunks():
                digest.update(chunk)
                size += len(chunk)
                output.write(chunk)
        return StoredBlob(blob_name, digest.hexdigest(), size)

    def decrypt_to(self, document_data_key: bytes, blob_name: str, output: BinarySink) -> None:
        """Decrypt the whole file into `output`, nothing more (AES-GCM authenticates each
        chunk: no SHA-256 is needed to trust it)."""
        with self._open(document_data_key, blob_name) as reader:
            for chunk in reader.chunks():
                output.write(chunk)

    def delete(self, blob_name: str) -> None:
        """Remove a file (a prepared revision no longer needed); absent is fine."""
        self.blobs.delete(check_blob_name(blob_name))

    def _open(self, document_data_key: bytes, blob_name: str) -> _DecryptingReader:
        file = self.blobs.open_read(check_blob_name(blob_name))
        try:
            header = _read_full(file, HEADER_BYTES)
            chunk_size = _parse_header(header)
            cipher = AESGCM(_file_key(document_data_key, header, blob_name))
            sealed_length = file.size - HEADER_BYTES
        except BaseException:
            file.close()
            raise
        return _DecryptingReader(file, cipher, header, chunk_size, sealed_length)


class _DecryptingReader(io.RawIOBase):
    """Decrypts and authenticates one chunk at a time; the file's size says which is last."""

    def __init__(
        self, file: BlobReader, cipher: AESGCM, header: bytes, chunk_size: int, sealed_length: int
    ) -> None:
        super().__init__()
        self._file = file
        self._cipher = cipher
        self._header = header
        self._sealed_size = chunk_size + TAG_BYTES
        self._chunk_count = max(1, -(-sealed_length // self._sealed_size))
        self._index = 0
        self._plaintext = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._plaintext and self._index < self._chunk_count:
            self._plaintext.release()
            self._plaintext = memoryview(self._next_chunk())
        count = min(len(buffer), len(self._plaintext))
        buffer[:count] = self._plaintext[:count]
        self._plaintext = self._plaintext[count:]
        return count

    def chunks(self) -> Iterator[bytes]:
        """The remaining plaintext, chunk by chunk."""
        while self._index < self._chunk_count:
            yield self._next_chunk()

    def close(self) -> None:
        if not self.closed:
            self._plaintext.release()
            self._file.close()
        super().close()

    def _next_chunk(self) -> bytes:
        index, last = self._index, self._index == self._chunk_count - 1
        sealed = _read_full(self._file, self._sealed_size)
        try:
            plaintext = self._cipher.decrypt(_nonce(index), sealed, _aad(self._header, index, last))
        except InvalidTag:
            raise FileIntegrityError(
                f"chunk {index} failed authentication: the file was changed or cut short, "
                "or this is not its document's key"
            ) from None
        self._index += 1
        return plaintext


def _encrypt_chunks(
    cipher: AESGCM, header: bytes, chunk_size: int, source: BinarySource, output: BinarySink
) -> tuple[str, int]:
    digest, size, index = hashlib.sha256(), 0, 0
    current = _read_full(source, chunk_size)
    while True:
        following = _read_full(source, chunk_size) if len(current) == chunk_size else b""
        last = not following
        digest.update(current)
        size += len(current)
        output.write(cipher.encrypt(_nonce(index), current, _aad(header, index, last)))
        if last:
            return digest.hexdigest(), size
        current, index = following, index + 1


def _header(chunk_size: int, salt: bytes) -> bytes:
    return MAGIC + bytes([FORMAT_VERSION]) + chunk_size.to_bytes(4, "big") + salt


def _parse_header(header: bytes) -> int:
    if len(header) != HEADER_BYTES or not header.startswith(MAGIC):
        raise FileIntegrityError("not an encrypted file of this store (bad header)")
    if header[len(MAGIC)] != FORMAT_VERSION:
        raise FileIntegrityError(f"unknown file format version {header[len(MAGIC)]}")
    chunk_size = int.from_bytes(header[len(MAGIC) + 1 : len(MAGIC) + 5], "big")
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise FileIntegrityError(f"impossible chunk size {chunk_size} in the header")
    return chunk_size


def _file_key(document_data_key: bytes, header: bytes, blob_name: str) -> bytes:
    if len(document_data_key) != DATA_KEY_BYTES:
        raise ValueError(f"a document data key is {DATA_KEY_BYTES} bytes")
    salt = header[-SALT_BYTES:]
    info = b"mynasign file key v1\x00" + blob_name.encode("ascii")
    return HKDF(hashes.SHA256(), 32, salt, info).derive(document_data_key)


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + index.to_bytes(8, "big") + (b"\x01" if last else b"\x00")


def _read_full(source: BinarySource, size: int) -> bytes:
    """Up to `size` bytes, fewer only at the end (pipes and sockets give short reads)."""
    data = source.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    missing = size - len(data)
    while missing and (more := source.read(missing)):
        parts.append(more)
        missing -= len(more)
    return b"".join(parts)
