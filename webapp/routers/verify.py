"""Verification of any PDF: the page `/verify` and `POST /api/v1/verify` (multipart `file`).

Both are plain `def` routes: reading the upload, pyHanko's validation and the record
look-up run in FastAPI's thread pool, never on the event loop. The file is read up to
`max_upload_bytes` (a larger one answers 413) and is not kept.
"""

from __future__ import annotations

import datetime
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from webapp.api_models import error_responses
from webapp.deps import Db
from webapp.errors import DomainError
from webapp.i18n import request_language
from webapp.mail.messages import JST
from webapp.pages import PageDb, context_of, render, require_csrf, templates
from webapp.runtime import Runtime
from webapp.verification import (
    TrustedRoots,
    VerificationRefusedError,
    VerificationReport,
    VerificationTooLargeError,
    verify_pdf,
)

api = APIRouter(prefix="/api/v1/verify", tags=["verification"])
pages = APIRouter(
    prefix="/verify", tags=["pages: verification"], include_in_schema=False,
    dependencies=[Depends(require_csrf)],
)  # fmt: skip
MB = 1024 * 1024


def _jst_seconds(moment: datetime.datetime | None) -> str:
    """`2026-12-06 21:05:09 JST`: a signature's time to the second, in Japan time."""
    if moment is None:
        return ""
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST")


templates.filters.setdefault("local_time_seconds", _jst_seconds)


def trusted_roots(request: Request) -> TrustedRoots:
    """The service's trust roots by role, from the opened runtime."""
    runtime: Runtime = request.app.state.runtime
    seal_cert = runtime.seal_key.signer.signing_cert
    return TrustedRoots(
        all_roots=list(runtime.trust_roots), card_roots=list(runtime.card_anchors),
        platform_certs=[seal_cert.dump()] if seal_cert is not None else [],
    )  # fmt: skip


Roots = Annotated[TrustedRoots, Depends(trusted_roots)]


def _read_limited(upload: BinaryIO, limit: int) -> bytes:
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise VerificationTooLargeError("verify_too_large", limit_mb=limit // MB)
    if not data:
        raise VerificationRefusedError("verify_file_required")
    return data


def _verify(
    request: Request, db: Session, roots: TrustedRoots, file: UploadFile | None
) -> VerificationReport:
    if file is None:
        raise VerificationRefusedError("verify_file_required")
    limit = context_of(request).settings.max_upload_bytes
    report = verify_pdf(db, _read_limited(file.file, limit), roots)
    db.rollback()  # read only
    return report


@api.post("", response_model=VerificationReport, responses=error_responses(400, 413))
def verify_api(
    request: Request,
    db: Db,
    roots: Roots,
    file: Annotated[UploadFile, File(description="any PDF, at most max_upload_bytes")],
) -> VerificationReport:
    """Each signature and document timestamp: who, when, intact, trusted, kind, PAdES level;
    and whether this is a revision of a document on record here (the final one or not)."""
    return _verify(request, db, roots, file)


@pages.get("")
def verify_form(request: Request) -> HTMLResponse:
    return render(request, "verify.html", report=None, error=None)


@pages.post("")
def verify_page(
    request: Request,
    db: PageDb,
    roots: Roots,
    file: Annotated[UploadFile | None, File()] = None,
) -> HTMLResponse:
    try:
        report = _verify(request, db, roots, file if file and file.filename else None)
    except DomainError as error:
        return render(
            request, "verify.html", status=error.status_code, report=None,
            error=error.text(request_language(request)),
        )  # fmt: skip
    return render(request, "verify.html", report=report, error=None)
