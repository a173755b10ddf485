"""The platform's PDF steps as revision steps: a seal, and the closing seal + DSS + timestamp."""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

from webapp.errors import ConflictError, DomainError, UnavailableError
from webapp.pdf import SealingError, TimestampUnavailable
from webapp.services.context import ServiceContext
from webapp.services.revisions import PdfStep


def seal_step(ctx: ServiceContext, field_name: str, reason: str) -> PdfStep:
    """A step adding one platform seal (PAdES B-T) in a new field."""

    async def seal(source: BinaryIO, output: BinaryIO) -> None:
        try:
            await ctx.sealer.seal(source, output, field_name=field_name, reason=reason)
        except SealingError as exc:
            raise sealing_failure(exc) from None

    return seal


def finalize_step(ctx: ServiceContext, known_ocsp_responses: Sequence[bytes] = ()) -> PdfStep:
    """The closing step: final seal, validation data (DSS) and a document timestamp."""

    async def finalize(source: BinaryIO, output: BinaryIO) -> None:
        try:
            await ctx.sealer.finalize(source, output, known_ocsp_responses=known_ocsp_responses)
        except SealingError as exc:
            raise sealing_failure(exc) from None

    return finalize


def sealing_failure(exc: SealingError) -> DomainError:
    """The PDF layer's own words; nothing was recorded. 503 when trying again can help
    (TSA or OCSP down), 409 when it cannot (a revoked or untrusted certificate)."""
    code = "tsa_unavailable" if isinstance(exc, TimestampUnavailable) else exc.code
    kind = UnavailableError if exc.retryable else ConflictError
    return kind(code, messages=(exc.message_ja, exc.message_en))
