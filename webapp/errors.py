"""Domain errors of the web service and their one mapping to HTTP answers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
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
API_PREFIX = "/api/"
FASTAPI_DOCS_PATHS = ("/docs", "/openapi")  # FastAPI's own pages answer its own errors


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


def validation_problems(error: RequestValidationError) -> tuple[DomainError, list[dict[str, str]]]:
    """What was wrong with a request, as a text to show and the fields (and kinds of fault)
    it names, never echoing the input. FastAPI's own handler echoes the input, and fails on
    a lone surrogate; this cannot."""
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
        return DomainError(TEXT_ERROR_CODE, field=refused_text[0]), problems
    return DomainError("request_invalid"), problems


def http_error(error: StarletteHTTPException) -> DomainError:
    """Starlette's own 404, 405, 413 ... as a domain error with the service's texts."""
    key = HTTP_ERROR_KEYS.get(error.status_code, "request_invalid")
    return DomainError(key, key)


def domain_error_headers(error: DomainError, *, api: bool = True) -> dict[str, str] | None:
    if error.status_code == 401 and api:  # a page sends the browser to the login page instead
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(error, RateLimitedError | UnavailableError) and error.retry_after is not None:
        return {"Retry-After": str(max(1, error.retry_after))}
    return None


# --- the one answer to every error ----------------------------------------------------

PageErrorRenderer = Callable[[Request, DomainError, int], Awaitable[Response]]
"""Shows a domain error as a page with the given status (`webapp.pages.error_page`)."""


def use_error_pages(app: FastAPI, renderer: PageErrorRenderer) -> None:
    """Errors outside the JSON API answer pages made by `renderer` (`webapp.pages` sets it)."""
    app.state.page_error_renderer = renderer


def _page_renderer(request: Request) -> PageErrorRenderer | None:
    renderer: PageErrorRenderer | None = getattr(request.app.state, "page_error_renderer", None)
    return renderer


def answers_json(request: Request) -> bool:
    """Whether an error is told as JSON rather than as a page: always on the API
    (`/api/...`), elsewhere when the caller asks for JSON and not HTML (`Accept`), or when
    the app has no pages."""
    if request.url.path.startswith(API_PREFIX) or _page_renderer(request) is None:
        return True
    header = request.headers.get("accept", "")
    accepted = {part.split(";", 1)[0].strip().lower() for part in header.split(",")}
    return "application/json" in accepted and "text/html" not in accepted


async def error_answer(
    request: Request,
    error: DomainError,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    fields: list[dict[str, str]] | None = None,
) -> Response:
    """Bilingual JSON (`error_body`) or the error page, with the same texts and status."""
    status = status or error.status_code
    renderer = _page_renderer(request)
    if renderer is None or answers_json(request):
        body = error_body(error, request)
        if fields is not None:
            body["error"]["fields"] = fields
        extra = {**(headers or {}), **(domain_error_headers(error) or {})}
        return JSONResponse(body, status, headers=extra or None)
    response = await renderer(request, error, status)
    extra = {**(headers or {}), **(domain_error_headers(error, api=False) or {})}
    if extra and response.status_code == status:  # not on a redirect to the login page
        response.headers.update(extra)
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Every kind of error answered in one place, as JSON or as a page (`answers_json`).

    Domain errors carry their own status and text; Starlette's 404, 405, 413 ... and a
    database that cannot be reached (503, try again: issue 9) become domain errors; invalid
    requests (malformed JSON, wrong types, refused text) answer 422 on the API and 400 on a
    page; anything unexpected is logged and answers a bilingual 500 (a bug: tests show that
    no hostile input gets there). FastAPI's documentation pages keep its own answers.
    """

    @app.exception_handler(DomainError)
    async def on_domain_error(request: Request, error: DomainError) -> Response:
        return await error_answer(request, error)

    # issue 9: a write that cannot get its turn, a database that is away: 503, try again
    @app.exception_handler(DatabaseBusyError)
    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeoutError)
    async def on_database_unavailable(request: Request, error: Exception) -> Response:
        log.warning("database unavailable on %s: %s", request.url.path, type(error).__name__)
        return await error_answer(request, UnavailableError("database_busy"))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException) -> Response:
        if request.url.path.startswith(FASTAPI_DOCS_PATHS):
            return await http_exception_handler(request, error)
        headers = dict(error.headers or {})
        return await error_answer(
            request, http_error(error), status=error.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid_request(request: Request, error: RequestValidationError) -> Response:
        domain, problems = validation_problems(error)
        if answers_json(request):
            return await error_answer(request, domain, status=422, fields=problems)
        return await error_answer(request, domain, status=400)  # a form: the page again

    @app.exception_handler(Exception)
    async def on_unexpected_error(request: Request, error: Exception) -> Response:
        log.error(
            "unexpected error on %s %s: %s", request.method, request.url.path,
            type(error).__name__, exc_info=error,
        )  # fmt: skip
        domain = DomainError("internal_error")
        try:
            return await error_answer(request, domain, status=500)
        except Exception as failure:  # the error page itself failed: the plain answer
            log.error("error page failed on %s: %s", request.url.path, type(failure).__name__)
            return JSONResponse(error_body(domain, request), 500)
