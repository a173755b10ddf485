"""Verifying any PDF's signatures and document timestamps, and whether this service made it.

    roots = TrustedRoots(all_roots=[…DER], card_roots=[…DER], platform_certs=[…DER])
    verify_pdf(db, data, roots) -> VerificationReport     (blocking: run it off the loop)

`VerificationRefusedError` (a `DomainError`, 400; `VerificationTooLargeError`, 413) when the file
cannot be verified at all: not a PDF, encrypted, too many signatures, too large.
"""

from webapp.verification.check import (
    TrustedRoots,
    VerificationRefusedError,
    VerificationTooLargeError,
)
from webapp.verification.models import Problem, RecordMatch, SignatureReport, VerificationReport
from webapp.verification.report import record_match, verify_pdf

__all__ = [
    "Problem",
    "RecordMatch",
    "SignatureReport",
    "TrustedRoots",
    "VerificationRefusedError",
    "VerificationReport",
    "VerificationTooLargeError",
    "record_match",
    "verify_pdf",
]
