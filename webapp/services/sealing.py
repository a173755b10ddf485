"""The platform's PDF steps as revision steps (a seal, the closing step), and their failures
in the words people are told."""

from __future__ import annotations

from collections.abc import Sequence

from webapp.errors import ConflictError, DomainError, UnavailableError
from webapp.pdf import PdfError, PdfRejected, SealingError, TimestampUnavailable
from webapp.pdf.workers import FinalizeJob, SealJob


def seal_step(field_name: str, reason: str) -> SealJob:
    """A step adding one platform seal (PAdES B-T) in a new field."""
    return SealJob(field_name, reason)


def finalize_step(
    known_ocsp_responses: Sequence[bytes] = (), known_crls: Sequence[bytes] = ()
) -> FinalizeJob:
    """The closing step: final seal, validation data (DSS) and a document timestamp; the
    revocation answers that let card signatures in go into the DSS."""
    return FinalizeJob(tuple(known_ocsp_responses), tuple(known_crls))


def sealing_failure(exc: SealingError) -> DomainError:
    """The PDF layer's own words; nothing was recorded. 503 when trying again can help
    (TSA or OCSP down), 409 when it cannot (a revoked or untrusted certificate)."""
    code = "tsa_unavailable" if isinstance(exc, TimestampUnavailable) else exc.code
    kind = UnavailableError if exc.retryable else ConflictError
    return kind(code, messages=(exc.message_ja, exc.message_en))


def pdf_failure(exc: PdfError) -> DomainError:
    """Any failure of a PDF step, as the error a person is shown."""
    if isinstance(exc, SealingError):
        return sealing_failure(exc)
    if isinstance(exc, PdfRejected):  # a file the upload check refuses today
        return DomainError(f"pdf_{exc.code}", messages=(exc.message_ja, exc.message_en))
    return ConflictError(exc.code, messages=(exc.message_ja, exc.message_en))
