"""Active content in a PDF: what a contract has no need of and what puts its readers at risk.

Refused: JavaScript anywhere (actions, the /JavaScript name tree, 3D scripts), actions that
launch programs (/Launch), send form data out (/SubmitForm), import outside data
(/ImportData) or open other files (/GoToR, and /GoToE with a target file), XFA forms and
rich media (Flash). Links to web pages (/URI), links inside the document and embedded
files (attachments) are allowed.

Every dictionary of every object is looked at, in every revision: a script left in an
earlier revision, or not reachable from the pages, is refused too.
"""

from __future__ import annotations

from collections.abc import Callable

from pyhanko.pdf_utils import generic

from webapp.pdf.refusals import Words

JAVASCRIPT: Words = ("JavaScript", "JavaScript")
KINDS: dict[str, Words] = {
    "/JavaScript": JAVASCRIPT,
    "/Launch": ("外部プログラムの起動（Launch）", "launching a program (Launch)"),
    "/SubmitForm": ("フォーム内容の外部送信（SubmitForm）", "sending form data out (SubmitForm)"),
    "/ImportData": ("外部データの読み込み（ImportData）", "importing outside data (ImportData)"),
    "/GoToR": ("外部ファイルを開くリンク（GoToR）", "a link that opens another file (GoToR)"),
    "/GoToE": ("外部ファイルを開くリンク（GoToE）", "a link that opens another file (GoToE)"),
    "/XFA": ("XFAフォーム", "an XFA form"),
    "/RichMedia": ("リッチメディア（Flash等）", "rich media (Flash and the like)"),
}
"""What can be found, in the order it is reported."""
_SCRIPT_KEYS = ("/JS", "/JavaScript", "/OnInstantiate")
_REFUSED_ACTIONS = ("/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToR")


class ActiveContentFinder:
    """Collects the kinds of active content seen in the dictionaries shown to it."""

    def __init__(self) -> None:
        self.found: set[str] = set()

    def look_at(
        self,
        entry: generic.DictionaryObject,
        name_of: Callable[[generic.PdfObject], str | None],
    ) -> None:
        """Note what `entry` holds (`name_of` reads its action type and subtype)."""
        if any(key in entry for key in _SCRIPT_KEYS):
            self.found.add("/JavaScript")
        if "/XFA" in entry:
            self.found.add("/XFA")
        action = name_of(entry.raw_get("/S")) if "/S" in entry else None
        if action in _REFUSED_ACTIONS:
            self.found.add(action)
        elif action == "/GoToE" and "/F" in entry:
            self.found.add("/GoToE")
        subtype = name_of(entry.raw_get("/Subtype")) if "/Subtype" in entry else None
        if subtype == "/RichMedia":
            self.found.add("/RichMedia")

    def words(self) -> Words | None:
        """The kinds found, as a list in Japanese and in English (None if nothing was)."""
        kinds = [KINDS[kind] for kind in KINDS if kind in self.found]
        if not kinds:
            return None
        return "、".join(ja for ja, _ in kinds), ", ".join(en for _, en in kinds)
