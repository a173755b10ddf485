"""Draw the document ID small at the bottom left of page 1, as an incremental update.

This is the drawing alone, on a file known to be usable: sending runs the upload check
again first (`check_sendable`, in the server's sandbox; `webapp.services.documents`).

The original bytes are copied unchanged and the stamp is appended (a form XObject and a
page content stream), so signatures made before or after stay valid. The text is ASCII in
the standard Courier font: no CJK font ships with the system, and embedding one only for
「文書ID」 would add megabytes or a subsetting dependency to every document. A page turned
by /Rotate gets the stamp in the corner that is bottom left before turning.
"""

from __future__ import annotations

import re
from typing import BinaryIO

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import TextStamp, TextStampStyle

DOCUMENT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
FONT_SIZE = 7
IO_CHUNK = 256 * 1024
MAX_INHERITANCE = 64  # /Parent steps followed for an inherited box
MARGIN = 12  # points from the visible page's bottom-left corner
TEXT_GREY = (0.3, 0.3, 0.3)
_INHERITABLE_BOX = ("/CropBox", "/MediaBox")


def write_document_id(
    source: BinaryIO, output: BinaryIO, document_id: str, certificate_id: str | None = None
) -> None:
    """Write `source` plus an incremental update with `Document ID: <id>` to `output`.

    With `certificate_id` (issue 12), the agreement certificate's ID follows on the same
    line: `Document ID: <id>  Certificate ID: <id>` (same character rules).

    `source` must be seekable; `output` receives the whole new file from its current
    position. The ID is limited to letters, digits, `-` and `_` (at most 64).
    """
    if not DOCUMENT_ID_PATTERN.fullmatch(document_id):
        raise ValueError("a document ID is 1 to 64 letters, digits, '-' or '_'")
    if certificate_id is not None and not DOCUMENT_ID_PATTERN.fullmatch(certificate_id):
        raise ValueError("a certificate ID is 1 to 64 letters, digits, '-' or '_'")
    source.seek(0)
    writer = IncrementalPdfFileWriter(source, strict=True)
    writer.IO_CHUNK_SIZE = IO_CHUNK  # the copy of the original: 4 KiB steps by default
    page_ref, _ = writer.find_page_for_modification(0)  # type: ignore[no-untyped-call]
    page = page_ref.get_object()
    if "/Contents" not in page:  # a blank page may have none; pyHanko appends to a list
        page["/Contents"] = writer.add_object(generic.StreamObject(stream_data=b""))
        writer.update_container(page)
    left, bottom = _visible_origin(page)
    style = TextStampStyle(
        stamp_text="Document ID: %(document_id)s"
        + ("  Certificate ID: %(certificate_id)s" if certificate_id else ""),
        border_width=0,
        text_box_style=TextBoxStyle(font_size=FONT_SIZE, text_color=TEXT_GREY),
    )
    params = {"document_id": document_id, "certificate_id": certificate_id or ""}
    stamp = TextStamp(writer, style, text_params=params)
    stamp.apply(0, round(left) + MARGIN, round(bottom) + MARGIN)
    writer.write(output)  # type: ignore[no-untyped-call]


def _visible_origin(page: generic.DictionaryObject) -> tuple[float, float]:
    """Lower-left corner of the page's crop box (inherited, defaulting to the media box)."""
    for key in _INHERITABLE_BOX:
        node: generic.DictionaryObject | None = page
        for _ in range(MAX_INHERITANCE):  # the check bounds the tree; a cycle cannot hang
            if node is None:
                break
            if key in node:
                box = node[key]
                return float(min(box[0], box[2])), float(min(box[1], box[3]))
            parent = node.get("/Parent")
            node = parent if isinstance(parent, generic.DictionaryObject) else None
    return 0.0, 0.0
