"""Every object a PDF defines, in every revision, read once: the check's view of a file.

pyHanko reads an object from an object stream by decoding the whole stream and walking
its header up to that object, so reading all N objects of a stream that way costs N
decodings. Here each object stream is decoded once and its objects parsed in one walk,
with pyHanko's own rules (strict mode); the current objects go into the reader's cache, so
the page tree and form checks that follow read them for free.

Each object is walked (iteratively, to a bounded depth) for what the service refuses:
active content (`webapp.pdf.active_content`) and chains of references.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.rw_common import PdfHandler
from pyhanko.pdf_utils.xref import ObjStreamRef, XRefSectionData

from webapp.pdf.active_content import ActiveContentFinder
from webapp.pdf.limits import CheckLimits, Deadline
from webapp.pdf.refusals import refusal

CHAIN = ("参照の連鎖", "a chain of references")
NESTING = ("配列・辞書の入れ子", "arrays and dictionaries inside one another")
STREAM = ("ページ等のデータ", "the data of a page or another part")
MAX_FLATE_LAYERS = 4


@dataclass
class ScanResult:
    """What the walk over all objects found."""

    objects: int = 0
    active: ActiveContentFinder = field(default_factory=ActiveContentFinder)
    decoded: int = 0
    """Bytes that the Flate streams inflate to, all together."""
    budget: int = 0
    """What `decoded` may reach."""


def scan_objects(
    reader: PdfFileReader, limits: CheckLimits, deadline: Deadline, file_size: int
) -> ScanResult:
    """Read and walk every object definition; refuse on a limit or a chain of references."""
    xrefs = reader.xrefs
    revisions = xrefs.total_revisions
    if revisions > limits.max_revisions:
        raise refusal("too_many_objects", limit=f"{limits.max_revisions} revisions")
    sections = [_sections(xrefs.get_xref_data(revision)) for revision in range(revisions)]
    total = sum(
        len(data.standard_xrefs) + len(data.xrefs_in_objstm)
        for per_revision in sections
        for data in per_revision
    )
    if total > limits.max_objects:
        raise refusal("too_many_objects", limit=f"{limits.max_objects:,}")
    result = ScanResult(budget=max(limits.max_decoded_total, 100 * file_size))
    current = revisions - 1
    seen_streams: set[tuple[int, object]] = set()
    for revision, per_revision in enumerate(sections):
        for data in per_revision:
            for idnum, (generation, offset) in data.standard_xrefs.items():
                deadline.check()
                ref = generic.Reference(idnum, generation, reader)
                live = revision == current or xrefs[ref] == offset
                obj = reader.get_object(ref) if live else reader.get_object(ref, revision)  # type: ignore[no-untyped-call]
                _walk(reader, obj, limits, result, deadline)
            by_stream: dict[int, None] = dict.fromkeys(
                location.obj_stream_id for location in data.xrefs_in_objstm.values()
            )
            for stream_id in by_stream:
                stream_ref = generic.Reference(stream_id, 0, reader)
                marker = xrefs.get_historical_ref(stream_ref, revision)
                if (stream_id, marker) in seen_streams:
                    continue
                seen_streams.add((stream_id, marker))
                live = xrefs[stream_ref] == marker
                for obj in _object_stream(reader, stream_ref, revision, live, limits, deadline):
                    _walk(reader, obj, limits, result, deadline)
    result.objects = total
    return result


def _sections(data: XRefSectionData) -> list[XRefSectionData]:
    return [data] if data.hybrid is None else [data, data.hybrid.xref_data]


def _object_stream(
    reader: PdfFileReader,
    stream_ref: generic.Reference,
    revision: int,
    live: bool,
    limits: CheckLimits,
    deadline: Deadline,
) -> Iterator[generic.PdfObject]:
    """The objects of one object stream, decoded once; the live ones are cached in `reader`."""
    get = reader.get_object
    stream = get(stream_ref) if live else get(stream_ref, revision)  # type: ignore[no-untyped-call]
    if not isinstance(stream, generic.StreamObject) or stream.get("/Type") != "/ObjStm":
        raise misc.PdfReadError("an object stream reference that is not an object stream")
    count, first = stream["/N"], stream["/First"]
    data = stream.read_data(DecodePurpose.OBJECT_STREAM)
    if not (isinstance(count, int) and isinstance(first, int)):
        raise misc.PdfReadError("object stream /N or /First is not a number")
    if not (0 <= count <= min(limits.max_objects, len(data)) and 0 <= first <= len(data)):
        raise misc.PdfReadError("object stream /N or /First out of range")
    body = io.BytesIO(data)
    header: list[tuple[int, int]] = []
    for _ in range(count):
        misc.read_non_whitespace(body, seek_back=True)  # type: ignore[no-untyped-call]
        objnum = generic.NumberObject.read_from_stream(body)  # type: ignore[no-untyped-call]
        misc.read_non_whitespace(body, seek_back=True)  # type: ignore[no-untyped-call]
        offset = generic.NumberObject.read_from_stream(body)  # type: ignore[no-untyped-call]
        header.append((int(objnum), int(offset)))
    first_index: dict[int, int] = {}
    for index, (objnum, _) in enumerate(header):
        first_index.setdefault(objnum, index)
    xrefs = reader.xrefs
    for index, (objnum, offset) in enumerate(header):
        deadline.check()
        body.seek(first + offset)
        obj = generic.read_object(body, generic.Reference(objnum, 0, reader))
        if isinstance(obj, generic.StreamObject | generic.IndirectObject):
            raise misc.PdfStrictReadError("a stream or a reference inside an object stream")
        entry = xrefs[generic.Reference(objnum, 0, reader)]
        if live and entry == ObjStreamRef(stream_ref.idnum, index):
            if first_index[objnum] != index:  # pyHanko (strict) would stop at the first one
                raise misc.PdfStrictReadError("object listed twice in an object stream")
            reader.cache_indirect_object(0, objnum, obj)  # type: ignore[no-untyped-call]
        yield obj


def _walk(
    reader: PdfFileReader,
    obj: generic.PdfObject,
    limits: CheckLimits,
    result: ScanResult,
    deadline: Deadline,
) -> None:
    """Walk one object's arrays and dictionaries (not other objects) to a bounded depth."""
    if isinstance(obj, generic.IndirectObject):
        resolve(obj, limits)  # an object that is only a reference: bounded chain
        return
    if isinstance(obj, generic.StreamObject):
        _measure_flate(obj, limits, result, deadline)
    pending: list[tuple[generic.PdfObject, int]] = [(obj, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > limits.max_nesting:
            raise refusal("structure_too_deep", what=NESTING)
        if isinstance(item, generic.DictionaryObject):
            result.active.look_at(item, lambda value: name_of(value, limits))
            pending.extend((item.raw_get(key), depth + 1) for key in item)
        elif isinstance(item, generic.ArrayObject):
            pending.extend((item.raw_get(index), depth + 1) for index in range(len(item)))


def resolve(value: generic.PdfObject, limits: CheckLimits) -> generic.PdfObject:
    """`value` with references followed, at most `max_indirection` of them."""
    for _ in range(limits.max_indirection + 1):
        if not isinstance(value, generic.IndirectObject):
            return value
        handler = value.reference.pdf
        if not isinstance(handler, PdfHandler):
            return generic.NullObject()
        value = handler.get_object(value.reference)
    raise refusal("structure_too_deep", what=CHAIN)


def name_of(value: generic.PdfObject, limits: CheckLimits) -> str | None:
    """The PDF name `value` is (after references), or None if it is something else."""
    resolved = resolve(value, limits)
    return str(resolved) if isinstance(resolved, generic.NameObject) else None


def _measure_flate(
    stream: generic.StreamObject, limits: CheckLimits, result: ScanResult, deadline: Deadline
) -> None:
    """Inflate a /FlateDecode stream in pieces, keeping only the count: refuse a bomb.

    Recipients' viewers inflate every page stream; the check makes sure none expands past
    `max_stream_bytes`, and all together past `max_decoded_total` (or 100 times the file's
    size if that is more), without holding the output. Flate over Flate (a bomb inside a
    bomb) is followed through every layer, a MiB at a time; other filters are left alone.
    """
    if "/Filter" not in stream:
        return
    raw = resolve(stream.raw_get("/Filter"), limits)
    items: list[generic.PdfObject] = (
        [raw.raw_get(i) for i in range(len(raw))] if isinstance(raw, generic.ArrayObject) else [raw]
    )
    if not items or len(items) > MAX_FLATE_LAYERS:
        return
    if any(name_of(item, limits) != "/FlateDecode" for item in items):
        return
    pieces: Iterator[bytes] = iter([stream.encoded_data])
    for _ in items:
        pieces = _inflated(pieces, deadline)
    size = 0
    for piece in pieces:
        size += len(piece)
        if size > limits.max_stream_bytes or result.decoded + size > result.budget:
            raise refusal("stream_too_large", what=STREAM)
    result.decoded += size


def _inflated(pieces: Iterator[bytes], deadline: Deadline) -> Iterator[bytes]:
    """One layer of Flate undone, at most a MiB at a time; a broken stream just ends."""
    inflater = zlib.decompressobj()
    for piece in pieces:
        pending = piece
        while pending and not inflater.eof:
            deadline.check()
            try:
                out = inflater.decompress(pending, 1 << 20)
            except zlib.error:
                return
            pending = inflater.unconsumed_tail
            if out:
                yield out
            elif not pending:
                break
        if inflater.eof:
            return
