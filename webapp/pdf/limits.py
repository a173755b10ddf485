"""The bounds of the upload check: time, memory, objects, depth, decoded streams.

Each limit is far above what a contract exported by an office suite, a scanner or a PDF
printer needs, and far below what would hurt the service. A file that reaches one is
refused with its own code (see `webapp.pdf.refusals`), never half-accepted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pyhanko.pdf_utils.decode_limits import (
    DEFAULT_PURPOSE_LIMITS,
    DecodeLimits,
    DecodePurpose,
    DocumentDecodeBudget,
    StreamDecodeLimits,
)

from webapp.pdf.refusals import refusal

MiB = 1024 * 1024


@dataclass(frozen=True)
class CheckLimits:
    """What one check of one file may cost."""

    seconds: float = 20.0
    """Wall-clock time for the whole check, its sandbox process included."""
    memory_bytes: int = 1536 * MiB
    """Address space of the sandbox process that parses the file."""
    max_objects: int = 100_000
    """Object definitions in the file, every revision counted (pyHanko parses about 10,000
    a second; a 1,000-page contract has a few thousand)."""
    max_revisions: int = 200
    """Cross-reference sections (the original and its incremental updates)."""
    max_nesting: int = 64
    """Arrays and dictionaries inside one another, in one object."""
    max_page_tree_depth: int = 32
    """Levels of /Pages nodes above a page (real files use 2 to 6)."""
    max_form_depth: int = 32
    """Levels of form fields (/Kids) below /AcroForm /Fields."""
    max_indirection: int = 8
    """References to references before a value is reached (`1 0 R` -> `2 0 R` -> ...)."""
    max_trailing_bytes: int = 512
    """Bytes allowed after the last %%EOF: padding to a 512-byte block (some scanners and
    mail gateways add it); pyHanko finds %%EOF only in a file's last KiB."""
    max_stream_bytes: int = 256 * MiB
    """Decoded size of any one stream the check decodes (object streams, XMP)."""
    max_decoded_total: int = 512 * MiB
    """Decoded bytes of all streams the check decodes, together."""
    xmp_bytes: int = 4 * MiB
    """Decoded XMP metadata (/Metadata): every signing step parses and rewrites it."""
    object_stream_bytes: int = 64 * MiB
    """Decoded size of one object stream."""

    def decode_limits(self) -> DecodeLimits:
        """pyHanko's decode limits for the check: never looser than pyHanko's own defaults,
        so a file the check could read is a file every later step can read."""
        purposes = dict(DEFAULT_PURPOSE_LIMITS)
        purposes[DecodePurpose.XMP_METADATA] = StreamDecodeLimits(
            max_ratio=100, ratio_floor=self.xmp_bytes, max_output_size=self.xmp_bytes
        )
        purposes[DecodePurpose.OBJECT_STREAM] = StreamDecodeLimits(
            max_ratio=100, ratio_floor=4 * MiB, max_output_size=self.object_stream_bytes
        )
        purposes[DecodePurpose.XREF_STREAM] = StreamDecodeLimits(
            max_ratio=100, ratio_floor=MiB, max_output_size=16 * MiB
        )
        return DecodeLimits(
            per_stream=StreamDecodeLimits(max_output_size=self.max_stream_bytes),
            per_purpose=purposes,
            document_budget=DocumentDecodeBudget(
                base_allowance=self.max_decoded_total, max_ratio=0
            ),
        )


DEFAULT_LIMITS = CheckLimits()


class Deadline:
    """A point in time after which the check gives up with `pdf_too_complex`."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self._end:
            raise refusal("too_complex")
