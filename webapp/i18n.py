"""Japanese and English texts of the web service, read from gettext catalogues; Japanese by default.

The texts live in `webapp/locale/<lang>/LC_MESSAGES/mynasign.po`, one catalogue per
language (`ja`, `en`). Choices, as a localisation engineer would make them here:

- **The msgid is the text's key** (`card_page_title`), not the English sentence. Both
  languages are first-class (Japanese is the default, not a translation of English), the
  keys are what the code, the templates, the tests and the API's error `code`s already
  use, and rewording the English must not orphan the Japanese. The English catalogue
  therefore carries the source text in its msgstr like the Japanese one; a `#.` comment
  above a message gives context where it helps.
- **Placeholders stay `str.format` fields** (`{retry_after}`), filled by `text()`. Both
  catalogues must have the same keys with the same placeholders: checked when the
  catalogues are read (the service refuses to start) and by `tests/webapp/i18n`.
- **Read from the .po files with Babel at start**, not compiled to .mo: about 0.1 s once
  per process for ~500 messages in each language, Babel's import included (measured on a
  busy 2-core machine), against a build step that every install, editable ones too, would
  have to run and a binary in the package that could disagree with its .po. Strict where
  gettext is lenient: a fuzzy, empty, duplicated, plural or context-bound entry is refused
  when read, and an unknown key raises `KeyError` instead of showing the key to a person.
- **Jinja2's i18n extension** (`jinja2.ext.i18n`) gives the templates `_("key", name=...)`
  and `gettext`, through callables that take the language from the page's `lang`
  variable, so one shared environment serves both languages. The callables are old-style
  (not `newstyle`): newstyle would `%`-format and mark the text safe, where ours are
  `{name}`-formatted plain text that autoescaping escapes with its parameters. Use
  `_("key", ...)` rather than `{% trans %}` blocks, whose `%(name)s` fields ours are not.

To add a text, add the key with its text to both catalogues (ja and en), with the same
placeholders. `TEXTS` is every key with its (Japanese, English) text, read-only.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from babel.messages.pofile import PoFileError, read_po
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from starlette.requests import Request

Language = Literal["ja", "en"]
LANGUAGE_COOKIE = "mynasign_lang"
DOMAIN = "mynasign"
LOCALE_DIR = Path(__file__).with_name("locale")


class CatalogueError(ValueError):
    """A catalogue the service cannot use: unreadable, with a bad entry, or unlike the other."""


def catalogue_path(language: Language, locale_dir: Path = LOCALE_DIR) -> Path:
    """Where the catalogue of `language` is: `<locale_dir>/<lang>/LC_MESSAGES/mynasign.po`."""
    return locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(path: Path) -> dict[str, str]:
    """Key -> text of one .po file, refusing entries that gettext would quietly pass over."""
    try:
        raw = path.read_bytes()
        catalog = read_po(raw.splitlines(keepends=True), ignore_obsolete=True, abort_invalid=True)
    except (OSError, PoFileError) as exc:
        raise CatalogueError(f"{path}: {exc}") from exc
    texts: dict[str, str] = {}
    entries = 0
    for message in catalog:
        entries += 1
        if message.id == "":
            continue  # the header
        where = f"{path}:{message.lineno}: {message.id!r}"
        if not isinstance(message.id, str) or not isinstance(message.string, str):
            raise CatalogueError(f"{where}: no plural forms here; give each form its own key")
        if message.context is not None:
            raise CatalogueError(f"{where}: no msgctxt here; the key is the whole id")
        if message.fuzzy:
            raise CatalogueError(f"{where}: marked fuzzy; check the text, then drop the flag")
        if not message.string:
            raise CatalogueError(f"{where}: no text")
        texts[message.id] = message.string
    written = sum(1 for line in raw.splitlines() if line.startswith(b"msgid "))
    if written != entries:  # Babel keeps the first of two equal msgids without a word
        raise CatalogueError(f"{path}: a msgid is written twice")
    return texts


def placeholders(text: str) -> frozenset[str]:
    """The `{name}` fields of a text (ValueError for a malformed one, such as a lone `{`)."""
    return frozenset(
        field for _, field, _, _ in string.Formatter().parse(text) if field is not None
    )


def catalogue_problems(japanese: Mapping[str, str], english: Mapping[str, str]) -> list[str]:
    """What keeps two catalogues from being used together: keys in one only, texts whose
    placeholders differ or cannot be read. Empty when they agree."""
    problems = [
        f"{key!r} is in the English catalogue only" for key in english if key not in japanese
    ]
    problems += [
        f"{key!r} is in the Japanese catalogue only" for key in japanese if key not in english
    ]
    for key in japanese.keys() & english.keys():
        try:
            fields = placeholders(japanese[key]), placeholders(english[key])
        except ValueError as exc:
            problems.append(f"{key!r}: {exc}")
            continue
        if fields[0] != fields[1]:
            problems.append(
                f"{key!r}: placeholders {sorted(fields[0])} (ja) vs {sorted(fields[1])} (en)"
            )
        if "" in fields[0] | fields[1] or any(
            field[0].isdigit() for field in fields[0] | fields[1]
        ):
            problems.append(f"{key!r}: placeholders must have names, not positions")
    return sorted(problems)


def load_catalogues(locale_dir: Path = LOCALE_DIR) -> dict[str, tuple[str, str]]:
    """Key -> (Japanese, English) from both catalogues, or `CatalogueError` naming every problem."""
    japanese = read_catalogue(catalogue_path("ja", locale_dir))
    english = read_catalogue(catalogue_path("en", locale_dir))
    problems = catalogue_problems(japanese, english)
    if problems:
        raise CatalogueError("the catalogues disagree:\n" + "\n".join(problems))
    return {key: (japanese[key], english[key]) for key in japanese}


TEXTS: Mapping[str, tuple[str, str]] = MappingProxyType(load_catalogues())
"""Every key with its (Japanese, English) text, read once at start; read-only."""


def text(language: Language, key: str, **params: object) -> str:
    """The text for `key` in `language`, with `{name}` placeholders filled."""
    try:
        japanese, english = TEXTS[key]
    except KeyError:
        raise KeyError(f"no text {key!r} in {catalogue_path(language)}") from None
    template = japanese if language == "ja" else english
    return template.format(**params) if params else template


def both(key: str, **params: object) -> str:
    """Japanese then English, for API errors and mail: one message a person understands."""
    return f"{text('ja', key, **params)} / {text('en', key, **params)}"


def has_text(key: str) -> bool:
    """Whether `key` is in the catalogues (for keys made from data, such as audit actions)."""
    return key in TEXTS


def request_language(request: Request) -> Language:
    """`?lang=` first, then the language cookie, then Japanese."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if candidate in ("ja", "en"):
            return "en" if candidate == "en" else "ja"
    return "ja"


