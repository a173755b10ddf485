"""The bridge's websocket, `/ws/bridge/<token>`: the server side of protocol v1.

One connection runs one `BridgeConnection`: it answers the bridge's frames in order and,
meanwhile, watches the session for what others do to it (a newer QR code replaces it, its
ten minutes run out), so the bridge hears of it at once. The session's state lives in the
database (`webapp.services.card_sessions`); a connection holds nothing that a reconnect
with the claim key cannot recover.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re
from collections.abc import MutableMapping
from typing import Any, NoReturn

from fastapi import APIRouter, WebSocket
from fastapi.responses import Response
from starlette.websockets import WebSocketState

from bridge import protocol
from bridge.protocol import ProtocolError, ProtocolErrorCode
from webapp.db.models import CardSessionState
from webapp.errors import RateLimitedError
from webapp.i18n import both
from webapp.offload import off_loop
from webapp.rate_limits import client_address, limits_of
from webapp.services import card_sessions as service
from webapp.services.card_sessions import ClaimRefused, Snapshot, Verdict
from webapp.services.context import ServiceContext

log = logging.getLogger(__name__)
router = APIRouter(tags=["bridge"])
TOKEN = re.compile(r"[A-Za-z0-9_-]{22,128}")
MAX_FRAME = 256 * 1024
CLIENT_TIMEOUT_SECONDS = 15 * 60
"""A connection that has said nothing for this long is closed (the session is long over)."""


@router.websocket("/ws/bridge/{token}")
async def bridge_socket(websocket: WebSocket, token: str) -> None:
    """404 for an unknown token, 410 for an expired or cancelled session, else protocol v1."""
    context: ServiceContext = websocket.app.state.context
    limits = limits_of(websocket)  # issue 10: a bridge's hello is rate-limited per address
    if limits is not None:
        try:
            await limits.hit_async("bridge_hello", client_address(websocket))
        except RateLimitedError as refused:
            wait = refused.retry_after or 60
            await websocket.send_denial_response(
                Response(both("rate_limited", retry_after=wait), status_code=429,
                         headers={"Retry-After": str(wait)})
            )  # fmt: skip
            return
    found = await off_loop(service.lookup, context, token) if TOKEN.fullmatch(token) else None
    if found is None:
        await websocket.send_denial_response(Response("unknown session", status_code=404))
        return
    if found.state in (CardSessionState.EXPIRED, CardSessionState.CANCELLED):
        await websocket.send_denial_response(Response("session over", status_code=410))
        return
    await websocket.accept()
    await BridgeConnection(context, websocket, found).run()


class _Closing(Exception):  # noqa: N818 - control flow inside one connection
    """The connection ends after the frame just sent."""


class BridgeConnection:
    """One websocket connection of one bridge to one card session."""

    def __init__(self, context: ServiceContext, websocket: WebSocket, found: Snapshot) -> None:
        self.context = context
        self.websocket = websocket
        self.session_id = found.session_id
        self.recipient_id = found.recipient_id
        self.claimed = False
        self.status: dict[str, Any] | None = None
        """The session's status as this connection last knew it (for progress frames)."""

    async def run(self) -> None:
        with self.context.card_events.watch(self.recipient_id) as watch:
            receiving = asyncio.ensure_future(self.websocket.receive())
            watching = asyncio.ensure_future(watch.next())
            try:
                while True:
                    done, _ = await asyncio.wait(
                        {receiving, watching},
                        timeout=CLIENT_TIMEOUT_SECONDS,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if not done:
                        raise _Closing
                    if watching in done:
                        status = watching.result()
                        watching = asyncio.ensure_future(watch.next())
                        if status is not None:
                            await self._on_status(status)
                    if receiving in done:
                        message = receiving.result()
                        if message["type"] == "websocket.disconnect":
                            return
                        receiving = asyncio.ensure_future(self.websocket.receive())
                        await self._on_frame(message)
            except _Closing:
                await self._close()
            except Exception:
                log.exception("card session %s: the bridge connection failed", self.session_id)
                with contextlib.suppress(Exception):
                    await self._send(protocol.Error(code="internal", message="server error"))
                await self._close()
            finally:
                receiving.cancel()
                watching.cancel()

    # --- frames from the bridge ---------------------------------------------------------

    async def _on_frame(self, message: MutableMapping[str, Any]) -> None:
        text = message.get("text")
        if text is None or len(text) > MAX_FRAME:
            await self._refuse(ProtocolErrorCode.MALFORMED_JSON, "text frames of at most 256 KiB")
        try:
            parsed = protocol.parse_message(text)
        except ProtocolError as exc:
            await self._refuse(exc.code, exc.message)
        if not isinstance(parsed, protocol.BridgeMessage):
            await self._refuse(
                ProtocolErrorCode.UNEXPECTED_MESSAGE, f"{parsed.type} is not sent by a bridge"
            )
        if not self.claimed and not isinstance(parsed, protocol.Hello | protocol.ClaimResume):
            await self._refuse(
                ProtocolErrorCode.UNEXPECTED_MESSAGE, "send hello or claim_resume first"
            )
        await self._dispatch(parsed)

    async def _dispatch(self, message: protocol.Message) -> None:
        context, session_id = self.context, self.session_id
        match message:
            case protocol.Hello() if self.claimed:
                await self._refuse(ProtocolErrorCode.UNEXPECTED_MESSAGE, "already said hello")
            case protocol.Hello():
                try:
                    key, found = await off_loop(service.claim, context, session_id, message.order)
                except ClaimRefused as exc:
                    await self._refuse(exc.code, exc.message)
                self.claimed = True
                self.status = await off_loop(service.status_for, context, self.recipient_id)
                await self._send(protocol.Claim(claim_key=key, expires_at=found.expires_at))
                await self._send(_sign_request(found))
            case protocol.ClaimResume():
                try:
                    found = await off_loop(service.resume, context, session_id, message.claim_key)
                except ClaimRefused as exc:
                    await self._refuse(exc.code, exc.message)
                self.claimed = True
                self.status = await off_loop(service.status_for, context, self.recipient_id)
                claim = protocol.Claim(claim_key=message.claim_key, expires_at=found.expires_at)
                await self._send(claim)
                await self._send_state(found)
            case protocol.Progress():
                await self._on_progress(message.stage)
            case protocol.CardError():
                self.status = await off_loop(
                    service.record_card_error, context, session_id, message.code,
                    message.tries_left,
                )  # fmt: skip
            case protocol.Signature():
                await self._on_signature(message)
            case protocol.Cancelled():
                await off_loop(service.record_bridge_cancel, context, session_id, message.reason)
                raise _Closing
            case protocol.Error():
                log.info("card session %s: the bridge said %s", session_id, message.code)
                raise _Closing
            case _:
                await self._refuse(ProtocolErrorCode.UNEXPECTED_MESSAGE, f"{message.type} here")

    async def _on_progress(self, stage: protocol.Stage) -> None:
        """Tell the page at once; store the stage afterwards, off the event loop."""
        status = self.status
        if status is None or status.get("session_id") != self.session_id:
            return
        if status.get("state") not in ("claimed", "signing"):
            return
        self.status, event = service.advance(status, stage)
        self.context.card_events.publish(self.recipient_id, self.status)
        await off_loop(service.store_progress, self.context, self.session_id, event)

    async def _on_signature(self, message: protocol.Signature) -> None:
        try:
            cms_der = base64.b64decode(message.cms, validate=True)
        except (binascii.Error, ValueError):
            await self._refuse(ProtocolErrorCode.INVALID_MESSAGE, "invalid signature: check cms")
        verdict = await off_loop(
            service.judge_signature, self.context, self.session_id, message.digest, cms_der
        )
        await self._send(_result(verdict))
        raise _Closing

    # --- what others did to the session -------------------------------------------------

    async def _on_status(self, status: dict[str, Any]) -> None:
        if status.get("session_id") != self.session_id:
            if status.get("state") in ("created",):  # a newer QR code replaced this one
                found = await off_loop(service.snapshot, self.context, self.session_id)
                await self._send_ending(found)
            return
        state = status.get("state")
        if state != (self.status or {}).get("state"):  # judged, ended: no more quick path
            self.status = status
        if state in (CardSessionState.EXPIRED.value, CardSessionState.CANCELLED.value):
            await self._send_ending(await off_loop(service.snapshot, self.context, self.session_id))

    async def _send_state(self, found: Snapshot) -> None:
        """After a resume: what the session is waiting for, or how it ended."""
        if found.verdict is not None:
            await self._send(_result(found.verdict))
            raise _Closing
        await self._send_ending(found)
        await self._send(_sign_request(found))

    async def _send_ending(self, found: Snapshot) -> None:
        if found.state is CardSessionState.EXPIRED:
            ended: protocol.Message = protocol.Expired(message="The session expired.")
        elif found.state is CardSessionState.CANCELLED:
            reason = found.end_reason or "cancelled"
            if reason == "replaced":
                reason, text = "session_replaced", "A new QR code replaced this session."
            elif reason == "document_closed":
                text = "The document is no longer out for signature."
            else:
                text = "The session was cancelled."
            ended = protocol.Cancelled(reason=reason, message=text)
        else:
            return
        await self._send(ended)
        raise _Closing

    # --- sending ------------------------------------------------------------------------

    async def _send(self, message: protocol.Message) -> None:
        await self.websocket.send_text(message.to_json())

    async def _refuse(self, code: str, text: str) -> NoReturn:
        await self._send(protocol.Error(code=code, message=protocol.printable(text)))
        raise _Closing

    async def _close(self) -> None:
        if self.websocket.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self.websocket.close()


def _sign_request(found: Snapshot) -> protocol.SignRequest:
    request = found.request
    return protocol.SignRequest(
        document_title=protocol.printable(request.document_title, 500),
        sender=protocol.printable(request.sender, 200),
        expected_signer_name=protocol.printable(request.expected_signer_name, 200),
        digest=request.digest_hex,
        expires_at=request.expires_at,
    )


def _result(verdict: Verdict) -> protocol.Result:
    if verdict.accepted:
        return protocol.Result(outcome="accepted")
    message = verdict.message_en or verdict.reason or "rejected"
    return protocol.Result(
        outcome="rejected", reason=verdict.reason, message=protocol.printable(message)
    )
