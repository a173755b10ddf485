"""What the later steps need of a PDF's structure: its pages, its form, its attachments.

Stamping finds page 1 through the page tree by /Count and reads its boxes through /Parent;
sealing and card signing add a field to the form and an annotation to page 1; completing
validates every signature already in the file. So the page tree must be a tree of known
node types with true counts and parents, every page must have a usable /MediaBox, the form
must be a bounded tree without signatures, and nothing may forbid changes (DocMDP). Every
walk here is iterative and bounded by `CheckLimits`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from webapp.pdf.limits import CheckLimits, Deadline
from webapp.pdf.refusals import Words, refusal
from webapp.pdf.scan import name_of, resolve

RESERVED_FIELD_PREFIX = "mynasign"
"""The service's own signature fields are named so; a file may not bring one."""
_STRINGS = (generic.TextStringObject, generic.ByteStringObject)
_MAX_BOX = 14_400 * 100  # points: the largest page PDF allows, with room for /UserUnit


@dataclass(frozen=True)
class Attachment:
    """A file embedded in the PDF: its name and its size in bytes (when the PDF says)."""

    name: str
    size: int | None


def _tree_problem(ja: str, en: str) -> Exception:
    return refusal("page_tree_invalid", what=(ja, en))


def check_page_tree(
    reader: PdfFileReader, limits: CheckLimits, deadline: Deadline, max_pages: int
) -> tuple[int, list[Attachment]]:
    """The number of pages, and the attachments pinned to pages; refuse a tree the steps
    could not walk."""
    catalog = _catalog(reader, limits)
    root_ref = catalog.raw_get("/Pages") if "/Pages" in catalog else None
    if not isinstance(root_ref, generic.IndirectObject):
        raise _tree_problem("ページツリーがありません", "there is no page tree")
    attachments: list[Attachment] = []
    pages = 0
    seen: set[tuple[int, int]] = set()
    # a node: [reference, declared /Count, pages found below, index of its parent]
    nodes: list[tuple[generic.IndirectObject, int]] = []
    found: list[int] = []
    parents: list[int] = []
    pending: list[tuple[generic.IndirectObject, int, int, bool]] = [(root_ref, -1, 1, False)]
    while pending:
        deadline.check()
        ref, parent, depth, has_box = pending.pop()
        key = (ref.reference.idnum, ref.reference.generation)
        if key in seen:
            raise _tree_problem("同じページが複数回現れます", "a page or node appears twice")
        seen.add(key)
        if depth > limits.max_page_tree_depth:
            raise refusal("structure_too_deep", what=("ページツリー", "the page tree"))
        node = _dictionary(ref, limits)
        if node is None:
            raise _tree_problem("ページが辞書ではありません", "a page is not a dictionary")
        _check_parent(node, nodes[parent][0] if parent >= 0 else None)
        has_box = _check_boxes(node, limits) or has_box
        kind = name_of(node.raw_get("/Type"), limits) if "/Type" in node else None
        if kind == "/Pages":
            count, kids = _pages_node(node, limits)
            index = len(nodes)
            nodes.append((ref, count))
            found.append(0)
            parents.append(parent)
            pending.extend((kid, index, depth + 1, has_box) for kid in reversed(kids))
        elif kind == "/Page":
            if parent < 0:
                raise _tree_problem("ツリーの根がページです", "the root of the tree is a page")
            if not has_box:
                raise _tree_problem(
                    "用紙サイズ（MediaBox）のないページがあります", "a page has no size (MediaBox)"
                )
            pages += 1
            if pages > max_pages:
                raise refusal("too_many_pages", limit=max_pages)
            ancestor = parent
            while ancestor >= 0:
                found[ancestor] += 1
                ancestor = parents[ancestor]
            attachments.extend(_page_attachments(node, limits))
        else:
            raise _tree_problem("種類の分からないノードがあります", "a node of unknown /Type")
    _check_counts([declared for _, declared in nodes], found)
    return pages, attachments


def _check_counts(declared: list[int], counted: list[int]) -> None:
    """Each /Pages node's /Count must be the pages below it (pyHanko finds pages by it)."""
    for says, is_ in zip(declared, counted, strict=True):
        if says != is_:
            raise _tree_problem(
                f"ページ数 /Count {says} が実際の {is_} と異なります",
                f"/Count says {says} pages where there are {is_}",
            )


def _pages_node(
    node: generic.DictionaryObject, limits: CheckLimits
) -> tuple[int, list[generic.IndirectObject]]:
    """A /Pages node's declared /Count and its kids (each an indirect reference)."""
    kids = resolve(node.raw_get("/Kids"), limits) if "/Kids" in node else None
    count = resolve(node.raw_get("/Count"), limits) if "/Count" in node else None
    if not isinstance(kids, generic.ArrayObject) or not isinstance(count, generic.NumberObject):
        raise _tree_problem("/Kids または /Count がありません", "/Kids or /Count missing")
    found = []
    for position in range(len(kids)):
        kid = kids.raw_get(position)
        if not isinstance(kid, generic.IndirectObject):
            raise _tree_problem("子が間接参照ではありません", "a kid is not a reference")
        found.append(kid)
    return int(count), found


