"""PDF side of the contract service: check uploads, stamp the document ID, seal, finalize.

inspect_pdf(source, max_bytes=…, max_pages=…) -> PdfInfo    or PdfRejected(code, ja, en)
stamp_document_id(source, output, document_id)              incremental update on page 1
Sealer(signer, timestamper_url, trust_roots)
    await .seal(source, output, field_name=…, reason=…)     PAdES B-T platform seal
    await .finalize(source, output)                         final seal + DSS + doc TS (B-LTA)
seal_signer_from_files(…) / seal_signer_from_pkcs11(…) -> SealKey (.signer, .close())
create_development_seal(directory) -> DevelopmentSealFiles
"""

from webapp.pdf.dev_seal import DevelopmentSealFiles, create_development_seal
from webapp.pdf.errors import (
    PdfError,
    PdfRejected,
    SealingError,
    TimestampUnavailable,
    ValidationDataUnavailable,
)
from webapp.pdf.inspect import PdfInfo, inspect_pdf
from webapp.pdf.seal import Sealer
from webapp.pdf.seal_keys import (
    FileSealKey,
    Pkcs11SealKey,
    SealKey,
    SealKeyError,
    seal_signer_from_files,
    seal_signer_from_pkcs11,
)
from webapp.pdf.stamp import stamp_document_id

__all__ = [
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
    "create_development_seal",
    "inspect_pdf",
    "seal_signer_from_files",
    "seal_signer_from_pkcs11",
    "stamp_document_id",
]
