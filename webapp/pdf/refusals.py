"""Why the service refuses a PDF: one code per reason, each with Japanese and English words.

The web service answers `pdf_<code>` (see `webapp.services.documents`); the texts tell the
sender what is wrong and, where they can, what to do about it. They live with the
service's other texts in its gettext catalogues, as `pdf_refused_<code>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from webapp.i18n import TEXTS as SERVICE_TEXTS
from webapp.pdf.errors import PdfRejected

CODES = (
    "empty", "no_pages", "too_large", "too_many_pages", "not_pdf", "damaged",
    "trailing_data", "encrypted", "too_complex", "too_many_objects", "structure_too_deep",
    "stream_too_large", "page_tree_invalid", "active_content", "locked_by_signature",
    "signed", "form_invalid",
)  # fmt: skip
"""Every reason the service refuses a PDF for."""

KEY_PREFIX = "pdf_refused_"
"""A refusal's words are the service's texts `pdf_refused_<code>` (webapp/locale)."""

TEXTS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {code: SERVICE_TEXTS[KEY_PREFIX + code] for code in CODES}
)
"""Code -> (Japanese, English); `{name}` is filled in from the refusal's parameters."""

Words = tuple[str, str]
"""A parameter said in Japanese and in English."""


def refusal(code: str, **params: object) -> PdfRejected:
    """The `PdfRejected` for `code`, its texts filled in with `params` (a `Words` pair gives
    each language its own words; anything else is used as it is in both)."""
    ja, en = TEXTS[code]
    in_ja = {k: v[0] if isinstance(v, tuple) else v for k, v in params.items()}
    in_en = {k: v[1] if isinstance(v, tuple) else v for k, v in params.items()}
    return PdfRejected(code, ja.format(**in_ja), en.format(**in_en))
