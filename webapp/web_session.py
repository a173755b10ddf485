"""Browser sessions: the sender's signed session cookie and a recipient's link-scoped cookie.

A sender's cookie holds the user ID, the account's `sessions_epoch` and an expiry, signed
with an HMAC keyed from the session secret. Bumping the epoch ("sign out everywhere")
invalidates every cookie issued before. A recipient's session token (from opening the
link) is kept in an HttpOnly cookie whose path is the link itself, `/r/<token>`, so it
is sent to that link's pages only. Cookies are Secure when the service runs on https.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
from dataclasses import dataclass

from starlette.responses import Response

from webapp.settings import Settings

SENDER_COOKIE = "mynasign_session"
RECIPIENT_COOKIE = "mynasign_party"
SENDER_SESSION_LIFETIME = datetime.timedelta(hours=12)
RECIPIENT_SESSION_LIFETIME = datetime.timedelta(hours=2)
"""As long as `webapp.services.recipients.SESSION_LIFETIME`: the cookie dies with it."""


def derived_key(settings: Settings, purpose: str) -> bytes:
    """A key for one purpose (sessions, CSRF), derived from the session secret."""
    secret = settings.session_secret_value.encode()
    return hmac.new(secret, f"mynasign:{purpose}".encode(), hashlib.sha256).digest()


def secure_cookies(settings: Settings) -> bool:
    return settings.base_url.startswith("https://")


@dataclass(frozen=True)
class SenderSession:
    """What a valid sender cookie says."""

    user_id: str
    epoch: int
    expires_at: datetime.datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_sender_session(session: SenderSession, key: bytes) -> str:
    """`<payload>.<signature>`, both base64url; the payload is compact JSON."""
    payload = json.dumps(
        [session.user_id, session.epoch, int(session.expires_at.timestamp())],
        separators=(",", ":"),
    ).encode()
    signature = hmac.new(key, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}"


def decode_sender_session(
    value: str | None, key: bytes, now: datetime.datetime
) -> SenderSession | None:
    """The session a cookie holds, or None when it is missing, forged or expired."""
    if not value or value.count(".") != 1:
        return None
    payload_text, signature_text = value.split(".")
    try:
        payload, signature = _unb64(payload_text), _unb64(signature_text)
    except (binascii.Error, ValueError):
        return None
    expected = hmac.new(key, payload, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        user_id, epoch, expires = json.loads(payload)
    except (ValueError, TypeError):
        return None
    if not (isinstance(user_id, str) and isinstance(epoch, int) and isinstance(expires, int)):
        return None
    expires_at = datetime.datetime.fromtimestamp(expires, datetime.UTC)
    if expires_at <= now:
        return None
    return SenderSession(user_id, epoch, expires_at)


def set_sender_cookie(
    response: Response,
    settings: Settings,
    *,
    user_id: str,
    epoch: int,
    now: datetime.datetime,
) -> None:
    """Sign the sender in on this browser."""
    session = SenderSession(user_id, epoch, now + SENDER_SESSION_LIFETIME)
    response.set_cookie(
        SENDER_COOKIE,
        encode_sender_session(session, derived_key(settings, "sender-session")),
        max_age=int(SENDER_SESSION_LIFETIME.total_seconds()),
        path="/",
        secure=secure_cookies(settings),
        httponly=True,
        samesite="lax",
    )


def clear_sender_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SENDER_COOKIE, path="/", secure=secure_cookies(settings), httponly=True, samesite="lax"
    )


def recipient_cookie_path(link_token: str) -> str:
    return f"/r/{link_token}"


def set_recipient_cookie(
    response: Response, settings: Settings, link_token: str, session_token: str
) -> None:
    """Keep a recipient's session for this link only."""
    response.set_cookie(
        RECIPIENT_COOKIE,
        session_token,
        max_age=int(RECIPIENT_SESSION_LIFETIME.total_seconds()),
        path=recipient_cookie_path(link_token),
        secure=secure_cookies(settings),
        httponly=True,
        samesite="lax",
    )
