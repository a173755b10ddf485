"""The document-ID stamp: visible at the bottom left of page 1, appended, never rewriting."""

from __future__ import annotations

import io
import re
import subprocess
import tracemalloc
from pathlib import Path

import pytest
from pypdf import PdfWriter

from tests.webapp.pdf.checks import page_text, revisions
from tests.webapp.pdf.pdfs import contract_pdf
from webapp.pdf import inspect_pdf, write_document_id

DOCUMENT_ID = "K7QXW2M4ZP5R3T6Y8B2C4D6F8G"


def stamped(source: Path, target: Path, document_id: str = DOCUMENT_ID) -> Path:
    with source.open("rb") as stream, target.open("wb") as output:
        write_document_id(stream, output, document_id)
    return target


def word_boxes(path: Path) -> list[tuple[str, float, float, float, float]]:
    """(word, xMin, yMin, xMax, yMax) on page 1, y measured from the top, from pdftotext."""
    html = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", "-bbox", str(path), "-"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    pattern = (
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
    )
    return [
        (word, float(x0), float(y0), float(x1), float(y1))
        for x0, y0, x1, y1, word in re.findall(pattern, html)
    ]


def test_id_is_on_page_one_only(tmp_path: Path) -> None:
    result = stamped(contract_pdf(tmp_path / "c.pdf", pages=3), tmp_path / "s.pdf")
    first = page_text(result, 1)
    assert f"Document ID: {DOCUMENT_ID}" in first
    assert "Service agreement - page 1" in first  # the content is still there
    assert DOCUMENT_ID not in page_text(result, 2) + page_text(result, 3)


def test_stamp_sits_small_at_the_bottom_left(tmp_path: Path) -> None:
    result = stamped(contract_pdf(tmp_path / "c.pdf"), tmp_path / "s.pdf")
    (_, x0, _, _, y1), *_ = [box for box in word_boxes(result) if box[0] == DOCUMENT_ID]
    assert x0 < 150  # left part of a 595-point page
    assert 842 - y1 < 40  # within 40 points of the bottom edge
    document, _, _, _, _ = next(box for box in word_boxes(result) if box[0] == "Document")
    assert document == "Document"
    heights = [y1 - y0 for word, _, y0, _, y1 in word_boxes(result) if word == DOCUMENT_ID]
    assert heights and max(heights) < 10  # small print


def test_page_whose_origin_is_not_zero_gets_the_stamp_in_its_corner(tmp_path: Path) -> None:
    source = contract_pdf(tmp_path / "c.pdf", media_box=(-100, -200, 495, 642))
    result = stamped(source, tmp_path / "s.pdf")
    ((_, x0, _, _, y1),) = [box for box in word_boxes(result) if box[0] == DOCUMENT_ID]
    assert 0 < x0 < 150 and 0 < 842 - y1 < 40  # pdftotext measures from the box's top left


def test_incremental_update_keeps_every_original_byte(tmp_path: Path) -> None:
    source = contract_pdf(tmp_path / "c.pdf", pages=2)
    result = stamped(source, tmp_path / "s.pdf")
    original = source.read_bytes()
    assert result.read_bytes()[: len(original)] == original
    assert revisions(result) == revisions(source) + 1
    assert inspect_pdf(io.BytesIO(result.read_bytes()), max_bytes=10**7, max_pages=5).pages == 2


def test_blank_page_without_contents(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    blank = tmp_path / "blank.pdf"
    with blank.open("wb") as output:
        writer.write(output)
    assert f"Document ID: {DOCUMENT_ID}" in page_text(stamped(blank, tmp_path / "s.pdf"))


@pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "文書", "a)b", "a\nb"])
def test_refuses_ids_that_are_not_plain_tokens(tmp_path: Path, bad: str) -> None:
    output = io.BytesIO()
    with pytest.raises(ValueError, match="document ID"):
        write_document_id(io.BytesIO(contract_pdf(tmp_path / "c.pdf").read_bytes()), output, bad)
    assert output.getvalue() == b""


def test_memory_stays_small_for_a_large_file(tmp_path: Path) -> None:
    big = contract_pdf(tmp_path / "big.pdf", image_bytes=20 * 1024 * 1024)
    with big.open("rb") as source, (tmp_path / "s.pdf").open("wb") as output:
        tracemalloc.start()
        try:
            write_document_id(source, output, DOCUMENT_ID)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 3 * 1024 * 1024, f"peak {peak:,} bytes"
    assert (tmp_path / "s.pdf").stat().st_size > big.stat().st_size
