"""PDF revisions of a document: read the current one, run a PDF step, store the next one.

The PDF work runs on temporary files outside any database transaction (a seal waits for
the TSA), in a PDF worker process (`webapp.pdf.workers`: never on the event loop, nor in
the server's interpreter); the new revision is recorded afterwards in a short transaction.
If the step fails, nothing is recorded and the encrypted output is removed: nothing is
lost, and the same action can be tried again.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import Document, DocumentRevision, RevisionKind
from webapp.pdf import PdfError
from webapp.pdf.workers import PdfJob
from webapp.services.context import ServiceContext
from webapp.services.sealing import pdf_failure
from webapp.storage import StoredBlob

PdfStep = PdfJob
"""A step of a new revision: a job of `webapp.pdf.workers` (stamp, seal, closing step)."""


@dataclass(frozen=True)
class NewRevision:
    """A revision written to the file store, not yet recorded in the database."""

    number: int
    kind: RevisionKind
    blob: StoredBlob


def data_key(ctx: ServiceContext, document: Document) -> bytes:
    """The document's own AES key, unwrapped with the key-encryption key."""
    return ctx.kek.unwrap(document.data_key_wrapped)


def current_revision(db: Session, document: Document) -> DocumentRevision:
    revision = db.scalar(
        select(DocumentRevision).where(
            DocumentRevision.document_id == document.id,
            DocumentRevision.number == document.current_revision,
        )
    )
    if revision is None:
        raise LookupError(f"document {document.id} has no revision {document.current_revision}")
    return revision


@contextlib.contextmanager
def decrypted_copy(ctx: ServiceContext, document: Document, blob_name: str) -> Iterator[BinaryIO]:
    """The plaintext of a stored revision in a private temporary file, removed afterwards
    (named: a PDF worker process opens it by its path)."""
    with scratch_file(ctx) as plain:
        ctx.files.decrypt_to(data_key(ctx, document), blob_name, plain)
        plain.seek(0)
        yield plain


@contextlib.contextmanager
def scratch_file(ctx: ServiceContext) -> Iterator[BinaryIO]:
    """An empty private file in the scratch directory, removed afterwards."""
    with tempfile.NamedTemporaryFile(dir=scratch_dir(ctx), prefix="pdf-") as handle:
        yield handle  # type: ignore[misc]


def run_job(ctx: ServiceContext, job: PdfJob, source: BinaryIO, output: BinaryIO) -> Any:
    """Run one PDF job on two scratch files (in a PDF worker process); its result.

    A failure comes out as the error a person is told (`DomainError`), nothing written.
    """
    source.flush()
    output.flush()
    try:
        return ctx.pdf_workers().run(job, Path(source.name), Path(output.name))
    except PdfError as exc:
        raise pdf_failure(exc) from None


def store_original(ctx: ServiceContext, document: Document, source: BinaryIO) -> NewRevision:
    """Revision 1: the uploaded PDF as it came."""
    blob = ctx.files.write(data_key(ctx, document), f"{document.id}-r1", source)
    return NewRevision(1, RevisionKind.ORIGINAL, blob)


def next_revision(
    ctx: ServiceContext,
    document: Document,
    current_blob: str,
    kind: RevisionKind,
    steps: list[PdfStep],
) -> NewRevision:
    """Run `steps` one after the other on the current revision and store the result."""
    number = document.current_revision + 1
    with decrypted_copy(ctx, document, current_blob) as source:
        return next_revision_from_plain(ctx, document, source, number, kind, steps)


def next_revision_from_plain(
    ctx: ServiceContext,
    document: Document,
    source: BinaryIO,
    number: int,
    kind: RevisionKind,
    steps: list[PdfStep],
) -> NewRevision:
    """Run `steps` on a plaintext PDF already at hand (spares decrypting it once more)."""
    with contextlib.ExitStack() as stack:
        for step in steps:
            output = stack.enter_context(scratch_file(ctx))
            run_job(ctx, step, source, output)
            output.seek(0)
            source = output
        blob = ctx.files.write(data_key(ctx, document), f"{document.id}-r{number}", source)
    return NewRevision(number, kind, blob)


def record_revision(db: Session, document: Document, revision: NewRevision) -> DocumentRevision:
    """Make a stored revision the document's current one (in the caller's transaction)."""
    row = DocumentRevision(
        document_id=document.id,
        number=revision.number,
        kind=revision.kind,
        blob_name=revision.blob.blob_name,
        sha256=revision.blob.sha256,
        size=revision.blob.size,
    )
    db.add(row)
    document.current_revision = revision.number
    return row


def discard(ctx: ServiceContext, revision: NewRevision | None) -> None:
    """Remove a stored revision that was never recorded."""
    if revision is not None:
        ctx.files.delete(revision.blob.blob_name)


def scratch_dir(ctx: ServiceContext) -> Path:
    """Where decrypted copies and PDF step outputs live while a step runs."""
    scratch = Path(ctx.settings.data_dir) / "tmp"
    scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
    return scratch
