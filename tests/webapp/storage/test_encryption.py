"""The encrypted file store and the key-encryption key: round trips, and tampering found."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from webapp.storage import (
    HEADER_BYTES,
    TAG_BYTES,
    EncryptedFileStore,
    FileIntegrityError,
    KeyEncryptionKey,
    KeyFormatError,
    new_data_key,
)

SMALL_CHUNK = 64
SEALED_CHUNK = SMALL_CHUNK + TAG_BYTES


@pytest.fixture
def kek() -> KeyEncryptionKey:
    return KeyEncryptionKey.generate()


@pytest.fixture
def data_key(kek: KeyEncryptionKey) -> bytes:
    return kek.new_data_key()[0]


@pytest.fixture
def store(tmp_path: Path) -> EncryptedFileStore:
    return EncryptedFileStore(tmp_path / "files", chunk_size=SMALL_CHUNK)


class ShortReads(io.RawIOBase):
    """A source that gives at most a few bytes per read, like a pipe."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self._data, self._step, self._position = data, step, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self._step if size < 0 else min(size, self._step)
        piece = self._data[self._position : self._position + size]
        self._position += len(piece)
        return piece


def decrypt(store: EncryptedFileStore, data_key: bytes, blob_name: str) -> bytes:
    with store.open_read(data_key, blob_name) as reader:
        return reader.read()


# The key-encryption key


def test_kek_from_base64_in_either_alphabet() -> None:
    raw = bytes(range(200, 232))
    standard = base64.b64encode(raw).decode()
    url_safe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert "+" in standard or "/" in standard
    for text in (standard, url_safe, f"  {standard[:20]}\n{standard[20:]} "):
        kek = KeyEncryptionKey.from_base64(text)
        assert kek.to_base64() == standard
    assert raw.hex() not in repr(kek) and standard not in repr(kek)


@pytest.mark.parametrize(
    "text", ["", base64.b64encode(bytes(16)).decode(), base64.b64encode(bytes(33)).decode(), "k*y"]
)
def test_kek_must_be_32_bytes_of_base64(text: str) -> None:
    with pytest.raises(KeyFormatError):
        KeyEncryptionKey.from_base64(text)


def test_data_keys_wrap_and_unwrap(kek: KeyEncryptionKey) -> None:
    data_key, wrapped = kek.new_data_key()
    assert len(data_key) == 32 and data_key not in wrapped and len(wrapped) == 49
    assert kek.unwrap(wrapped) == data_key
    other_key, _ = new_data_key(kek)
    assert other_key != data_key
    with pytest.raises(KeyFormatError, match="another key-encryption key"):
        KeyEncryptionKey.generate().unwrap(wrapped)
    with pytest.raises(KeyFormatError, match="changed"):
        kek.unwrap(wrapped[:-1] + bytes([wrapped[-1] ^ 1]))
    with pytest.raises(KeyFormatError):
        kek.unwrap(b"\x02" + wrapped[1:])


def test_small_secrets_are_sealed_for_one_purpose(kek: KeyEncryptionKey) -> None:
    sealed = kek.encrypt_secret(b"JBSWY3DPEHPK3PXP", purpose="totp:user1")
    assert b"JBSWY3DPEHPK3PXP" not in sealed
    assert kek.decrypt_secret(sealed, purpose="totp:user1") == b"JBSWY3DPEHPK3PXP"
    assert sealed != kek.encrypt_secret(b"JBSWY3DPEHPK3PXP", purpose="totp:user1")
    with pytest.raises(KeyFormatError):
        kek.decrypt_secret(sealed, purpose="totp:user2")
    with pytest.raises(KeyFormatError):
        KeyEncryptionKey.generate().decrypt_secret(sealed, purpose="totp:user1")


# The store


