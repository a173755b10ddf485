"""The QR code's URL turned into the bridge's websocket URL, with the transport and token rules.

`https://host/…/b/<token>` becomes `wss://host/…/ws/bridge/<token>`. Plain http/ws is
refused unless the host is a loopback address or `insecure` is set; the token must be
base64url with at least 128 bits. The token is a bearer secret for ten
minutes, so `BridgeTarget` never prints it whole.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{22,128}")
"""base64url; 22 characters carry 132 bits, the least that holds 128."""

APP_SCHEME = "mynasign-bridge"
"""The PC page's button opens `mynasign-bridge:<bridge URL>` (see `bridge.urlhandler`)."""
_PAGE_SEGMENT = "b"
_SOCKET_SEGMENTS = ("ws", "bridge")
_SECURE = {"https": "wss", "wss": "wss"}
_PLAIN = {"http": "ws", "ws": "ws"}


class BridgeUrlError(ValueError):
    """The URL is not a bridge URL; `reason` is a message-catalogue key."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class BridgeTarget:
    """Where the bridge connects: the websocket URL and, for display, the host."""

    websocket_url: str
    host: str
    token: str

    def __repr__(self) -> str:
        return f"BridgeTarget(host={self.host!r}, token='{self.token[:4]}…')"

    __str__ = __repr__


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine (localhost, 127.0.0.0/8 or ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bridge_target(url: str, *, insecure: bool = False) -> BridgeTarget:
    """The websocket of the QR URL (a `…/ws/bridge/<token>` URL is taken as it is)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise BridgeUrlError("url_malformed", f"not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme in _SECURE:
        ws_scheme = _SECURE[scheme]
    elif scheme in _PLAIN:
        if not (insecure or is_loopback(host)):
            raise BridgeUrlError(
                "url_insecure", "plain http/ws is allowed only for loopback hosts or --insecure"
            )
        ws_scheme = _PLAIN[scheme]
    else:
        raise BridgeUrlError("url_scheme", f"the URL must start with https:// (not {scheme!r})")
    if not host:
        raise BridgeUrlError("url_malformed", "the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise BridgeUrlError("url_malformed", "the URL must not carry a user name or password")
    if parts.query or parts.fragment:
        raise BridgeUrlError("url_malformed", "the URL must not have a query or fragment")
    prefix, token = _split_path(parts, scheme)
    if TOKEN_PATTERN.fullmatch(token) is None:
        raise BridgeUrlError(
            "url_token", "the token must be 22 to 128 base64url characters (128 bits or more)"
        )
    path = "/".join([*prefix, *_SOCKET_SEGMENTS, token])
    websocket_url = urlunsplit((ws_scheme, parts.netloc, path, "", ""))
    return BridgeTarget(websocket_url=websocket_url, host=host, token=token)


def _split_path(parts: SplitResult, scheme: str) -> tuple[list[str], str]:
    """The path's prefix segments (with the leading empty one) and the token."""
    segments = parts.path.split("/")
    if scheme in ("ws", "wss"):
        if len(segments) >= 4 and tuple(segments[-3:-1]) == _SOCKET_SEGMENTS:
            return segments[:-3], segments[-1]
        raise BridgeUrlError("url_path", "a websocket URL must end in /ws/bridge/<token>")
    if len(segments) >= 3 and segments[-2] == _PAGE_SEGMENT:
        return segments[:-2], segments[-1]
    raise BridgeUrlError("url_path", "the URL must end in /b/<token>")


def unwrap_app_link(url: str) -> str:
    """The bridge URL inside a `mynasign-bridge:` link (`mynasign-bridge:https://…/b/…`,
    also `mynasign-bridge://https://…` as some systems rewrite it); other URLs unchanged."""
    text = url.strip()
    prefix = APP_SCHEME + ":"
    if text[: len(prefix)].lower() != prefix:
        return text
    inner = text[len(prefix) :]
    if inner.startswith("//") and inner[2:].lower().startswith(("https:", "http:")):
        inner = inner[2:]
    return inner
