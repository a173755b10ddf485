"""PDF side of the contract service: check uploads, stamp the document ID, seal, finalize.

    inspect_pdf(source, max_bytes=…, max_pages=…) -> PdfInfo   or PdfRejected(code, ja, en)
        blocking (a sandboxed process, bounded): call from a worker thread; .attachments
        lists embedded files (Attachment(name, size)); codes: webapp.pdf.refusals
    check_sendable(source) -> PdfInfo                          the upload check again, at send
    write_document_id(source, output, document_id)             incremental update, page 1
    Sealer(signer, timestamper_url, trust_roots)
        await .seal(source, output, field_name=…, reason=…)    PAdES B-T platform seal
        await .finalize(source, output)                        final seal + DSS + doc TS
    seal_signer_from_files(…) / seal_signer_from_pkcs11(…) -> SealKey (.signer, .close())
    create_development_seal(directory, crl_url=…) -> DevelopmentSealFiles
    development_seal_crl(directory) -> bytes                   what to serve at crl_url

Failures: `PdfRejected` (an upload), `SealingError` and its `TimestampUnavailable` and
`ValidationDataUnavailable` (nothing written; `.retryable`), `SealKeyError` (start-up).
"""

from webapp.pdf.dev_seal import (
    DevelopmentSealFiles,
    create_development_seal,
    development_seal_crl,
)
from webapp.pdf.errors import (
    PdfError,
    PdfRejected,
    SealingError,
    TimestampUnavailable,
    ValidationDataUnavailable,
)
from webapp.pdf.id_stamp import write_document_id
from webapp.pdf.inspect import Attachment, PdfInfo, check_sendable, inspect_pdf
from webapp.pdf.seal import Sealer
from webapp.pdf.seal_keys import (
    FileSealKey,
    Pkcs11SealKey,
    SealKey,
    SealKeyError,
    seal_signer_from_files,
    seal_signer_from_pkcs11,
)

__all__ = [
    "Attachment",
    "DevelopmentSealFiles",
    "FileSealKey",
    "PdfError",
    "PdfInfo",
    "PdfRejected",
    "Pkcs11SealKey",
    "SealKey",
    "SealKeyError",
    "Sealer",
    "SealingError",
    "TimestampUnavailable",
    "ValidationDataUnavailable",
    "check_sendable",
    "create_development_seal",
    "development_seal_crl",
    "inspect_pdf",
    "seal_signer_from_files",
    "seal_signer_from_pkcs11",
    "write_document_id",
]
