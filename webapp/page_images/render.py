"""PDF pages as PNG images, rendered on the server with pypdfium2, cached in memory, bounded.

Why pypdfium2 (PDFium, the renderer of Chrome): it renders in-process from bytes in
memory, so the decrypted contract never lands on disk (poppler's `pdftoppm` reads a file
and costs a process per page); its wheels carry PDFium, nothing to install; and a page
image works on every phone and without JavaScript (pdf.js would need a modern browser
running a large script, and the blank-frame problem this replaces was a browser one).

PDFium is not thread-safe: every call into it holds `_PDFIUM`, one at a time per process;
the renders are cached, so a page is rendered once per revision. The cache holds PNG bytes
in memory only (never plaintext on disk), least recently used first out, at most
`CACHE_BYTES`. Bounds: at most `MAX_PAGES_SHOWN` pages are offered as images, each
`WIDTH_PX` wide and at most `MAX_HEIGHT_PX` high (a strip-shaped page is scaled down).
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass

import pypdfium2 as pdfium
from pyhanko.pdf_utils.misc import PdfError as PyhankoPdfError
from pyhanko.pdf_utils.reader import PdfFileReader

from webapp.pdf.errors import PdfError
from webapp.pdf.limits import DEFAULT_LIMITS, Deadline
from webapp.pdf.structure import embedded_files

WIDTH_PX = 1000
"""Sharp on a phone at 2x (390 CSS pixels) and readable on a desktop column."""
MAX_HEIGHT_PX = 4000
MAX_PAGES_SHOWN = 100
CACHE_BYTES = 64 * 1024 * 1024
_PDFIUM = threading.Lock()


class PageImageError(Exception):
    """The PDF cannot be rendered (damaged, or refused by PDFium)."""


@dataclass(frozen=True)
class PageSize:
    width: int
    height: int


@dataclass(frozen=True)
class Outline:
    """What the page needs before any image: pages (their pixel sizes) and attachments."""

    page_count: int
    sizes: tuple[PageSize, ...]
    """Of the first `MAX_PAGES_SHOWN` pages, as rendered (for the img width/height)."""
    attachments: tuple[str, ...]

    @property
    def truncated(self) -> bool:
        return self.page_count > len(self.sizes)


class _Cache:
    """An LRU of values with a byte budget, shared by every thread."""

    def __init__(self, budget: int) -> None:
        self._items: OrderedDict[tuple[object, ...], tuple[object, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._budget = budget
        self._used = 0

    def get(self, key: tuple[object, ...]) -> object | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: tuple[object, ...], value: object, size: int) -> None:
        with self._lock:
            if key in self._items or size > self._budget:
                return
            self._items[key] = (value, size)
            self._used += size
            while self._used > self._budget:
                _old, (_value, old_size) = self._items.popitem(last=False)
                self._used -= old_size


_cache = _Cache(CACHE_BYTES)


def _scale(width_pt: float, height_pt: float) -> float:
    scale = WIDTH_PX / max(width_pt, 1.0)
    if height_pt * scale > MAX_HEIGHT_PX:
        scale = MAX_HEIGHT_PX / max(height_pt, 1.0)
    return scale


def _open(data: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise PageImageError(str(exc)) from exc


def outline(key: tuple[object, ...], data: bytes) -> Outline:
    """Page count, rendered sizes and attachment names of the PDF `data` (cached by `key`)."""
    cached = _cache.get(("outline", *key))
    if isinstance(cached, Outline):
        return cached
    with _PDFIUM:
        document = _open(data)
        try:
            count = len(document)
            sizes = []
            for index in range(min(count, MAX_PAGES_SHOWN)):
                page = document[index]
                width, height = page.get_size()
                if page.get_rotation() in (90, 270):
                    width, height = height, width
                scale = _scale(width, height)
                sizes.append(PageSize(round(width * scale), round(height * scale)))
                page.close()
        finally:
            document.close()
    found = Outline(count, tuple(sizes), _attachment_names(data))
    _cache.put(("outline", *key), found, 1024)
    return found


def _attachment_names(data: bytes) -> tuple[str, ...]:
    """The embedded files' names, read as the upload check reads them (pyHanko, bounded;
    PDFium garbles UTF-16 names)."""
    try:
        limits = DEFAULT_LIMITS
        reader = PdfFileReader(io.BytesIO(data), strict=True, decode_limits=limits.decode_limits())
        found = embedded_files(reader, limits, Deadline(limits.seconds))
    except (PdfError, PyhankoPdfError, ValueError, KeyError):
        return ()
    return tuple(attachment.name for attachment in found)


def cached_page(key: tuple[object, ...], number: int) -> bytes | None:
    value = _cache.get(("page", *key, number))
    return value if isinstance(value, bytes) else None


def render_page(key: tuple[object, ...], data: bytes, number: int) -> bytes:
    """Page `number` (1-based, at most `MAX_PAGES_SHOWN`) of `data` as PNG, cached by `key`."""
    found = cached_page(key, number)
    if found is not None:
        return found
    with _PDFIUM:
        document = _open(data)
        try:
            if not 1 <= number <= min(len(document), MAX_PAGES_SHOWN):
                raise IndexError(number)
            page = document[number - 1]
            width, height = page.get_size()
            if page.get_rotation() in (90, 270):
                width, height = height, width
            bitmap = page.render(scale=_scale(width, height), may_draw_forms=True)
            out = io.BytesIO()
            bitmap.to_pil().save(out, format="PNG", optimize=False)
            bitmap.close()
            page.close()
        finally:
            document.close()
    png = out.getvalue()
    _cache.put(("page", *key, number), png, len(png))
    return png
