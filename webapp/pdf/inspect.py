"""Check an uploaded PDF before the service takes it: complete, bounded, off the event loop.

`inspect_pdf` is a plain blocking function: call it from a worker thread (a plain `def`
route runs in FastAPI's thread pool), never inside `async def`. The file is read once, in
chunks, to count and hash it, and streamed to a sandboxed process that runs the check of
`webapp.pdf.check` with the kernel bounding its time and memory (`webapp.pdf.sandbox`).
What is refused, and why: `webapp.pdf.refusals`; the bounds: `webapp.pdf.limits`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import BinaryIO

from webapp.pdf.limits import DEFAULT_LIMITS, CheckLimits
from webapp.pdf.refusals import refusal
from webapp.pdf.sandbox import check_in_sandbox
from webapp.pdf.structure import Attachment

MEBIBYTE = 1024 * 1024

__all__ = ["Attachment", "PdfInfo", "check_sendable", "inspect_pdf"]


@dataclass(frozen=True)
class PdfInfo:
    """What the service records about an accepted upload."""

    pages: int
    size: int
    sha256: str
    attachments: tuple[Attachment, ...] = ()
    """Files embedded in the PDF (allowed): for the recipient's page to list."""


def inspect_pdf(
    source: BinaryIO,
    *,
    max_bytes: int,
    max_pages: int,
    limits: CheckLimits = DEFAULT_LIMITS,
) -> PdfInfo:
    """Check `source` (seekable, read from the start) and describe it, or raise `PdfRejected`.

    Blocking (up to `limits.seconds`). Codes: see `webapp.pdf.refusals.TEXTS`. The stream
    is left at position 0.
    """
    try:
        streamed, result = check_in_sandbox(
            source,
            limits=limits,
            max_bytes=max_bytes,
            max_pages=max_pages,
            too_large=lambda: refusal("too_large", limit=_megabytes(max_bytes)),
        )
    finally:
        source.seek(0)
    return PdfInfo(
        pages=result.pages,
        size=streamed.size,
        sha256=streamed.sha256,
        attachments=result.attachments,
    )


def check_sendable(source: BinaryIO, *, limits: CheckLimits = DEFAULT_LIMITS) -> PdfInfo:
    """The upload check again, before sending, without the size and page limits of the day.

    A document accepted before the check knew of a problem is refused here with the same
    code and words as at upload, instead of failing in the middle of sending.
    """
    return inspect_pdf(source, max_bytes=sys.maxsize, max_pages=sys.maxsize, limits=limits)


def _megabytes(count: int) -> str:
    if count >= MEBIBYTE:
        return f"{count / MEBIBYTE:.3g} MB"
    return f"{count:,} bytes"
