"""The PDF side of timestamp renewal: read the newest document timestamp, add the next one.

Renewal is PAdES's archive timestamp chain (ETSI EN 319 142-1, B-LTA): the validation data
of the newest document timestamp (its TSA's certificates and revocation answers) goes
into the DSS, and a new document timestamp covers all of it, so the document stays
verifiable after the older TSA certificate has ended or its algorithms have grown weak.
pyHanko's `PdfTimeStamper.async_update_archival_timestamp_chain` does exactly this. The
OCSP, CRL and issuer fetches go through the process's one HTTP client
(`webapp.http_client`), like the TSA request itself (the sealer's `PooledTimeStamper`).
"""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers import PdfTimeStamper
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko_certvalidator import ValidationContext

from webapp.http_client import PooledFetcherBackend
from webapp.pdf.errors import TimestampUnavailable
from webapp.pdf.worker import check_empty, guarded, in_worker

ARCHIVE_FIELD_PREFIX = "mynasign-archive-timestamp"
"""The completion's document timestamp is this field; renewals add `-2`, `-3`, …"""
WEAK_DIGESTS = frozenset({"md2", "md5", "sha1"})
MIN_RSA_BITS = 2048
FETCH_TIMEOUT_SECONDS = 10
IO_CHUNK = 256 * 1024


@dataclass(frozen=True)
class NewestTimestamp:
    """The newest document timestamp of a PDF, as renewal sees it."""

    count: int
    """How many document timestamps the PDF holds."""
    tsa_expires_at: datetime.datetime | None
    """When the certificate of the TSA that made the newest one ends; None: no timestamp."""
    weak_algorithm: str | None
    """A weak algorithm it relies on (digest or key), None when there is none."""


def _weakness(signature: Any) -> str | None:
    """The first weak algorithm of a timestamp: the imprint, signed-data digest, or TSA key."""
    signer_info = signature.signer_info
    digest = signer_info["digest_algorithm"]["algorithm"].native
    imprint = signature.signed_data["encap_content_info"]["content"].parsed
    imprint_digest = imprint["message_imprint"]["hash_algorithm"]["algorithm"].native
    for algorithm in (imprint_digest, digest):
        if algorithm in WEAK_DIGESTS:
            return str(algorithm)
    key = signature.signer_cert.public_key
    if key.algorithm == "rsa" and key.bit_size < MIN_RSA_BITS:
        return f"rsa-{key.bit_size}"
    return None


def newest_timestamp(source: BinaryIO) -> NewestTimestamp:
    """Look at the newest document timestamp of a PDF (blocking; a few milliseconds)."""
    source.seek(0)
    timestamps = PdfFileReader(source, strict=False).embedded_timestamp_signatures
    if not timestamps:
        return NewestTimestamp(0, None, None)
    newest = timestamps[-1]
    expires = newest.signer_cert["tbs_certificate"]["validity"]["not_after"].native
    return NewestTimestamp(len(timestamps), expires, _weakness(newest))


async def _renew(
    source: BinaryIO,
    output: BinaryIO,
    timestamper: TimeStamper,
    trust_roots: Sequence[x509.Certificate],
    field_name: str,
) -> None:
    source.seek(0)
    shutil.copyfileobj(source, output, IO_CHUNK)
    output.seek(0)
    reader = PdfFileReader(output, strict=False)
    context = ValidationContext(
        trust_roots=list(trust_roots), allow_fetching=True, revocation_mode="hard-fail",
        fetcher_backend=PooledFetcherBackend(FETCH_TIMEOUT_SECONDS),
    )  # fmt: skip
    stamper = PdfTimeStamper(timestamper, field_name=field_name)
    try:
        await stamper.async_update_archival_timestamp_chain(
            reader, context, in_place=True, chunk_size=IO_CHUNK, embed_roots=True
        )
    except TimestampRequestError as exc:
        raise TimestampUnavailable(str(exc)) from exc


async def renew_archive_timestamp(
    source: BinaryIO,
    output: BinaryIO,
    timestamper: TimeStamper,
    trust_roots: Sequence[bytes],
    *,
    existing_timestamps: int,
) -> None:
    """Write `source` plus DSS for its newest timestamp and a new document timestamp.

    `output` must be empty, readable, writable and seekable; on failure it is left empty.
    Runs in a worker thread with its own loop (the TSA and OCSP are asked).
    """
    check_empty(output)
    field = f"{ARCHIVE_FIELD_PREFIX}-{existing_timestamps + 1}"
    roots = [x509.Certificate.load(der) for der in trust_roots]
    await in_worker(guarded(output, _renew(source, output, timestamper, roots, field)))
