"""Domain errors of the web service and their one mapping to HTTP answers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from webapp.i18n import request_language, text


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


class UnavailableError(DomainError):
    status_code = 503


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


def install_error_handlers(app: FastAPI) -> None:
    """API paths answer JSON; pages answer the error page (set by the pages router)."""

    @app.exception_handler(DomainError)
    async def on_domain_error(request: Request, error: DomainError) -> Response:
        page_handler = getattr(request.app.state, "page_error_handler", None)
        if page_handler is not None and not request.url.path.startswith("/api/"):
            response: Response = await page_handler(request, error)
            return response
        headers = {"WWW-Authenticate": "Bearer"} if error.status_code == 401 else None
        return JSONResponse(error_body(error, request), error.status_code, headers=headers)
