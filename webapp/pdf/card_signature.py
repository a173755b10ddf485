"""A party's card signature in the PDF: prepare the revision, then embed the card's CMS.

Preparing appends a new signature field with room reserved for the CMS (pyHanko external
signing) and returns the ByteRange digest and the reserved region's offsets: plain values
that the database keeps, so the signature can arrive after a server restart. Embedding
adds a signature timestamp over the card's signature value (PAdES B-T), as an unsigned
attribute put in by DER surgery so that not one signed byte is re-encoded, and writes the
CMS into the reserved region of the prepared file, in place.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, BinaryIO, Self

from asn1crypto import cms
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_cms import ExternalSigner
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko.sign.timestamps.api import TimeStamper

from webapp.pdf.errors import PdfError, TimestampUnavailable
from webapp.pdf.seal import DIGEST_ALGORITHM, IO_CHUNK
from webapp.pdf.worker import check_empty, guarded, in_worker

RESERVED_HEX_DIGITS = 64 * 1024
"""Room for the CMS in the file: hex digits, so 32 KiB of DER (a card CMS with its
signature timestamp takes about 8 KiB)."""
CARD_SIGNATURE_REASON = "マイナンバーカードによる署名 / Signed with a My Number Card"
_SIGNATURE_TIMESTAMP_OID = bytes.fromhex("2a864886f70d010910020e")
"""id-aa-signatureTimeStampToken, 1.2.840.113549.1.9.16.2.14 (the OID's DER body)."""


@dataclass(frozen=True)
class PreparedCardSignature:
    """Where a prepared revision's signature goes and what the card must sign."""

    field_name: str
    digest: bytes
    """SHA-256 over the ByteRange: the CMS's message-digest."""
    reserved_start: int
    reserved_end: int

    def offsets(self) -> dict[str, int]:
        """The reserved region, as stored with the session."""
        return {"reserved_start": self.reserved_start, "reserved_end": self.reserved_end}

    @classmethod
    def from_stored(cls, field_name: str, digest_hex: str, offsets: dict[str, Any]) -> Self:
        return cls(
            field_name,
            bytes.fromhex(digest_hex),
            int(offsets["reserved_start"]),
            int(offsets["reserved_end"]),
        )


class CardSignatureTooLarge(PdfError):  # noqa: N818 - named like PdfRejected
    """The CMS (with its timestamp) does not fit the room reserved for it."""

    def __init__(self) -> None:
        super().__init__(
            "signature_too_large",
            "署名データが大きすぎるため、文書に埋め込めません。",
            "The signature is too large to be embedded in the document.",
        )


async def prepare_card_signature(
    source: BinaryIO,
    output: BinaryIO,
    *,
    field_name: str,
    reason: str = CARD_SIGNATURE_REASON,
    location: str = "mynasign",
    signer_name: str | None = None,
) -> PreparedCardSignature:
    """Write to `output` (empty) the next revision with an unsigned field `field_name`.

    `signer_name` becomes the signature dictionary's `/Name`, which PDF readers show in
    their signature panels (a JPKI certificate's common name is a serial number).
    """
    check_empty(output)
    found: list[PreparedCardSignature] = []

    async def prepare() -> None:
        source.seek(0)
        writer = IncrementalPdfFileWriter(source, strict=True)
        writer.IO_CHUNK_SIZE = IO_CHUNK
        metadata = PdfSignatureMetadata(
            field_name=field_name, reason=reason, location=location, name=signer_name,
            md_algorithm=DIGEST_ALGORITHM, subfilter=SigSeedSubFilter.PADES,
        )  # fmt: skip
        signer = PdfSigner(metadata, signer=ExternalSigner(None, None, signature_value=256))
        prepared, _, _ = await signer.async_digest_doc_for_signing(
            writer, bytes_reserved=RESERVED_HEX_DIGITS, output=output, chunk_size=IO_CHUNK
        )
        found.append(
            PreparedCardSignature(
                field_name,
                prepared.document_digest,
                prepared.reserved_region_start,
                prepared.reserved_region_end,
            )
        )

    await in_worker(guarded(output, prepare()))
    return found[0]


async def embed_card_signature(
    document: BinaryIO,
    prepared: PreparedCardSignature,
    cms_der: bytes,
    timestamper: TimeStamper,
) -> None:
    """Timestamp the card's signature and write the CMS into `document`, in place.

    `document` is the prepared revision (readable, writable, seekable); `cms_der` must
    already have been checked. Raises `TimestampUnavailable` (the file is unchanged) or
    `CardSignatureTooLarge`.
    """
    signature_value = _signature_value(cms_der)
    try:
        token = await timestamper.async_timestamp(
            hashlib.sha256(signature_value).digest(), DIGEST_ALGORITHM
        )
    except TimestampRequestError as exc:
        raise TimestampUnavailable(str(exc)) from exc
    stamped = with_signature_timestamp(cms_der, token.dump())
    if 2 * len(stamped) > prepared.reserved_end - prepared.reserved_start - 2:
        raise CardSignatureTooLarge
    region = PreparedByteRangeDigest(
        prepared.digest, prepared.reserved_start, prepared.reserved_end
    )
    region.fill_with_cms(document, stamped)


def _signature_value(cms_der: bytes) -> bytes:
    info = cms.ContentInfo.load(cms_der)
    value: bytes = info["content"]["signer_infos"][0]["signature"].native
    return value


# --- DER surgery: one unsigned attribute appended to the only SignerInfo ------------------


def with_signature_timestamp(cms_der: bytes, token_der: bytes) -> bytes:
    """`cms_der` with a signature-time-stamp-token unsigned attribute holding `token_der`.

    Every byte of the original is kept; only the lengths of the enclosing structures change.
    The CMS must have one SignerInfo without unsigned attributes (as the card's has).
    """
    attribute = _tlv(0x30, _tlv(0x06, _SIGNATURE_TIMESTAMP_OID) + _tlv(0x31, token_der))
    unsigned = _tlv(0xA1, attribute)  # [1] IMPLICIT SET OF Attribute

    content_info = _children(_body(cms_der, 0x30))
    oid, explicit = content_info[0], content_info[1]
    signed_data = _body(_body(explicit, 0xA0), 0x30)
    parts = _children(signed_data)
    signer_infos = _children(_body(parts[-1], 0x31))
    if len(signer_infos) != 1:
        raise ValueError("expected exactly one SignerInfo")
    signer_info = _body(signer_infos[0], 0x30)
    if any(child[0] == 0xA1 for child in _children(signer_info)):
        raise ValueError("the SignerInfo already has unsigned attributes")
    new_signer_info = _tlv(0x30, signer_info + unsigned)
    new_signed_data = _tlv(0x30, b"".join(parts[:-1]) + _tlv(0x31, new_signer_info))
    return _tlv(0x30, oid + _tlv(0xA0, new_signed_data))


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _length(len(body)) + body


def _header(der: bytes, at: int) -> tuple[int, int]:
    """The (body start, body end) of the DER element at `at` (single-byte tags only)."""
    first = der[at + 1]
    if first < 0x80:
        start, size = at + 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise ValueError("indefinite or oversized DER length")
        start = at + 2 + count
        size = int.from_bytes(der[at + 2 : start], "big")
    if start + size > len(der):
        raise ValueError("truncated DER")
    return start, start + size


def _body(element: bytes, tag: int) -> bytes:
    if not element or element[0] != tag:
        raise ValueError(f"expected DER tag {tag:#x}")
    start, end = _header(element, 0)
    if end != len(element):
        raise ValueError("trailing bytes after a DER element")
    return element[start:end]


def _children(body: bytes) -> list[bytes]:
    found, at = [], 0
    while at < len(body):
        _, end = _header(body, at)
        found.append(body[at:end])
        at = end
    return found