def _check_parent(node: generic.DictionaryObject, parent: generic.IndirectObject | None) -> None:
    """/Parent must name the node above (pyHanko follows it to inherit boxes)."""
    raw = node.raw_get("/Parent") if "/Parent" in node else None
    if parent is None:
        if raw is not None:
            raise _tree_problem("ツリーの根に親があります", "the root of the tree has a parent")
        return
    if not isinstance(raw, generic.IndirectObject) or raw.reference != parent.reference:
        raise _tree_problem("/Parent が親ノードを指していません", "a /Parent is not the node above")


def _check_boxes(node: generic.DictionaryObject, limits: CheckLimits) -> bool:
    """Whether `node` sets a /MediaBox; every box it sets must be four finite numbers."""
    for name in ("/MediaBox", "/CropBox"):
        if name not in node:
            continue
        box = resolve(node.raw_get(name), limits)
        numbers = (
            [resolve(box.raw_get(i), limits) for i in range(len(box))]
            if isinstance(box, generic.ArrayObject) and len(box) == 4
            else []
        )
        if len(numbers) != 4 or not all(_is_coordinate(value) for value in numbers):
            raise _tree_problem(f"{name} が正しくありません", f"an invalid {name}")
        left, bottom, right, top = (float(value) for value in numbers)  # type: ignore[arg-type]
        if left == right or bottom == top:
            raise _tree_problem(f"{name} の幅か高さが0です", f"a {name} of no width or height")
    return "/MediaBox" in node


def _is_coordinate(value: generic.PdfObject) -> bool:
    if isinstance(value, generic.BooleanObject) or not isinstance(
        value, generic.NumberObject | generic.FloatObject
    ):
        return False
    number = float(value)
    return math.isfinite(number) and abs(number) <= _MAX_BOX


def check_form(reader: PdfFileReader, limits: CheckLimits, deadline: Deadline) -> None:
    """The form (/AcroForm /Fields) is a bounded tree, unsigned, with no field the service
    reserves; nothing forbids changes (DocMDP)."""
    catalog = _catalog(reader, limits)
    perms = _dictionary(catalog.raw_get("/Perms"), limits) if "/Perms" in catalog else None
    if perms is not None and "/DocMDP" in perms:
        raise refusal("locked_by_signature")
    form = _dictionary(catalog.raw_get("/AcroForm"), limits) if "/AcroForm" in catalog else None
    if form is None:
        return
    fields = resolve(form.raw_get("/Fields"), limits) if "/Fields" in form else None
    if fields is None:
        return
    if not isinstance(fields, generic.ArrayObject):
        raise _form_problem("/Fields が配列ではありません", "/Fields is not an array")
    seen: set[tuple[int, int]] = set()
    pending: list[tuple[generic.PdfObject, int, bool, bool]] = [
        (fields.raw_get(i), 1, False, True) for i in range(len(fields))
    ]
    while pending:
        deadline.check()
        raw, depth, inherited_sig, top = pending.pop()
        if depth > limits.max_form_depth:
            raise refusal("structure_too_deep", what=("フォームの入力欄", "the form's fields"))
        if isinstance(raw, generic.IndirectObject):
            key = (raw.reference.idnum, raw.reference.generation)
            if key in seen:
                raise _form_problem("入力欄が循環しています", "the fields refer to each other")
            seen.add(key)
        field = resolve(raw, limits)
        if not isinstance(field, generic.DictionaryObject):
            raise _form_problem("入力欄が辞書ではありません", "a field is not a dictionary")
        field_type = name_of(field.raw_get("/FT"), limits) if "/FT" in field else None
        is_sig = field_type == "/Sig" or (field_type is None and inherited_sig)
        raw_name = resolve(field.raw_get("/T"), limits) if "/T" in field else None
        name = _text(raw_name) if isinstance(raw_name, _STRINGS) else ""
        if top and name.lower().startswith(RESERVED_FIELD_PREFIX):
            raise _form_problem(
                f"サービスが使う名前の入力欄（{name}）があります",
                f"a field has a name the service uses ({name})",
            )
        value = resolve(field.raw_get("/V"), limits) if "/V" in field else None
        if is_sig and value is not None and not isinstance(value, generic.NullObject):
            raise refusal("signed")
        kids = resolve(field.raw_get("/Kids"), limits) if "/Kids" in field else None
        if kids is not None:
            if not isinstance(kids, generic.ArrayObject):
                raise _form_problem("/Kids が配列ではありません", "/Kids is not an array")
            pending.extend((kids.raw_get(i), depth + 1, is_sig, False) for i in range(len(kids)))


