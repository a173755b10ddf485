"""Check an uploaded PDF before the service takes it: readable, not encrypted, within limits.

The file is read once, in chunks, to count and hash it; then pyHanko's strict reader (the
one every later step uses) reads the cross-reference data and the page tree from the same
stream. Page contents and images are never loaded, so a 20 MB upload costs kilobytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import BinaryIO

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from webapp.pdf.errors import PdfRejected

CHUNK_SIZE = 1 << 16
MEBIBYTE = 1024 * 1024


@dataclass(frozen=True)
class PdfInfo:
    """What the service records about an accepted upload."""

    pages: int
    size: int
    sha256: str


def inspect_pdf(source: BinaryIO, *, max_bytes: int, max_pages: int) -> PdfInfo:
    """Check `source` (seekable, read from the start) and describe it, or raise `PdfRejected`.

    Codes: `empty` (no bytes or no pages), `too_large`, `not_pdf` (malformed, truncated or
    not a PDF at all), `encrypted`, `too_many_pages`. The stream is left at position 0.
    """
    try:
        return _inspect(source, max_bytes, max_pages)
    finally:
        source.seek(0)


def _inspect(source: BinaryIO, max_bytes: int, max_pages: int) -> PdfInfo:
    size, sha256 = _size_and_hash(source, max_bytes)
    if size == 0:
        raise PdfRejected("empty", "ファイルが空です。", "The file is empty.")
    source.seek(0)
    try:
        reader = PdfFileReader(source, strict=True)
        encrypted = reader.encrypted
    except Exception as exc:  # any failure to parse untrusted input means "not a PDF"
        raise _not_pdf() from exc
    if encrypted:
        raise PdfRejected(
            "encrypted",
            "パスワードで保護（暗号化）されたPDFは受け付けられません。"
            "保護を解除してからアップロードしてください。",
            "Password-protected (encrypted) PDFs are not accepted. "
            "Remove the protection and upload the file again.",
        )
    try:
        pages = _count_pages(reader, max_pages)
    except PdfRejected:
        raise
    except Exception as exc:  # a damaged page tree
        raise _not_pdf() from exc
    if pages == 0:
        raise PdfRejected("empty", "PDFにページがありません。", "The PDF has no pages.")
    return PdfInfo(pages=pages, size=size, sha256=sha256)


def _size_and_hash(source: BinaryIO, max_bytes: int) -> tuple[int, str]:
    """Length and SHA-256 of the stream, reading at most `max_bytes + 1` bytes."""
    source.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK_SIZE):
        size += len(chunk)
        if size > max_bytes:
            limit = _megabytes(max_bytes)
            raise PdfRejected(
                "too_large",
                f"ファイルが大きすぎます（上限は {limit}）。",
                f"The file is too large (the limit is {limit}).",
            )
        digest.update(chunk)
    return size, digest.hexdigest()


def _count_pages(reader: PdfFileReader, max_pages: int) -> int:
    """Leaves of the page tree, walked without trusting /Count; cycles are malformed."""
    pages = 0
    seen: set[int] = set()
    pending: list[generic.PdfObject] = [reader.root.raw_get("/Pages")]
    while pending:
        entry = pending.pop()
        if not isinstance(entry, generic.IndirectObject):
            raise ValueError("page tree nodes must be indirect objects")
        if entry.idnum in seen:
            raise ValueError("the page tree has a cycle")
        seen.add(entry.idnum)
        node = entry.reference.get_object()
        if not isinstance(node, generic.DictionaryObject):
            raise ValueError("a page tree node is not a dictionary")
        kind = node.get("/Type")
        if kind == "/Pages":
            kids = node["/Kids"]
            if not isinstance(kids, generic.ArrayObject):
                raise ValueError("/Kids is not an array")
            pending.extend(kids.raw_get(index) for index in reversed(range(len(kids))))
        elif kind == "/Page":
            pages += 1
            if pages > max_pages:
                raise PdfRejected(
                    "too_many_pages",
                    f"ページ数が多すぎます（上限は {max_pages} ページ）。",
                    f"The PDF has too many pages (the limit is {max_pages}).",
                )
        else:
            raise ValueError(f"unexpected page tree node type {kind!r}")
    return pages


def _not_pdf() -> PdfRejected:
    return PdfRejected(
        "not_pdf",
        "PDFファイルとして読み取れません。ファイルが壊れていないか確認してください。",
        "This file cannot be read as a PDF. Check that the file is not damaged.",
    )


def _megabytes(count: int) -> str:
    if count >= MEBIBYTE:
        return f"{count / MEBIBYTE:.3g} MB"
    return f"{count:,} bytes"
