"""The websocket to the server: frames in and out, and reconnection with the claim key.

After the claim every frame, both ways, carries the protocol version the claim agreed
(`version`): outgoing messages are sent in it, and a server frame in another is refused.

Once the session is claimed, a dropped connection is reopened with growing pauses, each
new connection starting with `claim_resume`, until the attempts or the session's
lifetime run out. Frames are logged by type and size only: a CMS holds the signer's
name and address, and the URL's token is a bearer secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from bridge import protocol
from bridge.errors import NetworkError
from bridge.protocol import ProtocolError, ProtocolErrorCode

log = logging.getLogger(__name__)
MAX_FRAME_BYTES = 256 * 1024
_GONE_STATUSES = frozenset({401, 403, 404, 410})


@dataclass(frozen=True)
class Timeouts:
    """Every wait of a session, in seconds."""

    open: float = 10.0
    send: float = 10.0
    reply: float = 30.0
    """For the server's claim and sign_request."""
    result: float = 120.0
    """For the server's verdict on the signature (it checks revocation, timestamps)."""
    digest: float = 15.0
    """v2: for the digest after the certificate, while the card is held (the server hashes
    the prepared PDF once; reconnecting, if need be, fits in this too)."""
    close: float = 3.0
    reconnect_attempts: int = 6
    backoff_first: float = 0.25
    backoff_max: float = 8.0


class Channel:
    """One session's connection, reopened transparently after a drop once claimed."""

    def __init__(
        self,
        url: str,
        timeouts: Timeouts,
        *,
        user_agent: str,
        on_frame: Callable[[str, str], None] | None = None,
    ) -> None:
        self.url = url
        self.timeouts = timeouts
        self.user_agent = user_agent
        self.claim_key: str | None = None
        self.version: int | None = None
        """The protocol version the claim agreed on (None before the claim)."""
        self.deadline: float | None = None
        """Monotonic time after which reconnecting is pointless (the session expired)."""
        self.reconnects = 0
        self._on_frame = on_frame
        self._ws: ClientConnection | None = None
        self._generation = 0
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Connect for the first time; `NetworkError` if the server cannot be reached."""
        self._ws = await self._connect()

    async def _connect(self) -> ClientConnection:
        try:
            return await connect(
                self.url,
                open_timeout=self.timeouts.open,
                close_timeout=self.timeouts.close,
                max_size=MAX_FRAME_BYTES,
                compression=None,
                user_agent_header=self.user_agent,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            key = "network_session_gone" if status in _GONE_STATUSES else "network_refused"
            raise NetworkError(key, reason="network", status=status) from None
        except InvalidURI:
            raise NetworkError("network_unreachable", reason="network", detail="bad URL") from None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            detail = type(exc).__name__
            raise NetworkError("network_unreachable", reason="network", detail=detail) from None

    @property
    def generation(self) -> int:
        """Which connection this is: 0 for the first, one more after each resumption."""
        return self._generation

    async def send(self, message: protocol.BridgeMessage) -> int:
        """Send one message, reconnecting first if the connection dropped; the generation used."""
        frame = self._frame(message)
        while True:
            ws, generation = self._current()
            try:
                async with asyncio.timeout(self.timeouts.send):
                    await ws.send(frame)
            except ConnectionClosed:
                await self._reconnect(generation)
                continue
            except TimeoutError:
                raise NetworkError("network_timeout", reason="network") from None
            self._record(">", message.type, frame)
            return generation

    async def send_once(self, message: protocol.BridgeMessage) -> None:
        """Send without reconnecting (when ending a session); errors are swallowed."""
        if self._ws is None:
            return
        frame = self._frame(message)
        try:
            async with asyncio.timeout(self.timeouts.close):
                await self._ws.send(frame)
            self._record(">", message.type, frame)
        except (ConnectionClosed, TimeoutError, OSError):
            log.debug("could not send %s while closing", message.type)

    async def receive(self) -> protocol.Message:
        """The next message from the server (after a drop, from the resumed connection)."""
        while True:
            ws, generation = self._current()
            try:
                frame = await ws.recv()
            except ConnectionClosed as exc:
                log.info("connection closed (%s); resuming", exc.rcvd.code if exc.rcvd else 1006)
                await self._reconnect(generation)
                continue
            self._record("<", "frame", frame if isinstance(frame, str) else "")
            message = protocol.parse_message(frame)
            if message.type not in protocol.SERVER_TYPES:
                raise ProtocolError(
                    ProtocolErrorCode.UNEXPECTED_MESSAGE, f"{message.type} comes from the bridge"
                )
            if self.version is not None and message.version != self.version:
                raise ProtocolError(
                    ProtocolErrorCode.UNSUPPORTED_VERSION,
                    f"{message.type} in version {message.version}, the claim said {self.version}",
                )
            return message

    def _frame(self, message: protocol.BridgeMessage) -> str:
        """The frame's text: in the agreed version (the `hello` always in version 1)."""
        if self.version is not None and not isinstance(message, protocol.Hello):
            message = message.in_version(self.version)
        return message.to_json()

    async def close(self) -> None:
        """Close the connection politely (never raises)."""
        if self._ws is not None:
            with contextlib.suppress(OSError, ConnectionClosed):
                await self._ws.close()

    def _current(self) -> tuple[ClientConnection, int]:
        if self._ws is None:
            raise NetworkError("network_unreachable", reason="network", detail="not open")
        return self._ws, self._generation

    async def _reconnect(self, generation: int) -> None:
        async with self._lock:
            if generation != self._generation:
                return  # another task already reconnected
            if self.claim_key is None:
                raise NetworkError("network_dropped", reason="network")
            delay = self.timeouts.backoff_first
            for _attempt in range(self.timeouts.reconnect_attempts):
                if self.deadline is not None and time.monotonic() + delay >= self.deadline:
                    break
                await asyncio.sleep(delay)  # backoff, not synchronisation
                delay = min(delay * 2, self.timeouts.backoff_max)
                try:
                    ws = await self._connect()
                    frame = self._frame(protocol.ClaimResume(claim_key=self.claim_key))
                    async with asyncio.timeout(self.timeouts.send):
                        await ws.send(frame)
                except NetworkError as exc:
                    if exc.key == "network_session_gone":
                        raise
                    continue
                except (ConnectionClosed, TimeoutError):
                    continue
                self._record(">", "claim_resume", frame)
                self._ws = ws
                self._generation += 1
                self.reconnects += 1
                log.info("connection resumed with the claim key")
                return
            raise NetworkError("network_dropped", reason="network")

    def _record(self, direction: str, kind: str, frame: str) -> None:
        log.debug("%s %s (%d bytes)", direction, kind, len(frame))
        if self._on_frame is not None:
            self._on_frame(direction, frame)
