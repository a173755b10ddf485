"""HTTP hardening for every response: security headers, no-store pages, CSRF tokens for forms."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; "
    "form-action 'self'"
)
CSRF_COOKIE = "mynasign_csrf"
CSRF_FIELD = "csrf_token"


class SecurityHeadersMiddleware:
    """Adds CSP, nosniff, referrer and framing rules; HSTS when served over https.

    Pages that show a document or a secret set `request.state.no_store = True`, and their
    responses get `Cache-Control: no-store`; so do all API responses.

    Pure ASGI: it only edits the headers as the response starts. (Starlette's
    `BaseHTTPMiddleware` would put an extra task and stream in front of every response,
    every open status feed included.)
    """

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add_headers(scope, MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _add_headers(self, scope: Scope, headers: MutableHeaders) -> None:
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Frame-Options"] = "SAMEORIGIN"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if self.https:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        state = scope.get("state") or {}
        if state.get("no_store", False) or scope["path"].startswith("/api/"):
            headers["Cache-Control"] = "no-store"
            headers["Pragma"] = "no-cache"


def new_csrf_secret() -> str:
    """The per-browser random value kept in the CSRF cookie."""
    return secrets.token_urlsafe(32)


def csrf_token(cookie_value: str, key: bytes) -> str:
    """The form token for a browser: an HMAC of its cookie value, so it cannot be guessed."""
    return hmac.new(key, cookie_value.encode(), hashlib.sha256).hexdigest()


def csrf_valid(cookie_value: str | None, submitted: str | None, key: bytes) -> bool:
    """True when a form's token belongs to the browser's cookie (constant-time)."""
    if not cookie_value or not submitted:
        return False
    return hmac.compare_digest(csrf_token(cookie_value, key), submitted)
