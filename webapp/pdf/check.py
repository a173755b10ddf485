"""The upload check itself, on bytes in memory: everything the later steps need, or a refusal.

In order: the file's frame (header, one %%EOF at the end, nothing hidden after it), then
pyHanko's strict reader (the one every later step uses) with decode limits no looser than
its own, then every object of every revision (limits, chains, active content), then the
page tree, the form and the attachments, and last a dry run of what sending does: the
document ID stamp and a signature field, written to memory with pyHanko. Whatever passes
can be stamped, sealed, signed with a card and completed.

Runs in the sandbox process of `webapp.pdf.sandbox`, which bounds its time and memory (a
loop inside pyHanko ends there); its own deadline, checked between objects and steps, ends
the check's own loops. Both refuse with `pdf_too_complex`.
"""

from __future__ import annotations

import asyncio
import io
import re
from dataclasses import dataclass

from pyhanko.pdf_utils import misc
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.signers.pdf_cms import ExternalSigner

from webapp.pdf.errors import PdfRejected
from webapp.pdf.id_stamp import write_document_id
from webapp.pdf.limits import CheckLimits, Deadline
from webapp.pdf.refusals import TEXTS, refusal
from webapp.pdf.scan import scan_objects
from webapp.pdf.structure import Attachment, check_form, check_page_tree, embedded_files

HEADER = re.compile(rb"%PDF-\d\.\d")
EOF_MARKER = b"%%EOF"
STARTXREF = re.compile(rb"startxref\s+\d+\s*$")
STARTXREF_VALUE = re.compile(rb"startxref\s+(\d{1,12})")
TAIL_WINDOW = 1024  # pyHanko looks for %%EOF and startxref in the last KiB
OBJECT_HEADER = re.compile(rb"\s*\d{1,10}\s+\d{1,5}\s+obj\s*<<")
XREF_DICTIONARY_WINDOW = 4096
XREF_WIDTHS = re.compile(rb"/W\s*\[\s*(\d{1,2})\s+(\d{1,2})\s+(\d{1,2})\s*\]")
XREF_SIZE = re.compile(rb"/Size\s+(\d{1,12})")
XREF_INDEX = re.compile(rb"/Index\s*\[([\d\s]{0,2000})\]")
XREF_PREV = re.compile(rb"/Prev\s+(\d{1,12})")
DRY_RUN_ID = "upload-check"
COMPRESSED = ("圧縮されたデータ", "compressed data")
DRY_RUN_FIELD = "mynasign-upload-check"


@dataclass(frozen=True)
class CheckResult:
    """What an accepted file holds."""

    pages: int
    attachments: tuple[Attachment, ...]


def check_pdf_bytes(data: bytes, limits: CheckLimits, max_pages: int) -> CheckResult:
    """Check `data`; raise `PdfRejected` with the reason, and nothing else, if it is refused."""
    deadline = Deadline(limits.seconds)
    try:
        return _check(data, limits, max_pages, deadline)
    except PdfRejected:
        raise
    except misc.PdfDecodeLimitError:
        raise refusal("stream_too_large", what=COMPRESSED) from None
    except RecursionError:
        raise refusal("structure_too_deep", what=("入れ子", "nesting")) from None
    except MemoryError:
        raise refusal("too_complex") from None
    except Exception:  # whatever else untrusted input breaks means "damaged"
        raise refusal("damaged") from None


def _check(data: bytes, limits: CheckLimits, max_pages: int, deadline: Deadline) -> CheckResult:
    if not data:
        raise refusal("empty")
    _check_frame(data, limits)
    _check_xref_streams(data, limits)
    reader = PdfFileReader(io.BytesIO(data), strict=True, decode_limits=limits.decode_limits())
    if reader.encrypted:
        raise refusal("encrypted")
    scanned = scan_objects(reader, limits, deadline, len(data))
    found = scanned.active.words()
    if found is not None:
        raise refusal("active_content", found=found)
    pages, pinned = check_page_tree(reader, limits, deadline, max_pages)
    if pages == 0:
        raise PdfRejected("empty", *TEXTS["no_pages"])
    check_form(reader, limits, deadline)
    attachments = embedded_files(reader, limits, deadline) + pinned
    _dry_run(data, deadline)
    return CheckResult(pages=pages, attachments=tuple(attachments))


def _check_frame(data: bytes, limits: CheckLimits) -> None:
    """A header at the start; the last %%EOF at the end, after a startxref, nothing after it.

    One pass over the file from its end (`rfind`), so the time is linear in its size.
    """
    if not HEADER.match(data, 0, 32):
        raise refusal("not_pdf")
    end = data.rfind(EOF_MARKER)
    if end < 0:
        raise refusal("damaged")
    trailing = len(data) - (end + len(EOF_MARKER))
    if trailing > limits.max_trailing_bytes:
        raise refusal("trailing_data", count=f"{trailing:,}")
    if not STARTXREF.search(data[max(0, end - TAIL_WINDOW) : end]):
        raise refusal("damaged")


def _check_xref_streams(data: bytes, limits: CheckLimits) -> None:
    """Refuse an xref stream that declares more objects than allowed, or entries of no
    width (pyHanko would make 100 million objects out of nothing before any limit saw it).

    Only the dictionaries are read, with patterns; anything unusual is left to pyHanko.
    """
    found = STARTXREF_VALUE.findall(data, max(0, len(data) - TAIL_WINDOW))
    offset = int(found[-1]) if found else -1
    seen: set[int] = set()
    while 0 <= offset < len(data) and offset not in seen and len(seen) < limits.max_revisions:
        seen.add(offset)
        header = OBJECT_HEADER.match(data, offset)
        if header is None:
            return  # a classic table: each entry takes 20 bytes of the file
        end = data.find(b"stream", header.end(), header.end() + XREF_DICTIONARY_WINDOW)
        dictionary = data[header.end() : end if end > 0 else header.end()]
        widths = XREF_WIDTHS.search(dictionary)
        size = XREF_SIZE.search(dictionary)
        index = XREF_INDEX.search(dictionary)
        if widths is None or size is None:
            return
        if index is not None:
            numbers = [int(n) for n in index.group(1).split()]
            entries = sum(numbers[1::2])
        else:
            entries = int(size.group(1))
        if entries > limits.max_objects:
            raise refusal("too_many_objects", limit=f"{limits.max_objects:,}")
        if entries and not sum(int(width) for width in widths.groups()):
            raise refusal("damaged")
        previous = XREF_PREV.search(dictionary)
        offset = int(previous.group(1)) if previous else -1


def _dry_run(data: bytes, deadline: Deadline) -> None:
    """Do in memory what sending does: stamp the ID, then prepare a signature field."""
    stamped = io.BytesIO()
    deadline.check()
    write_document_id(io.BytesIO(data), stamped, DRY_RUN_ID)
    stamped.seek(0)
    deadline.check()
    writer = IncrementalPdfFileWriter(stamped, strict=True)
    metadata = PdfSignatureMetadata(
        field_name=DRY_RUN_FIELD, md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES
    )
    signer = PdfSigner(metadata, signer=ExternalSigner(None, None, signature_value=256))
    prepared = signer.async_digest_doc_for_signing(writer, bytes_reserved=8192, output=io.BytesIO())
    asyncio.run(prepared)
