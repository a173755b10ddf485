"""Contract PDFs made for the tests and the benchmark: text pages, a large image, broken ones.

Pages are written through pyHanko's writer with a two-level page tree (up to 50 pages
per node) so the page walk is exercised. Large files get their bulk from one random,
incompressible image stream, so the size is exact and nothing can shrink it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.writer import PdfFileWriter
from pypdf import PdfReader, PdfWriter

A4 = (0, 0, 595, 842)
PAGES_PER_NODE = 50


def contract_pdf(
    path: Path,
    *,
    pages: int = 1,
    image_bytes: int = 0,
    media_box: tuple[int, int, int, int] = A4,
) -> Path:
    """A text PDF of `pages` pages; with `image_bytes`, page 1 shows a random image that large."""
    writer = PdfFileWriter(init_page_tree=False)
    font = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type1"),
                pdf_name("/BaseFont"): pdf_name("/Helvetica"),
            }
        )
    )
    image = _image(writer, image_bytes) if image_bytes else None
    root = generic.DictionaryObject({pdf_name("/Type"): pdf_name("/Pages")})
    root_ref = writer.add_object(root)
    nodes = generic.ArrayObject()
    for first in range(0, pages, PAGES_PER_NODE):
        count = min(PAGES_PER_NODE, pages - first)
        node = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Pages"),
                pdf_name("/Parent"): root_ref,
                pdf_name("/Count"): generic.NumberObject(count),
            }
        )
        node_ref = writer.add_object(node)
        node[pdf_name("/Kids")] = generic.ArrayObject(
            _page(writer, node_ref, font, number, image if number == 1 else None, media_box)
            for number in range(first + 1, first + count + 1)
        )
        nodes.append(node_ref)
    root[pdf_name("/Kids")] = nodes
    root[pdf_name("/Count")] = generic.NumberObject(pages)
    writer.root[pdf_name("/Pages")] = root_ref
    with path.open("wb") as output:
        writer.write(output)
    return path


def _page(
    writer: PdfFileWriter,
    parent: generic.IndirectObject,
    font: generic.IndirectObject,
    number: int,
    image: generic.IndirectObject | None,
    media_box: tuple[int, int, int, int],
) -> generic.IndirectObject:
    left, bottom = media_box[0], media_box[1]
    text = b"1 0 0 1 %d %d cm " % (left, bottom)
    text += b"BT /F1 14 Tf 72 760 Td (Service agreement - page %d) Tj ET" % number
    resources = generic.DictionaryObject(
        {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font})}
    )
    if image is not None:
        text += b" q 451 0 0 451 72 200 cm /Im1 Do Q"
        resources[pdf_name("/XObject")] = generic.DictionaryObject({pdf_name("/Im1"): image})
    contents = writer.add_object(generic.StreamObject(stream_data=text))
    page = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Page"),
            pdf_name("/Parent"): parent,
            pdf_name("/MediaBox"): generic.ArrayObject(generic.NumberObject(v) for v in media_box),
            pdf_name("/Resources"): resources,
            pdf_name("/Contents"): contents,
        }
    )
    return writer.add_object(page)


def _image(writer: PdfFileWriter, size: int) -> generic.IndirectObject:
    """An RGB image of at least `size` random bytes (1000 pixels wide), stored uncompressed."""
    width = 1000
    height = max(1, -(-size // (width * 3)))
    stream = generic.StreamObject(
        {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Image"),
            pdf_name("/Width"): generic.NumberObject(width),
            pdf_name("/Height"): generic.NumberObject(height),
            pdf_name("/ColorSpace"): pdf_name("/DeviceRGB"),
            pdf_name("/BitsPerComponent"): generic.NumberObject(8),
        },
        stream_data=os.urandom(width * height * 3),
    )
    return writer.add_object(stream)


def cyclic_page_tree_pdf(path: Path) -> Path:
    """A PDF whose page tree lists itself as its own kid."""
    writer = PdfFileWriter()
    pages_ref = writer.root.raw_get("/Pages")
    pages = pages_ref.get_object()
    pages[pdf_name("/Kids")] = generic.ArrayObject([pages_ref])
    pages[pdf_name("/Count")] = generic.NumberObject(1)
    with path.open("wb") as output:
        writer.write(output)
    return path


def encrypted_pdf(path: Path, source: Path, *, user_password: str = "") -> Path:
    """`source` encrypted with pypdf (AES-256; an empty user password still encrypts)."""
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password, "owner-secret", algorithm="AES-256")
    buffer = io.BytesIO()
    writer.write(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def truncated_pdf(path: Path, source: Path) -> Path:
    """The first half of `source`: a PDF cut off in transit."""
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path
