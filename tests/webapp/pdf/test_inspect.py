"""Upload checks: each refusal with its own code and words, and what an accepted file gives."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from pathlib import Path

import pytest

from tests.webapp.pdf.pdfs import (
    contract_pdf,
    cyclic_page_tree_pdf,
    encrypted_pdf,
    truncated_pdf,
)
from webapp.pdf import PdfInfo, PdfRejected, inspect_pdf

MAX_BYTES, MAX_PAGES = 1024 * 1024, 20


def check(source: io.BytesIO) -> PdfInfo:
    return inspect_pdf(source, max_bytes=MAX_BYTES, max_pages=MAX_PAGES)


def rejection(data: bytes, max_bytes: int = MAX_BYTES) -> PdfRejected:
    with pytest.raises(PdfRejected) as caught:
        inspect_pdf(io.BytesIO(data), max_bytes=max_bytes, max_pages=MAX_PAGES)
    return caught.value


def test_accepts_a_pdf_and_describes_it(tmp_path: Path) -> None:
    data = contract_pdf(tmp_path / "c.pdf", pages=7).read_bytes()
    stream = io.BytesIO(data)
    stream.seek(5)
    info = check(stream)
    assert (info.pages, info.size) == (7, len(data))
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert stream.tell() == 0  # ready for the caller to store


@pytest.mark.parametrize("pages", [20, 21])
def test_page_limit_is_inclusive(tmp_path: Path, pages: int) -> None:
    data = contract_pdf(tmp_path / "c.pdf", pages=pages).read_bytes()
    if pages == 20:
        assert check(io.BytesIO(data)).pages == 20
    else:
        error = rejection(data)
        assert error.code == "too_many_pages"
        assert "20" in error.message_ja and "20" in error.message_en


def test_size_limit_is_inclusive(tmp_path: Path) -> None:
    data = contract_pdf(tmp_path / "c.pdf").read_bytes()
    assert inspect_pdf(io.BytesIO(data), max_bytes=len(data), max_pages=1).size == len(data)
    error = rejection(data, max_bytes=len(data) - 1)
    assert error.code == "too_large"
    assert "大きすぎます" in error.message_ja and "too large" in error.message_en


def test_too_large_stops_reading(tmp_path: Path) -> None:
    class Counting(io.BytesIO):
        read_total = 0

        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            self.read_total += len(chunk)
            return chunk

    stream = Counting(b"%PDF-1.7\n" + os.urandom(4 * 1024 * 1024))
    with pytest.raises(PdfRejected) as caught:
        inspect_pdf(stream, max_bytes=1024 * 1024, max_pages=5)
    assert caught.value.code == "too_large"
    assert stream.read_total <= 1024 * 1024 + 64 * 1024


def test_encrypted(tmp_path: Path) -> None:
    plain = contract_pdf(tmp_path / "c.pdf")
    for password in ("", "user-secret"):
        data = encrypted_pdf(tmp_path / "e.pdf", plain, user_password=password).read_bytes()
        error = rejection(data)
        assert error.code == "encrypted"
        assert "暗号化" in error.message_ja and "encrypted" in error.message_en


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(os.urandom(4096), id="random bytes"),
        pytest.param("契約書です".encode() * 100, id="text file"),
    ],
)
def test_not_a_pdf(data: bytes) -> None:
    error = rejection(data)
    assert error.code == "not_pdf"
    assert error.message_ja.startswith("PDFファイルとして読み取れません")
    assert error.message_en.startswith("This file cannot be read as a PDF")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"%PDF-1.7\n" + os.urandom(4096), id="header then garbage"),
        pytest.param(b"%PDF-1.7\n%%EOF\n", id="header and EOF only"),
    ],
)
def test_a_pdf_header_without_a_pdf_is_damaged(data: bytes) -> None:
    error = rejection(data)
    assert error.code == "damaged"
    assert "壊れている" in error.message_ja and "damaged" in error.message_en


def test_truncated(tmp_path: Path) -> None:
    source = contract_pdf(tmp_path / "c.pdf", pages=3)
    assert rejection(truncated_pdf(tmp_path / "t.pdf", source).read_bytes()).code == "damaged"


def test_page_tree_cycle_is_refused(tmp_path: Path) -> None:
    error = rejection(cyclic_page_tree_pdf(tmp_path / "cycle.pdf").read_bytes())
    assert error.code == "page_tree_invalid"
    assert "ページツリー" in error.message_ja and "page tree" in error.message_en


def test_empty_file_and_empty_page_tree(tmp_path: Path) -> None:
    assert rejection(b"").code == "empty"
    error = rejection(contract_pdf(tmp_path / "none.pdf", pages=0).read_bytes())
    assert error.code == "empty"
    assert "ページがありません" in error.message_ja and "no pages" in error.message_en


def test_large_file_is_not_held_in_memory(tmp_path: Path) -> None:
    big = contract_pdf(tmp_path / "big.pdf", image_bytes=20 * 1024 * 1024)
    with big.open("rb") as stream:
        tracemalloc.start()
        try:
            info = inspect_pdf(stream, max_bytes=30 * 1024 * 1024, max_pages=10)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert info.pages == 1 and info.size > 20 * 1024 * 1024
    assert peak < 2 * 1024 * 1024, f"peak {peak:,} bytes for a {info.size:,}-byte file"
