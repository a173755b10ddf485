"""Texts in templates: Jinja2's i18n extension with the page's language, `t` as its alias."""

from __future__ import annotations

import pytest
from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape

from webapp.i18n import TEXTS, install_texts
from webapp.pages import templates


def environment() -> Environment:
    """An environment set up as the pages' is, with a macro file to import."""
    made = Environment(
        loader=DictLoader(
            {
                "_macros.html": '{% macro title() %}<h1>{{ _("error_title") }}</h1>{% endmacro %}',
                "page.html": '{% import "_macros.html" as m with context %}{{ m.title() }}',
                "plain.html": '{% import "_macros.html" as m %}{{ m.title() }}',
            }
        ),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    install_texts(made)
    return made


@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_spelling_gives_the_text_in_the_page_language(language: str) -> None:
    index = 0 if language == "ja" else 1
    page = templates.from_string(
        '{{ _("not_found") }}|{{ gettext("not_found") }}|{{ _("rate_limited", retry_after=3) }}'
    ).render(lang=language)
    expected = TEXTS["not_found"][index]
    assert page == "|".join([expected] * 2 + [TEXTS["rate_limited"][index].format(retry_after=3)])


def test_texts_and_their_values_are_escaped() -> None:
    page = templates.from_string('{{ _("cancel_confirm_text", title=title) }}')
    english = page.render(lang="en", title="<b>A&B</b>")
    assert "&lt;b&gt;A&amp;B&lt;/b&gt;" in english and "<b>" not in english
    assert TEXTS["cancel_confirm_text"][1].split("{")[0] in english


def test_ngettext_picks_the_key_for_one_or_many() -> None:
    page = templates.from_string('{{ ngettext("error_title", "not_found", n) }}')
    assert page.render(lang="en", n=1) == TEXTS["error_title"][1]
    assert page.render(lang="en", n=2) == TEXTS["not_found"][1]


def test_macros_imported_with_context_speak_the_page_language() -> None:
    made = environment()
    assert made.get_template("page.html").render(lang="en") == f"<h1>{TEXTS['error_title'][1]}</h1>"
    assert made.get_template("page.html").render(lang="ja") == f"<h1>{TEXTS['error_title'][0]}</h1>"


def test_a_text_without_a_page_language_or_key_fails_loudly() -> None:
    made = environment()
    with pytest.raises(KeyError, match="page language"):
        made.get_template("plain.html").render(lang="en")  # the macro cannot see `lang`
    with pytest.raises(KeyError, match="page language"):
        templates.from_string('{{ _("not_found") }}').render(lang="fr")
    with pytest.raises(KeyError, match="no_such_text"):
        templates.from_string('{{ _("no_such_text") }}').render(lang="ja")


def test_the_texts_need_the_i18n_extension() -> None:
    with pytest.raises(ValueError, match=r"jinja2\.ext\.i18n"):
        install_texts(Environment(autoescape=True))
