"""No credential in any log: link, session and bridge tokens cut to a short prefix.

`redact(text)` shortens every token the service hands out wherever it appears in a log
line: `/r/<token>`, `/b/<token>`, `/ws/bridge/<token>`, `/api/v1/r/<token>`, an
`Authorization` value, and `token=`-like query or JSON fields. The first
`PREFIX_LENGTH` characters stay, so lines about one link can still be followed.

`RedactingFilter` applies it to a record's message, arguments and traceback (uvicorn's
access log passes the path as an argument). `install_log_redaction()` puts it on every
record the process makes, through the record factory, so handlers added later (uvicorn's,
pytest's) see redacted records too; `uvicorn_log_config()` also sets it on uvicorn's own
handlers (`mynasign dev` and `serve`).
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

PREFIX_LENGTH = 6
ELLIPSIS = "…"
_TOKEN = r"[A-Za-z0-9_\-]{16,}"  # noqa: S105 - a pattern, not a secret
_PATTERNS = (
    # a token in a path: /r/<token>, /b/<token>, /ws/bridge/<token>, /api/v1/r/<token>
    re.compile(rf"(?P<keep>/(?:r|b|ws/bridge)/)(?P<token>{_TOKEN})"),
    # Authorization: Bearer <token> (any scheme), and a bare "Bearer <token>"
    re.compile(
        r"(?P<keep>(?i:authorization)['\"]?\s*[:=,]\s*['\"]?(?:[A-Za-z]+\s+)?)"
        r"(?P<token>[^\s'\",;]{8,})"
    ),
    re.compile(r"(?P<keep>(?i:bearer)\s+)(?P<token>[^\s'\",;]{8,})"),
    # token=…, session_token: "…", claim_key=… in queries, forms and JSON
    re.compile(
        r"(?P<keep>(?i:[a-z_]*(?:token|claim_key))['\"]?\s*[:=]\s*['\"]?)"
        r"(?P<token>[^\s&'\",;}]{8,})"
    ),
)
_SECRETS = re.compile(
    r"(?P<keep>(?i:[a-z_]*(?:password|passwd|secret|access_code))['\"]?\s*[:=]\s*['\"]?)"
    r"(?P<token>[^\s&'\",;}]+)"
)
"""Passwords and codes keep no prefix at all: a few characters of one are too many."""


def _shorten(match: re.Match[str]) -> str:
    token = match.group("token")
    return f"{match.group('keep')}{token[:PREFIX_LENGTH]}{ELLIPSIS}"


def _hide(match: re.Match[str]) -> str:
    return f"{match.group('keep')}***"


def redact(text: str) -> str:
    """`text` with every credential cut to its first few characters."""
    for pattern in _PATTERNS:
        text = pattern.sub(_shorten, text)
    return _SECRETS.sub(_hide, text)


def _redact_argument(value: Any) -> Any:
    if isinstance(value, int | float | bool) or value is None:
        return value
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"))
    if isinstance(value, str):
        return redact(value)
    shown = str(value)
    redacted = redact(shown)
    return value if redacted == shown else redacted  # objects keep their own formatting


def redact_record(record: logging.LogRecord) -> None:
    """Redact `record` in place (once): message, arguments, traceback and stack."""
    if getattr(record, "_mynasign_redacted", False):
        return
    record._mynasign_redacted = True
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    elif record.msg is not None and not isinstance(record.msg, int | float):
        record.msg = redact(str(record.msg))
    if isinstance(record.args, tuple):
        record.args = tuple(_redact_argument(value) for value in record.args)
    elif isinstance(record.args, Mapping):
        record.args = {key: _redact_argument(value) for key, value in record.args.items()}
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts credentials and lets every record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_install_lock = threading.Lock()
_installed = False


def install_log_redaction() -> None:
    """Redact every log record this process makes from now on (idempotent)."""
    global _installed  # noqa: PLW0603 - one process-wide switch
    with _install_lock:
        if _installed:
            return
        previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
    redacting = RedactingFilter()
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(redacting)


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the redacting filter on each of its handlers."""
    from uvicorn.config import LOGGING_CONFIG  # noqa: PLC0415 - the server extra only

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_credentials"] = {"()": RedactingFilter}
    for handler in config.get("handlers", {}).values():
        handler.setdefault("filters", []).append("redact_credentials")
    return config
