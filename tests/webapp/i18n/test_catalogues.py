"""The text catalogues: both languages complete and alike, read strictly, every key used there."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from jinja2.ext import extract_from_ast

from webapp import i18n
from webapp.db.models import ActorKind
from webapp.errors import HTTP_ERROR_KEYS, TEXT_ERROR_CODE
from webapp.i18n import (
    TEXTS,
    CatalogueError,
    Language,
    catalogue_path,
    load_catalogues,
    read_catalogue,
)
from webapp.pages import LINK_ERRORS, templates
from webapp.pdf.refusals import CODES as REFUSAL_CODES
from webapp.pdf.refusals import KEY_PREFIX as REFUSAL_KEY_PREFIX

WEBAPP = Path(i18n.__file__).parent
TEMPLATE_FUNCTIONS = ("_", "gettext", "ngettext")
HEADER = (
    'msgid ""\nmsgstr ""\n"Language: {language}\\n"\n'
    '"Content-Type: text/plain; charset=utf-8\\n"\n\n'
)


def write_catalogues(directory: Path, japanese: str, english: str) -> Path:
    """A locale directory with the two given catalogue bodies (after a minimal header)."""
    bodies: tuple[tuple[Language, str], ...] = (("ja", japanese), ("en", english))
    for language, body in bodies:
        path = catalogue_path(language, directory)
        path.parent.mkdir(parents=True)
        path.write_text(HEADER.format(language=language) + body, encoding="utf-8")
    return directory


def test_the_service_catalogues_agree_and_are_what_the_service_uses() -> None:
    loaded = load_catalogues()
    assert len(loaded) > 400 and dict(TEXTS) == loaded
    for key, (japanese, english) in loaded.items():
        assert japanese and english, key
        assert japanese != english or key == "app_name", key  # each really in its language
    assert TEXTS["not_found"] == ("ページが見つかりません。", "The page was not found.")


def test_texts_fill_their_placeholders_in_either_language() -> None:
    assert i18n.text("en", "rate_limited", retry_after=7).count("7") == 1
    assert "7" in i18n.text("ja", "rate_limited", retry_after=7)
    assert i18n.both("not_found") == "ページが見つかりません。 / The page was not found."


def test_an_unknown_key_fails_loudly() -> None:
    with pytest.raises(KeyError, match="no_such_text"):
        i18n.text("ja", "no_such_text")
    assert not i18n.has_text("no_such_text") and i18n.has_text("not_found")


def test_catalogues_that_agree_are_read_in_order(tmp_path: Path) -> None:
    locale = write_catalogues(
        tmp_path,
        '#. context for translators\nmsgid "hello"\nmsgstr "こんにちは、{name}さん"\n\n'
        'msgid "bye"\nmsgstr "さようなら"\n',
        'msgid "hello"\nmsgstr "Hello, {name}"\n\nmsgid "bye"\nmsgstr "Goodbye"\n\n'
        '#~ msgid "gone"\n#~ msgstr "An old text"\n',
    )
    assert load_catalogues(locale) == {
        "hello": ("こんにちは、{name}さん", "Hello, {name}"),
        "bye": ("さようなら", "Goodbye"),
    }


@pytest.mark.parametrize(
    ("japanese", "english", "problem"),
    [
        ('msgid "a"\nmsgstr "あ"\n', 'msgid "a"\nmsgstr "A"\n\nmsgid "b"\nmsgstr "B"\n',
         "'b' is in the English catalogue only"),
        ('msgid "a"\nmsgstr "あ {n}"\n', 'msgid "a"\nmsgstr "A {count}"\n',
         r"'a': placeholders \['n'\] \(ja\) vs \['count'\] \(en\)"),
        ('msgid "a"\nmsgstr "あ {"\n', 'msgid "a"\nmsgstr "A {"\n', "'a': Single '{'"),
        ('msgid "a"\nmsgstr "あ {0}"\n', 'msgid "a"\nmsgstr "A {0}"\n', "names, not positions"),
        ('msgid "a"\nmsgstr ""\n', 'msgid "a"\nmsgstr "A"\n', "'a': no text"),
        ('#, fuzzy\nmsgid "a"\nmsgstr "あ"\n', 'msgid "a"\nmsgstr "A"\n', "marked fuzzy"),
        ('msgid "a"\nmsgstr "あ"\n\nmsgid "a"\nmsgstr "い"\n', 'msgid "a"\nmsgstr "A"\n',
         "a msgid is written twice"),
        ('msgctxt "x"\nmsgid "a"\nmsgstr "あ"\n', 'msgid "a"\nmsgstr "A"\n', "no msgctxt"),
        ('msgid "a"\nmsgid_plural "as"\nmsgstr[0] "あ"\n', 'msgid "a"\nmsgstr "A"\n',
         "no plural forms"),
        ('msgid "a"\nmsgstr "あ\n', 'msgid "a"\nmsgstr "A"\n', r"mynasign\.po"),  # unclosed
    ],
)  # fmt: skip
def test_a_catalogue_the_service_cannot_use_is_refused_with_the_reason(
    tmp_path: Path, japanese: str, english: str, problem: str
) -> None:
    locale = write_catalogues(tmp_path, japanese, english)
    with pytest.raises(CatalogueError, match=problem):
        load_catalogues(locale)


def test_a_missing_catalogue_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match=r"mynasign\.po"):
        read_catalogue(catalogue_path("ja", tmp_path))


# --- every key the code and the templates name is in the catalogues -------------------


def template_keys() -> Iterator[tuple[str, str]]:
    """(where, key) for each text a template names literally: `_("key")`, `ngettext(...)`"""
    for path in sorted((WEBAPP / "templates").rglob("*.html")):
        tree = templates.parse(path.read_text(encoding="utf-8"))
        for line, _function, strings in extract_from_ast(
            tree, TEMPLATE_FUNCTIONS, babel_style=False
        ):
            for key in strings if isinstance(strings, tuple) else (strings,):
                if key is not None:
                    yield f"{path.relative_to(WEBAPP)}:{line}", key


def _domain_error_classes(trees: list[ast.Module]) -> set[str]:
    """`DomainError` and every class of ours that derives from it (by name, to a fixpoint)."""
    names = {"DomainError"}
    while True:
        found = {
            node.name
            for tree in trees
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            and any(isinstance(base, ast.Name) and base.id in names for base in node.bases)
        }
        if found <= names:
            return names
        names |= found


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def code_keys() -> Iterator[tuple[str, str]]:
    """(where, key) for each literal key in the code: `text(language, "key")`, `both("key")`,
    and the key (or the code standing for it) of a `DomainError` raised with a literal."""
    parsed = {
        path: ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(WEBAPP.rglob("*.py"))
        if "migrations" not in path.parts
    }
    errors = _domain_error_classes(list(parsed.values()))
    for path, tree in parsed.items():
        imported = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "webapp.i18n"
            for alias in node.names
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            name, args, key = node.func.id, node.args, None
            if name == "text" and "text" in imported and len(args) >= 2:
                key = _literal(args[1])
            elif name == "both" and "both" in imported and args:
                key = _literal(args[0])
            elif name in errors and args and not any(k.arg == "messages" for k in node.keywords):
                key = _literal(args[1]) if len(args) >= 2 else _literal(args[0])
            if key is not None:
                yield f"{path.relative_to(WEBAPP)}:{node.lineno}", key


def test_the_key_finders_find_what_they_should() -> None:
    """The checks below see through the code and the templates (not an empty search)."""
    in_templates = {key for _, key in template_keys()}
    in_code = {key for _, key in code_keys()}
    assert {"error_title", "switch_language", "working"} <= in_templates
    assert {"csrf_failed", "login_required", "card_page_consent_required"} <= in_code
    assert len(in_templates) > 150 and len(in_code) > 50


def test_every_key_the_templates_name_is_in_both_catalogues() -> None:
    missing = [f"{where}: {key}" for where, key in template_keys() if key not in TEXTS]
    assert missing == []


def test_every_key_the_code_names_is_in_both_catalogues() -> None:
    missing = [f"{where}: {key}" for where, key in code_keys() if key not in TEXTS]
    assert missing == []


def test_keys_made_from_names_are_in_both_catalogues() -> None:
    """Keys the code composes: the link states' titles, HTTP errors, the audit actors, the
    PDF refusals."""
    made = [f"{state}_title" for state in LINK_ERRORS]
    made += [*HTTP_ERROR_KEYS.values(), TEXT_ERROR_CODE]
    made += [f"actor_{kind.value}" for kind in ActorKind]
    made += [f"{REFUSAL_KEY_PREFIX}{code}" for code in REFUSAL_CODES]
    made += [
        f"{kind}_confirm_{part}"
        for kind in ("agree", "cancel")
        for part in ("title", "text", "button")
    ]
    assert [key for key in made if key not in TEXTS] == []