# --- Jinja2 --------------------------------------------------------------------------


def _page_language(context: Context) -> Language:
    language = context.get("lang")
    if language not in ("ja", "en"):
        raise KeyError(f"a template asked for a text without a page language (lang={language!r})")
    return "en" if language == "en" else "ja"


@pass_context
def template_text(context: Context, key: str, **params: object) -> str:
    """`_("key", name=value)` (and `t(...)`, `gettext(...)`) in a template: the text in the
    page's language (its `lang` variable), escaped by autoescaping like any other value."""
    return text(_page_language(context), key, **params)


@pass_context
def template_plural_text(
    context: Context, singular: str, plural: str, n: int, **params: object
) -> str:
    """`ngettext("key_one", "key_other", n)`: the first key for one, the second otherwise."""
    return text(_page_language(context), singular if n == 1 else plural, n=n, **params)


def install_texts(environment: Environment) -> None:
    """Give `environment` (made with `jinja2.ext.i18n`) the service's texts: `_`, `gettext`,
    `ngettext`, and `has_text`."""
    if "jinja2.ext.InternationalizationExtension" not in environment.extensions:
        raise ValueError("make the environment with extensions=['jinja2.ext.i18n']")
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        template_text, template_plural_text, newstyle=False
    )
    environment.globals["has_text"] = has_text
