"""The document as page images for the recipient's page: readable on every screen size.

    document_outline(ctx, db, document) -> Outline      pages, sizes, attachment names
    page_png(ctx, db, document, number) -> bytes        one page as PNG (cached)

Blocking (decryption and PDFium): call from plain `def` routes. Why server-side images
and why pypdfium2: `webapp.page_images.render`.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from webapp.db.models import Document
from webapp.errors import NotFoundError
from webapp.page_images.render import (
    MAX_PAGES_SHOWN,
    Outline,
    PageImageError,
    PageSize,
    cached_page,
    outline,
    render_page,
)
from webapp.services import revisions
from webapp.services.context import ServiceContext


def _current(
    ctx: ServiceContext, db: Session, document: Document
) -> tuple[tuple[object, ...], str]:
    revision = revisions.current_revision(db, document)
    return (document.id, revision.number, revision.sha256), revision.blob_name


def _plaintext(ctx: ServiceContext, document: Document, blob_name: str) -> bytes:
    with ctx.files.open_read(revisions.data_key(ctx, document), blob_name) as reader:
        data: bytes = reader.read()
    return data


def document_outline(ctx: ServiceContext, db: Session, document: Document) -> Outline | None:
    """The current revision's outline; None when it cannot be rendered (the page says so)."""
    key, blob = _current(ctx, db, document)
    try:
        return outline(key, _plaintext(ctx, document, blob))
    except PageImageError:
        return None


def page_png(ctx: ServiceContext, db: Session, document: Document, number: int) -> bytes:
    """Page `number` (1-based) of the current revision as PNG; `NotFoundError` if none."""
    key, blob = _current(ctx, db, document)
    if not 1 <= number <= MAX_PAGES_SHOWN:
        raise NotFoundError("page_not_found")
    found = cached_page(key, number)
    if found is not None:
        return found
    try:
        return render_page(key, _plaintext(ctx, document, blob), number)
    except (IndexError, PageImageError):
        raise NotFoundError("page_not_found") from None


__all__ = ["MAX_PAGES_SHOWN", "Outline", "PageSize", "document_outline", "page_png"]
