"""Text people type, checked in one place: NFC, no control, bidi-override or lone-surrogate code.

API models use the `Annotated` types (`SingleLineText`, `MultiLineText`, `AccessCodeText`,
`SearchText`); page forms call `clean_text` on each field. A refused value answers
`text_invalid_characters` in Japanese and English, naming the field, never echoing the
value. Path parameters (document IDs, link, session and bridge tokens) are checked by
`refuse_hostile_path`, installed on the whole app: an ID is a short run of URL-safe
characters, anything else is simply not found.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError
from starlette.requests import HTTPConnection

from webapp.errors import DomainError, NotFoundError

TEXT_ERROR_CODE = "text_invalid_characters"
MULTI_LINE_ALLOWED = frozenset("\n\t")
BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
"""LRE, RLE, PDF, LRO, RLO and LRI, RLI, FSI, PDI: they reorder what a reader sees."""
INVISIBLE = frozenset({"\ufeff", "\ufffe", "\uffff"})
"""The byte-order mark (zero-width no-break space) and the two non-characters."""
PATH_PARAMETER = re.compile(r"[A-Za-z0-9_-]{1,128}")


class TextRefusedError(DomainError):
    """A field holds characters a contract's text must not hold."""

    def __init__(self, field: str) -> None:
        super().__init__(TEXT_ERROR_CODE, field=field)


def _refused_character(value: str, *, multi_line: bool) -> bool:
    for character in value:
        point = ord(character)
        if 0xD800 <= point <= 0xDFFF:  # a lone surrogate: not text at all
            return True
        if character in BIDI_CONTROLS or character in INVISIBLE:
            return True
        if unicodedata.category(character) == "Cc" and not (
            multi_line and character in MULTI_LINE_ALLOWED
        ):
            return True
    return False


def normalized_text(value: str, *, multi_line: bool = False) -> str | None:
    """`value` in NFC (CR LF and CR as LF in multi-line text), or None when it is refused."""
    if multi_line:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if _refused_character(value, multi_line=multi_line):
        return None
    return unicodedata.normalize("NFC", value)


def clean_text(value: str, field: str, *, multi_line: bool = False) -> str:
    """For page forms: the normalised value, or `TextRefusedError` naming the field."""
    cleaned = normalized_text(value, multi_line=multi_line)
    if cleaned is None:
        raise TextRefusedError(field)
    return cleaned


def _checked(multi_line: bool) -> Any:
    def check(value: str) -> str:
        cleaned = normalized_text(value, multi_line=multi_line)
        if cleaned is None:
            raise PydanticCustomError(
                TEXT_ERROR_CODE,
                "control, bidirectional-override or invalid characters are not accepted",
            )
        return cleaned

    return check


SingleLineText = Annotated[str, AfterValidator(_checked(False))]
"""Names, titles, counterparties, addresses: one line of text."""
MultiLineText = Annotated[str, AfterValidator(_checked(True))]
"""Messages and reasons: line breaks and tabs allowed."""
AccessCodeText = Annotated[SingleLineText, Field(max_length=64)]
SearchText = Annotated[SingleLineText, Field(max_length=200)]


def is_text_error(error_type: str) -> bool:
    return error_type == TEXT_ERROR_CODE


async def refuse_hostile_path(connection: HTTPConnection) -> None:
    """Every path parameter of this service is an ID or a token: URL-safe, at most 128."""
    if connection.scope["type"] != "http":  # the bridge's websocket checks its token itself
        return
    for value in connection.path_params.values():
        if isinstance(value, str) and not PATH_PARAMETER.fullmatch(value):
            raise NotFoundError("not_found")