def _form_problem(ja: str, en: str) -> Exception:
    return refusal("form_invalid", what=(ja, en))


def embedded_files(
    reader: PdfFileReader, limits: CheckLimits, deadline: Deadline
) -> list[Attachment]:
    """The files of the /EmbeddedFiles name tree (bounded, cycles refused)."""
    catalog = _catalog(reader, limits)
    names = _dictionary(catalog.raw_get("/Names"), limits) if "/Names" in catalog else None
    if names is None or "/EmbeddedFiles" not in names:
        return []
    found: list[Attachment] = []
    seen: set[tuple[int, int]] = set()
    pending: list[tuple[generic.PdfObject, int]] = [(names.raw_get("/EmbeddedFiles"), 1)]
    what: Words = ("添付ファイルの一覧", "the list of attached files")
    while pending:
        deadline.check()
        raw, depth = pending.pop()
        if depth > limits.max_page_tree_depth:
            raise refusal("structure_too_deep", what=what)
        if isinstance(raw, generic.IndirectObject):
            key = (raw.reference.idnum, raw.reference.generation)
            if key in seen:
                raise refusal("damaged")
            seen.add(key)
        node = resolve(raw, limits)
        if not isinstance(node, generic.DictionaryObject):
            continue
        entries = resolve(node.raw_get("/Names"), limits) if "/Names" in node else None
        if isinstance(entries, generic.ArrayObject):
            for index in range(1, len(entries), 2):
                spec = resolve(entries.raw_get(index), limits)
                if isinstance(spec, generic.DictionaryObject):
                    found.append(_attachment(spec, limits, entries.raw_get(index - 1)))
        kids = resolve(node.raw_get("/Kids"), limits) if "/Kids" in node else None
        if isinstance(kids, generic.ArrayObject):
            pending.extend((kids.raw_get(i), depth + 1) for i in range(len(kids)))
    return found


def _page_attachments(page: generic.DictionaryObject, limits: CheckLimits) -> list[Attachment]:
    annots = resolve(page.raw_get("/Annots"), limits) if "/Annots" in page else None
    if not isinstance(annots, generic.ArrayObject):
        return []
    found: list[Attachment] = []
    for index in range(len(annots)):
        annot = resolve(annots.raw_get(index), limits)
        if not isinstance(annot, generic.DictionaryObject) or "/FS" not in annot:
            continue
        subtype = name_of(annot.raw_get("/Subtype"), limits) if "/Subtype" in annot else None
        if subtype == "/FileAttachment":
            spec = resolve(annot.raw_get("/FS"), limits)
            if isinstance(spec, generic.DictionaryObject) and "/EF" in spec:
                found.append(_attachment(spec, limits, None))
    return found


def _attachment(
    spec: generic.DictionaryObject, limits: CheckLimits, tree_name: generic.PdfObject | None
) -> Attachment:
    name = ""
    for key in ("/UF", "/F"):
        value = resolve(spec.raw_get(key), limits) if key in spec else None
        if isinstance(value, generic.TextStringObject | generic.ByteStringObject):
            name = _text(value)
            break
    if not name and isinstance(tree_name, generic.TextStringObject | generic.ByteStringObject):
        name = _text(tree_name)
    size: int | None = None
    files = resolve(spec.raw_get("/EF"), limits) if "/EF" in spec else None
    if isinstance(files, generic.DictionaryObject):
        key = "/UF" if "/UF" in files else "/F"
        stream = resolve(files.raw_get(key), limits) if key in files else None
        if isinstance(stream, generic.StreamObject):
            params = resolve(stream.raw_get("/Params"), limits) if "/Params" in stream else None
            declared = (
                resolve(params.raw_get("/Size"), limits)
                if isinstance(params, generic.DictionaryObject) and "/Size" in params
                else None
            )
            length = resolve(stream.raw_get("/Length"), limits) if "/Length" in stream else None
            for value in (declared, length):
                if isinstance(value, generic.NumberObject) and value >= 0:
                    size = int(value)
                    break
    return Attachment(name=name[:255] or "attachment", size=size)


def _text(value: generic.TextStringObject | generic.ByteStringObject) -> str:
    if isinstance(value, generic.ByteStringObject):
        return bytes(value).decode("latin-1")
    return str(value)


def _catalog(reader: PdfFileReader, limits: CheckLimits) -> generic.DictionaryObject:
    catalog = _dictionary(reader.trailer.raw_get("/Root"), limits)
    if catalog is None:
        raise refusal("damaged")
    return catalog


def _dictionary(value: generic.PdfObject, limits: CheckLimits) -> generic.DictionaryObject | None:
    resolved = resolve(value, limits)
    return resolved if isinstance(resolved, generic.DictionaryObject) else None
