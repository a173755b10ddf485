"""One-off conversion: `webapp.i18n.TEXTS` (key -> (ja, en)) written out as gettext catalogues.

Writes `webapp/locale/{ja,en}/LC_MESSAGES/mynasign.po` with the key as msgid, each
language's text as msgstr, and the section comments of the dict (`# sender accounts`) as
extracted comments (`#.`) on the message they stood above. Run from the repository root:
`.venv/bin/python scripts/texts_to_catalogues.py`.
"""

from __future__ import annotations

import ast
import datetime
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "webapp" / "i18n.py"
LOCALE_DIR = ROOT / "webapp" / "locale"
DOMAIN = "mynasign"
LANGUAGES = ("ja", "en")
FIXED_DATE = datetime.datetime(2026, 12, 7, tzinfo=datetime.UTC)  # no churn between runs
HEADER = (
    "# {language} texts of the mynasign web service (webapp/i18n.py reads this file).\n"
    "# msgid is the text's key, used by the code and the templates; msgstr is the text,\n"
    "# with {{name}} placeholders. Every key must be in both ja and en, with the same\n"
    "# placeholders (tests/webapp/i18n checks it)."
)


def read_texts(source: str) -> list[tuple[str, tuple[str, str], list[str]]]:
    """(key, (ja, en), comments above the entry) in the dict's order, from the source."""
    tree = ast.parse(source)
    lines = source.splitlines()
    for node in tree.body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id in ("TEXTS", "_LEGACY_TEXTS")
            and isinstance(node.value, ast.Dict)
        ):
            table = node.value
            break
    else:
        raise SystemExit(f"no `TEXTS: ... = {{...}}` in {SOURCE}")
    namespace: dict[str, object] = {}
    exec(compile(ast.Module(body=[node], type_ignores=[]), str(SOURCE), "exec"), namespace)  # noqa: S102  # our own file
    values = namespace[node.target.id]
    if not isinstance(values, dict):
        raise SystemExit("TEXTS is not a dict")
    entries = []
    previous_end = table.lineno  # the line of `{`
    for key_node, value_node in zip(table.keys, table.values, strict=True):
        if not (isinstance(key_node, ast.Constant) and isinstance(key_node.value, str)):
            raise SystemExit(f"line {table.lineno}: a key that is not a string")
        between = lines[previous_end : key_node.lineno - 1]
        comments = [line.strip()[1:].strip() for line in between if line.strip().startswith("#")]
        key = key_node.value
        japanese, english = values[key]
        entries.append((key, (japanese, english), comments))
        previous_end = value_node.end_lineno or key_node.lineno
    return entries


def catalogue(language: str, entries: list[tuple[str, tuple[str, str], list[str]]]) -> bytes:
    catalog = Catalog(
        locale=language,
        domain=DOMAIN,
        project="mynasign",
        version="1",
        header_comment=HEADER.format(language="Japanese" if language == "ja" else "English"),
        creation_date=FIXED_DATE,
        revision_date=FIXED_DATE,
        language_team=None,
        last_translator=None,
        fuzzy=False,
    )
    for key, (japanese, english), comments in entries:
        catalog.add(key, japanese if language == "ja" else english, auto_comments=comments)
    out = io.BytesIO()
    write_po(out, catalog, width=0, omit_header=False, sort_output=False)
    # Babel's placeholders for people and its own version: not ours, and churn on upgrades
    unwanted = (b"EMAIL@ADDRESS", b"LL@li.org", b'"Generated-By:')
    kept = [
        line
        for line in out.getvalue().splitlines(keepends=True)
        if not any(u in line for u in unwanted)
    ]
    return b"".join(kept)


def main() -> int:
    entries = read_texts(SOURCE.read_text(encoding="utf-8"))
    for language in LANGUAGES:
        target = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(catalogue(language, entries))
        print(f"{target.relative_to(ROOT)}: {len(entries)} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
