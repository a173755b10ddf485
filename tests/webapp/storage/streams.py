"""Streams for the storage tests: random bytes made as they are read, and a sink that keeps
only the SHA-256 and size of what it is given (so large files never sit in memory)."""

from __future__ import annotations

import hashlib
import io
import os


class RandomSource(io.RawIOBase):
    """`size` random bytes made as they are read, their SHA-256 kept; with `fail_after`,
    an `OSError` once that many bytes were given (an upload cut off)."""

    def __init__(self, size: int, fail_after: int | None = None) -> None:
        self.remaining, self.given, self.fail_after = size, 0, fail_after
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.fail_after is not None and self.given >= self.fail_after:
            raise OSError("upload interrupted")
        piece = os.urandom(min(size, self.remaining))
        self.remaining -= len(piece)
        self.given += len(piece)
        self.sha256.update(piece)
        return piece


class HashingSink(io.RawIOBase):
    """Keeps the SHA-256 and size of what is written, not the bytes."""

    def __init__(self) -> None:
        self.sha256, self.size = hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.sha256.update(data)
        self.size += len(data)
        return len(data)
