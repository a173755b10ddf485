"""Domain errors of the web service and their one mapping to HTTP answers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from webapp.db.engine import DatabaseBusyError
from webapp.i18n import request_language, text

log = logging.getLogger(__name__)
TEXT_ERROR_CODE = "text_invalid_characters"  # the type webapp.text_input gives refused text
HTTP_ERROR_KEYS = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


class DomainError(Exception):
    """Something a person must be told: a code for programs, a text key for people."""

    status_code = 400

    def __init__(
        self,
        code: str,
        key: str | None = None,
        *,
        messages: tuple[str, str] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.key = key or code
        self.params = params
        self.messages = messages
        """Japanese and English text given by the caller instead of a text key."""

    def text(self, language: str) -> str:
        if self.messages is not None:
            return self.messages[0] if language == "ja" else self.messages[1]
        return text("ja" if language == "ja" else "en", self.key, **self.params)


class NotFoundError(DomainError):
    status_code = 404


class ConflictError(DomainError):
    status_code = 409


class UnauthorizedError(DomainError):
    status_code = 401


class ForbiddenError(DomainError):
    status_code = 403


class GoneError(DomainError):
    status_code = 410


class RateLimitedError(DomainError):
    status_code = 429

    def __init__(self, code: str, key: str | None = None, *, retry_after: int | None = None,
                 **params: Any) -> None:  # fmt: skip
        if retry_after is not None:
            params["retry_after"] = retry_after
        super().__init__(code, key, **params)
        self.retry_after = retry_after
        """Seconds until a new try can succeed (the `Retry-After` header), when known."""


class UnavailableError(DomainError):
    status_code = 503
    retry_after = 5
    """Seconds to wait before trying again (the `Retry-After` header)."""


def error_body(error: DomainError, request: Request) -> dict[str, Any]:
    """`{"error": {"code", "message" (ja / en), "message_ja", "message_en", ...}}`."""
    japanese, english = error.text("ja"), error.text("en")
    return {
        "error": {
            "code": error.code,
            "message": f"{japanese} / {english}",
            "message_ja": japanese,
            "message_en": english,
            "language": request_language(request),
            **{k: v for k, v in error.params.items() if isinstance(v, int | str)},
        }
    }


def _printable(value: object) -> str:
    """A location part safe to print and to encode (lone surrogates become `?`)."""
    return str(value)[:100].encode("utf-8", "replace").decode("utf-8")


def validation_error_response(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 `{"error": ...}` naming the fields and what is wrong, never echoing the input.

    FastAPI's own handler echoes the input, and fails on a lone surrogate; this one cannot.
    """
    items = error.errors()[:20]
    problems = [
        {"field": ".".join(_printable(part) for part in item.get("loc", ())),
         "type": _printable(item.get("type", "invalid"))}
        for item in items
    ]  # fmt: skip
    refused_text = [
        _printable(item["loc"][-1]) if item.get("loc") else "?"
        for item in items
        if item.get("type") in (TEXT_ERROR_CODE, "string_unicode")
    ]
    if refused_text:
        domain = DomainError(TEXT_ERROR_CODE, field=refused_text[0])
    else:
        domain = DomainError("request_invalid")
    body = error_body(domain, request)
    body["error"]["fields"] = problems
    return JSONResponse(body, 422)


def http_error_response(request: Request, error: StarletteHTTPException) -> Response:
    """Starlette's 404, 405, 413 ... on API paths, in the service's bilingual shape."""
    key = HTTP_ERROR_KEYS.get(error.status_code, "request_invalid")
    domain = DomainError("not_found" if error.status_code == 404 else key, key)
    headers = dict(error.headers or {})
    return JSONResponse(error_body(domain, request), error.status_code, headers=headers or None)


def domain_error_headers(error: DomainError) -> dict[str, str] | None:
    if error.status_code == 401:
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(error, RateLimitedError | UnavailableError) and error.retry_after is not None:
        return {"Retry-After": str(max(1, error.retry_after))}
    return None


def install_error_handlers(app: FastAPI) -> None:
    """API paths answer JSON; pages answer the error page (set by the pages router).

    Invalid requests (malformed JSON, wrong types, refused text) answer a bilingual 422;
    anything unexpected is logged and answers a bilingual 500 (a bug: tests show that no
    hostile input gets there).
    """

    @app.exception_handler(DomainError)
    async def on_domain_error(request: Request, error: DomainError) -> Response:
        page_handler = getattr(request.app.state, "page_error_handler", None)
        if page_handler is not None and not request.url.path.startswith("/api/"):
            response: Response = await page_handler(request, error)
            extra = domain_error_headers(error)
            if extra and error.status_code in (429, 503):
                response.headers.update(extra)
            return response
        headers = domain_error_headers(error)
        return JSONResponse(error_body(error, request), error.status_code, headers=headers)

    # issue 9: a write that cannot get its turn, a database that is away: 503, try again
    @app.exception_handler(DatabaseBusyError)
    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeoutError)
    async def on_database_unavailable(request: Request, error: Exception) -> Response:
        log.warning("database unavailable on %s: %s", request.url.path, type(error).__name__)
        return await on_domain_error(request, UnavailableError("database_busy"))

    @app.exception_handler(RequestValidationError)
    async def on_invalid_request(request: Request, error: RequestValidationError) -> Response:
        return validation_error_response(request, error)

    @app.exception_handler(Exception)
    async def on_unexpected_error(request: Request, error: Exception) -> Response:
        log.error(
            "unexpected error on %s %s: %s", request.method, request.url.path,
            type(error).__name__, exc_info=error,
        )  # fmt: skip
        domain = DomainError("internal_error")
        page_handler = getattr(request.app.state, "page_error_handler", None)
        if page_handler is not None and not request.url.path.startswith("/api/"):
            response: Response = await page_handler(request, domain)
            response.status_code = 500
            return response
        return JSONResponse(error_body(domain, request), 500)