@pytest.mark.parametrize("size", [0, 1, SMALL_CHUNK - 1, SMALL_CHUNK, SMALL_CHUNK + 1, 200, 256])
def test_round_trip(store: EncryptedFileStore, data_key: bytes, size: int) -> None:
    plaintext = os.urandom(size)
    blob = store.write(data_key, "original.pdf", io.BytesIO(plaintext))
    assert (blob.sha256, blob.size) == (hashlib.sha256(plaintext).hexdigest(), size)
    stored = (store.root / blob.blob_name).read_bytes()
    chunks = max(1, -(-size // SMALL_CHUNK))
    assert len(stored) == HEADER_BYTES + size + chunks * TAG_BYTES
    if size >= 16:  # shorter ones may turn up in random ciphertext by chance
        assert plaintext[:16] not in stored
    assert decrypt(store, data_key, blob.blob_name) == plaintext
    output = io.BytesIO()
    assert store.read_to(data_key, blob.blob_name, output) == blob
    assert output.getvalue() == plaintext


def test_small_reads_and_short_source_reads(store: EncryptedFileStore, data_key: bytes) -> None:
    plaintext = os.urandom(300)
    blob = store.write(data_key, "rev-2", ShortReads(plaintext))
    assert blob.size == 300
    pieces = []
    with store.open_read(data_key, blob.blob_name) as reader:
        while piece := reader.read(10):
            pieces.append(piece)
    assert b"".join(pieces) == plaintext


def test_files_are_private_and_written_whole(store: EncryptedFileStore, data_key: bytes) -> None:
    blob = store.write(data_key, "final.pdf", io.BytesIO(b"%PDF-1.7"))
    path = store.root / blob.blob_name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [path.name]

    class Failing(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            raise OSError("upload interrupted")

    with pytest.raises(OSError, match="interrupted"):
        store.write(data_key, "broken", Failing())
    files = [p for p in store.root.rglob("*") if p.is_file()]
    assert files == [path]


def test_names_are_checked(store: EncryptedFileStore, data_key: bytes) -> None:
    blob = store.write(data_key, "a", io.BytesIO(b"x"))
    assert blob.blob_name != store.write(data_key, "a", io.BytesIO(b"x")).blob_name
    for bad_name in ("../x", "a/b", "", ".hidden", "x" * 65):
        with pytest.raises(ValueError):
            store.write(data_key, bad_name, io.BytesIO(b"x"))
    for bad_blob in ("../../etc/passwd", "/etc/passwd", blob.blob_name + "/..", "ab/x"):
        with pytest.raises(ValueError):
            store.open_read(data_key, bad_blob)
    store.delete(blob.blob_name)
    store.delete(blob.blob_name)
    with pytest.raises(FileNotFoundError):
        store.open_read(data_key, blob.blob_name)


def test_the_wrong_key_is_found(store: EncryptedFileStore, data_key: bytes) -> None:
    blob = store.write(data_key, "doc", io.BytesIO(b"contract"))
    with pytest.raises(FileIntegrityError, match="chunk 0"):
        decrypt(store, os.urandom(32), blob.blob_name)
    with pytest.raises(ValueError):
        store.open_read(b"short", blob.blob_name)


def chunks_of(stored: bytes) -> tuple[bytes, list[bytes]]:
    body = stored[HEADER_BYTES:]
    return stored[:HEADER_BYTES], [
        body[i : i + SEALED_CHUNK] for i in range(0, len(body), SEALED_CHUNK)
    ]


def flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


TAMPERINGS: dict[str, Callable[[bytes, list[bytes]], bytes]] = {
    "flip in chunk 0": lambda h, c: h + flip(b"".join(c), 5),
    "flip in chunk 1 tag": lambda h, c: h + c[0] + flip(c[1], SEALED_CHUNK - 1) + b"".join(c[2:]),
    "flip in the last chunk": lambda h, c: h + b"".join(c[:-1]) + flip(c[-1], 0),
    "flip in the salt": lambda h, c: flip(h, HEADER_BYTES - 1) + b"".join(c),
    "chunk size changed": lambda h, c: h[:5] + (32).to_bytes(4, "big") + h[9:] + b"".join(c),
    "last chunk dropped": lambda h, c: h + b"".join(c[:-1]),
    "cut mid-chunk": lambda h, c: h + b"".join(c)[: SEALED_CHUNK + 30],
    "only the header": lambda h, c: h,
    "middle chunk dropped": lambda h, c: h + c[0] + b"".join(c[2:]),
    "chunks swapped": lambda h, c: h + c[1] + c[0] + b"".join(c[2:]),
    "chunk appended": lambda h, c: h + b"".join(c) + c[0],
    "bytes appended": lambda h, c: h + b"".join(c) + b"\x00",
}


@pytest.mark.parametrize("size", [200, 3 * SMALL_CHUNK])
@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_tampering_is_found(
    store: EncryptedFileStore, data_key: bytes, tampering: str, size: int
) -> None:
    blob = store.write(data_key, "rev", io.BytesIO(os.urandom(size)))
    path = store.root / blob.blob_name
    header, chunks = chunks_of(path.read_bytes())
    path.write_bytes(TAMPERINGS[tampering](header, chunks))
    with pytest.raises(FileIntegrityError):
        decrypt(store, data_key, blob.blob_name)


def test_a_file_cannot_stand_in_for_another(store: EncryptedFileStore, data_key: bytes) -> None:
    first = store.write(data_key, "rev", io.BytesIO(b"first revision"))
    second = store.write(data_key, "rev", io.BytesIO(b"second revision"))
    (store.root / first.blob_name).write_bytes((store.root / second.blob_name).read_bytes())
    with pytest.raises(FileIntegrityError):
        decrypt(store, data_key, first.blob_name)


def test_a_foreign_file_is_refused(store: EncryptedFileStore, data_key: bytes) -> None:
    blob = store.write(data_key, "rev", io.BytesIO(b"x"))
    (store.root / blob.blob_name).write_bytes(b"%PDF-1.7 plain text, not encrypted" * 3)
    with pytest.raises(FileIntegrityError, match="header"):
        store.open_read(data_key, blob.blob_name)


def test_the_memory_measure_would_see_a_whole_file(tmp_path: Path) -> None:
    tracemalloc.start()
    try:
        whole = os.urandom(20 * 1024 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(whole) == 20 * 1024 * 1024 and peak > 20 * 1024 * 1024


def test_decrypt_to_gives_the_plaintext_and_refuses_a_changed_file(tmp_path: Path) -> None:
    store = EncryptedFileStore(tmp_path / "files")
    key = bytes(range(32))
    data = os.urandom(300_000)
    blob = store.write(key, "doc", io.BytesIO(data))
    out = io.BytesIO()
    store.decrypt_to(key, blob.blob_name, out)
    assert out.getvalue() == data
    path = tmp_path / "files" / blob.blob_name
    raw = bytearray(path.read_bytes())
    raw[-20] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(FileIntegrityError):
        store.decrypt_to(key, blob.blob_name, io.BytesIO())
