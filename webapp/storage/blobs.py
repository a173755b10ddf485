"""Where encrypted files are kept: the blob-store interface and its local-directory back end.

A blob store keeps opaque byte strings (the encryption layer's output) under names like
`ab/<label>-<32 hex>`. It promises three things, whatever the back end:

- a blob appears whole or not at all: a reader never sees one half written, and a write
  that fails leaves nothing behind;
- reading and writing stream: a few megabytes in memory, whatever the blob's size;
- a blob that is not there is a `BlobNotFoundError` (a `FileNotFoundError`) naming it.

`LocalBlobStore` keeps blobs as files under one directory (mode 0700 / 0600), written to
a temporary file, synced and renamed into place. The S3 back end is in `webapp.storage.s3`.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO, Protocol

_LABEL = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
LABEL_RE = re.compile(_LABEL)
BLOB_NAME_RE = re.compile(rf"[0-9a-f]{{2}}/{_LABEL}-[0-9a-f]{{32}}")


class BlobNotFoundError(FileNotFoundError):
    """No blob of that name in the store."""

    def __init__(self, blob_name: str, where: str) -> None:
        super().__init__(f"no stored file {blob_name!r} in {where}")
        self.blob_name = blob_name


class BlobSink(Protocol):
    """What a blob is written through: the bytes, in order."""

    def write(self, data: bytes, /) -> object: ...


class BlobReader(Protocol):
    """A stored blob being read: its total `size` in bytes, and its bytes in order."""

    @property
    def size(self) -> int: ...

    def read(self, size: int, /) -> bytes: ...

    def close(self) -> None: ...


class BlobStore(Protocol):
    """Opaque blobs by name; see the module docstring for what every back end promises."""

    def writing(self, blob_name: str) -> contextlib.AbstractContextManager[BlobSink]:
        """A sink for a new blob; it appears when the `with` block ends without an error."""
        ...

    def open_read(self, blob_name: str) -> BlobReader:
        """The blob's bytes; `BlobNotFoundError` when there is none of that name."""
        ...

    def delete(self, blob_name: str) -> None:
        """Remove a blob; absent is fine."""
        ...


def check_blob_name(blob_name: str) -> str:
    """`blob_name` if it has the store's shape (`ab/<label>-<32 hex>`), else `ValueError`."""
    if not BLOB_NAME_RE.fullmatch(blob_name):
        raise ValueError(f"not a blob name of this store: {blob_name!r}")
    return blob_name


class _FileReader:
    """A local blob: the open file and its size at opening."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._size = os.fstat(file.fileno()).st_size

    @property
    def size(self) -> int:
        return self._size

    def read(self, size: int, /) -> bytes:
        return self._file.read(size)

    def close(self) -> None:
        self._file.close()


class LocalBlobStore:
    """Blobs as files under `root`: private (0700 directories, 0600 files), renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    @contextlib.contextmanager
    def writing(self, blob_name: str) -> Iterator[BlobSink]:
        path = self.path(blob_name)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as output:
                os.fchmod(output.fileno(), 0o600)
                yield output
                output.flush()
                os.fsync(output.fileno())
            os.replace(temporary, path)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        _fsync_directory(path.parent)

    def open_read(self, blob_name: str) -> BlobReader:
        try:
            file = self.path(blob_name).open("rb")
        except FileNotFoundError:
            raise BlobNotFoundError(blob_name, f"the directory {self.root}") from None
        return _FileReader(file)

    def delete(self, blob_name: str) -> None:
        with suppress(FileNotFoundError):
            self.path(blob_name).unlink()

    def path(self, blob_name: str) -> Path:
        """The file that holds `blob_name` (checked: no way out of `root`)."""
        return self.root / check_blob_name(blob_name)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
