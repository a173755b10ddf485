"""Property-based fuzzing of the upload check: whatever the bytes, only the check's own
refusals come out (never another exception), within its time bound.

Inputs are accepted PDFs of the corpus mutated the way damage and attackers do: bytes
flipped, slices cut or repeated, PDF tokens inserted, the file truncated or extended.
"""

from __future__ import annotations

import io
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.webapp.pdf.hostile_corpus import corpus_file
from webapp.pdf import PdfRejected, inspect_pdf
from webapp.pdf.limits import DEFAULT_LIMITS
from webapp.pdf.refusals import TEXTS

SEEDS = ["plain", "object-streams-30-pages", "with-attachment", "update-replacing-content",
         "empty-signature-field", "inherited-media-box"]  # fmt: skip
TOKENS = [b"<<", b">>", b"[", b"]", b"(", b")", b"R", b" 0 R", b"obj", b"endobj", b"stream",
          b"endstream", b"xref", b"trailer", b"startxref", b"%%EOF", b"/Kids", b"/Count",
          b"/Type /Pages", b"/MediaBox", b"/Parent", b"/S /JavaScript", b"/Filter /FlateDecode",
          b"/Length 999999", b"/W [0 0 0]", b"-1", b"99999999999999999999", b"#00", b"\\",
          b"%", b"\x00", b"\r"]  # fmt: skip
ALLOWED_CODES = set(TEXTS) | {"empty"}


@st.composite
def mutated_pdfs(draw: st.DrawFn) -> bytes:
    data = bytearray(corpus_file(draw(st.sampled_from(SEEDS))))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "cut", "insert", "repeat", "truncate", "digit"]))
        if kind == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif kind == "repeat":
            piece = data[at : at + draw(st.integers(1, 256))]
            data[at:at] = piece * draw(st.integers(1, 50))
        elif kind == "truncate":
            del data[at:]
        elif kind == "digit" and at < len(data) and chr(data[at]).isdigit():
            data[at] = ord(str(draw(st.integers(0, 9))))
    return bytes(data)


@settings(
    max_examples=200,
    deadline=None,  # the bound asserted below is the check's own, with the sandbox's margin
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_pdfs())
def test_only_the_checks_own_refusals_come_out_in_time(data: bytes) -> None:
    started = time.monotonic()
    try:
        info = inspect_pdf(io.BytesIO(data), max_bytes=64 * 1024 * 1024, max_pages=1000)
    except PdfRejected as refused:
        assert refused.code in ALLOWED_CODES, refused.code
        assert refused.message_ja and refused.message_en
    else:
        assert info.pages >= 1 and info.size == len(data)
    assert time.monotonic() - started < DEFAULT_LIMITS.seconds + 5
