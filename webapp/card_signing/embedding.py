"""A party's card signature in the PDF: prepare the revision, then embed the card's CMS.

Preparing appends a new signature field with room reserved for the CMS (pyHanko external
signing) and a fixed room for the signature dictionary's `/Name`, and returns the
ByteRange digest and the offsets of both: plain values that the database keeps, so the
signature can arrive after a server restart. Embedding adds a signature timestamp over
the card's signature value (PAdES B-T), as an unsigned attribute put in by DER surgery so
that not one signed byte is re-encoded, and writes the CMS into the reserved region of
the prepared file, in place.

The `/Name` room (protocol v2). PDF readers show `/Name` in their signature panels, and
a JPKI certificate's subject names no person, so `/Name` should be the name in the
card's certificate; that certificate can only be read after VERIFY, while the card is
held. So the revision is prepared once, when the session starts, with `/Name` written
as a hex text string padded with spaces to a fixed `NAME_ROOM_BYTES` (the party's name as
the sender typed it, which a v1 bridge signs as is). When a v2 bridge sends the
certificate, `byte_range_digest` hashes the ByteRange with the certificate's name in the
room instead, streaming the stored revision once; the room is written at embedding.
Measured on 20 MB PDFs (one 20 MB stream; 2,000 streams of 10 KB) on 2 busy cores with
local storage, median of 5: filling the room and hashing the ByteRange from the stored
revision takes 0.09-0.14 s (read, decrypt and hash 20 MB: no PDF parsing, nothing
written); preparing the revision again (decrypt the current revision, pyHanko's
incremental preparation, encrypt and store 20 MB) takes 0.27-0.57 s, and more in
production: it would wait for a free PDF worker behind other seals, and with S3 it
uploads 20 MB while the card waits in the reader. So the room it is.
"""

from __future__ import annotations

import codecs
import hashlib
import secrets
from dataclasses import dataclass, replace
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
NAME_ROOM_UNITS = 100
"""UTF-16 code units the `/Name` room holds (JPKI names are far shorter; longer ones are cut)."""
NAME_ROOM_BYTES = len(b"<>") + 4 * (1 + NAME_ROOM_UNITS)
"""The room's bytes in the file: `<FEFF` + four hex digits per unit + `>`, then spaces."""
_HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class PreparedCardSignature:
    """Where a prepared revision's signature goes and what the card must sign."""

    field_name: str
    digest: bytes
    """SHA-256 over the ByteRange: the CMS's message-digest."""
    reserved_start: int
    reserved_end: int
    name_start: int | None = None
    """Where the `/Name` room starts (None: prepared without one, by an older version)."""
    name: str | None = None
    """The name the room must hold when embedding; None: as prepared."""

    def offsets(self) -> dict[str, int]:
        """The reserved regions, as stored with the session."""
        stored = {"reserved_start": self.reserved_start, "reserved_end": self.reserved_end}
        if self.name_start is not None:
            stored["name_start"] = self.name_start
        return stored

    @classmethod
    def from_stored(
        cls, field_name: str, digest_hex: str, offsets: dict[str, Any], name: str | None = None
    ) -> Self:
        name_start = offsets.get("name_start")
        return cls(
            field_name,
            bytes.fromhex(digest_hex),
            int(offsets["reserved_start"]),
            int(offsets["reserved_end"]),
            None if name_start is None else int(name_start),
            name,
        )

    def with_name(self, name: str, digest: bytes) -> PreparedCardSignature:
        """The same revision with `name` in the `/Name` room, whose ByteRange hashes to `digest`."""
        return replace(self, name=name, digest=digest)


class NameRoomMissing(PdfError):  # noqa: N818 - named like PdfRejected
    """The prepared revision has no `/Name` room (prepared before protocol v2)."""

    def __init__(self) -> None:
        super().__init__(
            "name_room_missing",
            "この署名セッションは古い形式です。新しいQRコードでやり直してください。",
            "This signing session is of an older kind. Please start again with a new QR code.",
        )


