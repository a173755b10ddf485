"""The platform seal: PAdES signatures with a signature timestamp (B-T), and the closing B-LTA.

Every method writes the whole new file to `output`, an empty stream that can be read,
written and seeked (a file opened "w+b", or a `BytesIO`): pyHanko hashes the signed byte
ranges back from it, so nothing is held in memory twice. If a step fails, `output` is
truncated back to empty and the caller still has `source` as it was: nothing is lost,
and the step can be tried again.

The pyHanko work (copying, hashing, parsing) runs in a worker thread with its own event
loop, so a 20 MB document never stalls the web server's loop. Cancelling the awaiting
task does not stop that thread: keep both streams open until the call has returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

from asn1crypto import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, Signer
from pyhanko.sign.timestamps import TimestampRequestError

from webapp.pdf.errors import TimestampUnavailable
from webapp.pdf.finalize import add_validation_data_and_document_timestamp
from webapp.pdf.frozen_asn1 import KeepingTimeStamper
from webapp.pdf.worker import check_empty, guarded, in_worker

DIGEST_ALGORITHM = "sha256"
IO_CHUNK = 256 * 1024  # pyHanko copies and hashes in 4 KiB steps by default: slow on files
FINAL_SEAL_FIELD = "mynasign-completion"
FINAL_SEAL_REASON = "締結完了 / Completed"


class Sealer:
    """Seals PDFs with the platform's key; timestamps come from the TSA at `timestamper_url`.

    Timestamps, and the OCSP/CRL fetches of `finalize`, go through the process's one HTTP
    client (`webapp.http_client`: kept-alive connections, the CA bundle loaded once), which
    works from whichever event loop or worker thread a step runs on.

    `trust_roots` (DER) are the roots every signature in a finished document chains to:
    the seal's root, the TSA's root and the JPKI signing roots. They are used to build
    the certificate paths whose validation data goes into the DSS.
    """

    def __init__(
        self,
        signer: Signer,
        timestamper_url: str,
        trust_roots: Sequence[bytes],
        *,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._signer = signer
        self._timestamper = KeepingTimeStamper(timestamper_url, timeout=timeout_seconds)
        self._trust_roots = [x509.Certificate.load(der) for der in trust_roots]

    @property
    def trust_roots(self) -> list[bytes]:
        """The roots given at start (DER): issue 12's verification and timestamp renewal."""
        return [root.dump() for root in self._trust_roots]

    @property
    def timestamper(self) -> KeepingTimeStamper:
        """The TSA client, for the signature timestamps of card signatures."""
        return self._timestamper

    async def seal(
        self,
        source: BinaryIO,
        output: BinaryIO,
        *,
        field_name: str,
        reason: str,
        location: str = "mynasign",
    ) -> None:
        """Append a platform seal (PAdES B-T) in a new signature field `field_name`.

        Raises `TimestampUnavailable` when the TSA does not answer (output left empty).
        """
        check_empty(output)
        await in_worker(guarded(output, self._seal(source, output, field_name, reason, location)))

    async def finalize(
        self,
        source: BinaryIO,
        output: BinaryIO,
        *,
        field_name: str = FINAL_SEAL_FIELD,
        reason: str = FINAL_SEAL_REASON,
        location: str = "mynasign",
        known_ocsp_responses: Sequence[bytes] = (),
        known_crls: Sequence[bytes] = (),
    ) -> None:
        """The closing step: final seal, DSS for every signature, document timestamp (B-LTA).

        Raises `TimestampUnavailable` or `ValidationDataUnavailable` (output left empty).
        """
        check_empty(output)
        await in_worker(
            guarded(
                output,
                self._finalize(
                    source, output, field_name, reason, location, known_ocsp_responses, known_crls
                ),
            )
        )

    async def _seal(
        self, source: BinaryIO, output: BinaryIO, field_name: str, reason: str, location: str
    ) -> None:
        source.seek(0)
        writer = IncrementalPdfFileWriter(source, strict=True)
        writer.IO_CHUNK_SIZE = IO_CHUNK
        metadata = PdfSignatureMetadata(
            field_name=field_name,
            reason=reason,
            location=location,
            md_algorithm=DIGEST_ALGORITHM,
            subfilter=SigSeedSubFilter.PADES,
        )
        signer = PdfSigner(metadata, signer=self._signer, timestamper=self._timestamper)
        try:
            await signer.async_sign_pdf(writer, output=output, chunk_size=IO_CHUNK)
        except TimestampRequestError as exc:
            raise TimestampUnavailable(str(exc)) from exc

    async def _finalize(
        self,
        source: BinaryIO,
        output: BinaryIO,
        field_name: str,
        reason: str,
        location: str,
        known_ocsp_responses: Sequence[bytes],
        known_crls: Sequence[bytes],
    ) -> None:
        await self._seal(source, output, field_name, reason, location)
        await add_validation_data_and_document_timestamp(
            output, self._timestamper, self._trust_roots, DIGEST_ALGORITHM, chunk_size=IO_CHUNK,
            known_ocsp_responses=known_ocsp_responses, known_crls=known_crls,
        )  # fmt: skip
