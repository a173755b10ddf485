"""Stamp the document ID on page 1 of a document about to be sent, checking it first.

The upload check runs again (`check_sendable`): a document accepted before the check knew
of a problem is refused with the same code and words as an upload would be (`PdfRejected`),
instead of failing halfway through sending. The drawing itself: `webapp.pdf.id_stamp`.
"""

from __future__ import annotations

from typing import BinaryIO

from webapp.pdf.id_stamp import DOCUMENT_ID_PATTERN, write_document_id
from webapp.pdf.inspect import check_sendable

__all__ = ["DOCUMENT_ID_PATTERN", "stamp_document_id"]


def stamp_document_id(
    source: BinaryIO, output: BinaryIO, document_id: str, certificate_id: str | None = None
) -> None:
    """Write `source` plus an incremental update with `Document ID: <id>` to `output` (and,
    issue 12, `Certificate ID: <id>` after it when `certificate_id` is given).

    `source` must be seekable; `output` receives the whole new file from its current
    position. The ID is limited to letters, digits, `-` and `_` (at most 64). Raises
    `PdfRejected` (nothing written) if `source` is not a PDF the service can send.
    Blocking: call it from a worker thread.
    """
    if not DOCUMENT_ID_PATTERN.fullmatch(document_id):
        raise ValueError("a document ID is 1 to 64 letters, digits, '-' or '_'")
    check_sendable(source)
    write_document_id(source, output, document_id, certificate_id)
