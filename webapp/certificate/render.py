"""The certificate's PDF layout: a Jinja2 HTML template printed by WeasyPrint, Noto CJK embedded.

WeasyPrint rather than ReportLab: Debian's Noto CJK fonts (`fonts-noto-cjk`) are OpenType
with CFF outlines, which ReportLab cannot embed (TrueType outlines only); WeasyPrint shapes
the text with Pango/HarfBuzz, finds the font through fontconfig and embeds a subset of it
(a few hundred kilobytes, not the 20 MB font), and the layout stays an HTML template like
the service's pages. WeasyPrint silently falls back to another font when one is missing,
which would print empty boxes for Japanese, so the font is checked before rendering.
"""

from __future__ import annotations

import datetime
import functools
import logging
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any, BinaryIO

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from webapp.certificate.facts import CertificateFacts
from webapp.mail.messages import JST

log = logging.getLogger(__name__)
FONT_FAMILY = "Noto Sans CJK JP"
TEMPLATE_DIR = Path(__file__).with_name("templates")
_render_lock = threading.Lock()  # WeasyPrint's Pango/fontconfig use is not known thread-safe

_templates = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(enabled_extensions=("html",), default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class CertificateFontMissingError(RuntimeError):
    """The Japanese font the certificate needs is not installed (Debian: fonts-noto-cjk)."""


def jst_seconds(moment: datetime.datetime | None) -> str:
    """`2026-12-06 21:03:05 JST`; a dash for none."""
    if moment is None:
        return "—"
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST")


_templates.filters["jst"] = jst_seconds


@functools.cache
def cjk_font_available() -> bool:
    """Whether fontconfig knows the Noto Sans CJK JP font."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    found = subprocess.run(  # noqa: S603 - a fixed program and pattern
        [fc_list, f":family={FONT_FAMILY}", "file"], capture_output=True, text=True,
        check=False, timeout=30,
    )  # fmt: skip
    return bool(found.stdout.strip())


def prepare_renderer() -> bool:
    """Load WeasyPrint and check the font, at start: the import takes a second or more of
    the interpreter's lock, better spent before serving than on the first completion.
    Whether certificates can be made (a missing font is logged)."""
    _weasyprint()
    if cjk_font_available():
        return True
    log.error(
        "the font %r is missing: documents cannot complete until it is installed "
        "(Debian: apt-get install fonts-noto-cjk)", FONT_FAMILY,
    )  # fmt: skip
    return False


def render_html(facts: CertificateFacts) -> str:
    return _templates.get_template("certificate.html").render(facts=facts, font=FONT_FAMILY)


def render_pdf(facts: CertificateFacts, output: BinaryIO) -> None:
    """Write the (unsealed) certificate PDF to `output`."""
    if not cjk_font_available():
        raise CertificateFontMissingError(f"the font {FONT_FAMILY!r} is not installed")
    html = render_html(facts)
    with _render_lock:
        document = _weasyprint().HTML(string=html, url_fetcher=_fetch_nothing)
        document.write_pdf(target=output)


def _weasyprint() -> Any:
    """WeasyPrint, imported when first needed (it has no type information)."""
    import weasyprint  # type: ignore[import-untyped]  # noqa: PLC0415 - heavy

    return weasyprint


def _fetch_nothing(url: str, *_args: object, **_kwargs: object) -> dict[str, object]:
    """The template needs no file or URL, and what it prints must never make it fetch one."""
    raise ValueError(f"the certificate fetches nothing: {url[:80]}")