def name_text_string(name: str) -> bytes:
    """`name` as the `/Name` room's bytes: a PDF text string in UTF-16BE with a byte order
    mark, hex-encoded, padded with spaces to `NAME_ROOM_BYTES`. A longer name is cut
    after the last whole character that fits (a surrogate pair is never split)."""
    units = b""
    for char in name:
        encoded = char.encode("utf-16-be")
        if len(units) + len(encoded) > 2 * NAME_ROOM_UNITS:
            break
        units += encoded
    text = b"<" + (codecs.BOM_UTF16_BE + units).hex().upper().encode("ascii") + b">"
    return text.ljust(NAME_ROOM_BYTES, b" ")


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

    `signer_name` goes into the signature dictionary's `/Name` room (see the module
    docstring), which PDF readers show in their signature panels; a v2 session puts the
    certificate's name there instead before the card signs.
    """
    check_empty(output)
    found: list[PreparedCardSignature] = []
    source.seek(0, 2)
    original_length = source.tell()
    placeholder = secrets.token_hex(NAME_ROOM_BYTES // 2)[: NAME_ROOM_BYTES - 2]

    async def prepare() -> None:
        source.seek(0)
        writer = IncrementalPdfFileWriter(source, strict=True)
        writer.IO_CHUNK_SIZE = IO_CHUNK
        metadata = PdfSignatureMetadata(  # the placeholder: letters and digits, written as is
            field_name=field_name, reason=reason, location=location, name=placeholder,
            md_algorithm=DIGEST_ALGORITHM, subfilter=SigSeedSubFilter.PADES,
        )  # fmt: skip
        signer = PdfSigner(metadata, signer=ExternalSigner(None, None, signature_value=256))
        prepared, _, _ = await signer.async_digest_doc_for_signing(
            writer, bytes_reserved=RESERVED_HEX_DIGITS, output=output, chunk_size=IO_CHUNK
        )
        name_start = _find_room(output, original_length, b"(" + placeholder.encode() + b")")
        room = PreparedCardSignature(
            field_name, b"", prepared.reserved_region_start, prepared.reserved_region_end,
            name_start,
        )  # fmt: skip
        fill_name(output, room, signer_name or "")
        found.append(replace(room, digest=byte_range_digest(output, room)))

    await in_worker(guarded(output, prepare()))
    return found[0]


def _find_room(output: BinaryIO, after: int, room: bytes) -> int:
    """The offset of `room` in what was appended after `after`; it must occur once."""
    output.seek(after)
    appended = output.read()
    at = appended.find(room)
    if at < 0 or appended.find(room, at + 1) >= 0:
        raise PdfError(
            "name_room_missing",
            "署名欄を用意できませんでした。",
            "The signature field could not be prepared.",
        )
    return after + at


def fill_name(document: BinaryIO, prepared: PreparedCardSignature, name: str) -> None:
    """Write `name` into the `/Name` room of the prepared revision, in place."""
    if prepared.name_start is None:
        raise NameRoomMissing
    document.seek(prepared.name_start)
    document.write(name_text_string(name))
    document.flush()


def byte_range_digest(
    document: BinaryIO, prepared: PreparedCardSignature, name: str | None = None
) -> bytes:
    """SHA-256 over the ByteRange (all but the CMS's reserved region), reading `document`
    once from its start; with `name`, as if the `/Name` room held it (nothing is written)."""
    patch = b""
    if name is not None:
        if prepared.name_start is None:
            raise NameRoomMissing
        patch = name_text_string(name)
    digest = hashlib.sha256()
    if document.seekable():  # a stored revision is read as it is decrypted, from its start
        document.seek(0)
    at = 0
    while chunk := document.read(_HASH_CHUNK):
        end = at + len(chunk)
        if patch and prepared.name_start is not None:
            chunk = _patched(chunk, at, prepared.name_start, patch)
        keep_from = max(0, min(len(chunk), prepared.reserved_start - at))
        keep_to = max(0, min(len(chunk), prepared.reserved_end - at))
        digest.update(chunk[:keep_from])
        digest.update(chunk[keep_to:])
        at = end
    return digest.digest()


def _patched(chunk: bytes, at: int, start: int, patch: bytes) -> bytes:
    """`chunk` (the file's bytes from `at`) with `patch` written at file offset `start`."""
    end = start + len(patch)
    if end <= at or start >= at + len(chunk):
        return chunk
    lo, hi = max(start, at), min(end, at + len(chunk))
    return chunk[: lo - at] + patch[lo - start : hi - start] + chunk[hi - at :]


async def embed_card_signature(
    document: BinaryIO,
    prepared: PreparedCardSignature,
    cms_der: bytes,
    timestamper: TimeStamper,
) -> None:
    """Timestamp the card's signature and write the CMS into `document`, in place.

    `document` is the prepared revision (readable, writable, seekable); `cms_der` must
    already have been checked. When `prepared.name` is set (protocol v2: the name in the
    card's certificate), it is written into the `/Name` room first, and the ByteRange must
    then hash to `prepared.digest`. Raises `TimestampUnavailable` (the file is unchanged) or
    `CardSignatureTooLarge`.
    """
    named = prepared.name
    if named is not None and byte_range_digest(document, prepared, named) != prepared.digest:
        raise PdfError(
            "prepared_revision_changed",
            "用意した文書が署名の対象と一致しません。",
            "The prepared document does not match what was signed.",
        )
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
    if prepared.name is not None:
        fill_name(document, prepared, prepared.name)
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
