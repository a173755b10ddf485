"""The bridge's websocket, `/ws/bridge/<token>`: the server side of protocol v1 and v2.

One connection runs one `BridgeConnection`: it answers the bridge's frames in order and,
meanwhile, watches the session for what others do to it (a newer QR code replaces it, its
ten minutes run out), so the bridge hears of it at once. The session's state lives in the
database (`webapp.card_signing.sessions`); a connection holds nothing that a reconnect
with the claim key cannot recover.

The version is agreed at the claim: the lower of the bridge's `protocol_version` and
ours. A v2 connection sends no digest in `sign_request`; the bridge's `certificate`
(read after VERIFY, the card still held) is answered with `sign_digest` as soon as it
passes its quick check (`sessions.announce_certificate`). v1 bridges in the field keep
the v1 exchange. Every frame after the claim carries the agreed version, both ways.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import logging
import re
from collections.abc import MutableMapping
from typing import Any, NoReturn

from fastapi import APIRouter, WebSocket
from fastapi.responses import Response
from starlette.websockets import WebSocketState

from bridge import protocol
from bridge.protocol import ProtocolError, ProtocolErrorCode
from webapp.card_signing import sessions as service
from webapp.card_signing.sessions import ClaimRefused, Snapshot, Verdict
from webapp.card_signing.status import CardSessionStatus
from webapp.db.models import CardSessionState
from webapp.errors import RateLimitedError
from webapp.i18n import both
from webapp.offload import off_loop
from webapp.rate_limits import client_address, limits_of
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
        self.version = 1
        """The protocol version agreed at the claim (or the resumed claim's)."""
        self.status: CardSessionStatus | None = None
        """The session's status as this connection last knew it (for progress frames)."""
        peer, agent = websocket.client, websocket.headers.get("user-agent")
        self.who = dataclasses.replace(
            service.BRIDGE, ip=peer.host if peer else None, user_agent=agent
        )
        """The bridge in the audit trail: its address and agent on every event it causes."""

    async def run(self) -> None:
        with self.context.card_events.watch(self.recipient_id) as watch:
            receiving = asyncio.ensure_future(self.websocket.receive())
            watching = asyncio.ensure_future(watch.next())
            try:
                while True:
                    waiting: set[asyncio.Future[Any]] = {receiving, watching}
                    done, _ = await asyncio.wait(
                        waiting,
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
        if self.claimed and parsed.version != self.version:
            await self._refuse(
                ProtocolErrorCode.UNSUPPORTED_VERSION,
                f"this connection speaks protocol version {self.version}",
            )
        await self._dispatch(parsed)

    async def _dispatch(self, message: protocol.Message) -> None:
        context, session_id = self.context, self.session_id
        match message:
            case protocol.Hello() if self.claimed:
                await self._refuse(ProtocolErrorCode.UNEXPECTED_MESSAGE, "already said hello")
            case protocol.Hello():
                version = min(message.protocol_version, protocol.PROTOCOL_VERSION)
                try:
                    key, found = await off_loop(
                        service.claim, context, session_id, message.order, version, self.who
                    )
                except ClaimRefused as exc:
                    await self._refuse(exc.code, exc.message)
                self.claimed, self.version = True, version
                self.status = await off_loop(service.status_for, context, self.recipient_id)
                await self._send(protocol.Claim(claim_key=key, expires_at=found.expires_at))
                await self._send(_sign_request(found))
            case protocol.ClaimResume():
                try:
                    found = await off_loop(
                        service.resume, context, session_id, message.claim_key, message.version
                    )
                except ClaimRefused as exc:
                    await self._refuse(exc.code, exc.message)
                self.claimed, self.version = True, found.protocol_version
                self.status = await off_loop(service.status_for, context, self.recipient_id)
                claim = protocol.Claim(claim_key=message.claim_key, expires_at=found.expires_at)
                await self._send(claim)
                await self._send_state(found)
            case protocol.Progress():
                await self._on_progress(message.stage)
            case protocol.CardError():
                self.status = await off_loop(
                    service.record_card_error, context, session_id, message.code,
                    message.tries_left, self.who,
                )  # fmt: skip
            case protocol.Certificate():
                await self._on_certificate(message)
            case protocol.Signature():
                await self._on_signature(message)
            case protocol.Cancelled():
                await off_loop(
                    service.record_bridge_cancel, context, session_id, message.reason, self.who
                )
                raise _Closing
            case protocol.Error():
                log.info("card session %s: the bridge said %s", session_id, message.code)
                raise _Closing
            case _:
                await self._refuse(ProtocolErrorCode.UNEXPECTED_MESSAGE, f"{message.type} here")

    async def _on_progress(self, stage: protocol.Stage) -> None:
        """Tell the page at once; store the stage afterwards, off the event loop."""
        status = self.status
        if status is None or status.session_id != self.session_id:
            return
        if status.state not in (CardSessionState.CLAIMED, CardSessionState.SIGNING):
            return
        self.status, event = service.advance(status, stage)
        self.context.card_events.publish(self.recipient_id, self.status)
        await off_loop(service.store_progress, self.context, self.session_id, event)

    async def _on_signature(self, message: protocol.Signature) -> None:
        try:
            cms_der = base64.b64decode(message.cms, validate=True)
        except (binascii.Error, ValueError):
            await self._refuse(ProtocolErrorCode.INVALID_MESSAGE, "invalid signature: check cms")
        try:
            verdict = await off_loop(
                service.judge_signature, self.context, self.session_id, message.digest, cms_der,
                self.who,
            )  # fmt: skip
        except ClaimRefused as exc:  # v2: a signature before the certificate
            await self._refuse(exc.code, exc.message)
        await self._send(_result(verdict))
        raise _Closing

    async def _on_certificate(self, message: protocol.Certificate) -> None:
        """v2: check the card's certificate and answer with the digest to sign (the card
        is held meanwhile: one quick check and one streaming hash, off the loop)."""
        try:
            certificate_der = base64.b64decode(message.certificate, validate=True)
        except (binascii.Error, ValueError):
            await self._refuse(
                ProtocolErrorCode.INVALID_MESSAGE, "invalid certificate: check certificate"
            )
        try:
            answer = await off_loop(
                service.announce_certificate,
                self.context,
                self.session_id,
                certificate_der,
                self.who,
            )
        except ClaimRefused as exc:
            await self._refuse(exc.code, exc.message)
        if isinstance(answer, Verdict):
            await self._send(_result(answer))
            raise _Closing
        await self._send(_sign_digest(answer))

    # --- what others did to the session -------------------------------------------------

    async def _on_status(self, status: CardSessionStatus) -> None:
        if status.session_id != self.session_id:
            if status.state is CardSessionState.CREATED:  # a newer QR code replaced this one
                found = await off_loop(service.snapshot, self.context, self.session_id)
                await self._send_ending(found)
            return
        state = status.state
        if self.status is None or state != self.status.state:  # judged, ended: no quick path
            self.status = status
        if state in (CardSessionState.EXPIRED, CardSessionState.CANCELLED):
            await self._send_ending(await off_loop(service.snapshot, self.context, self.session_id))

    async def _send_state(self, found: Snapshot) -> None:
        """After a resume: what the session is waiting for, or how it ended."""
        if found.verdict is not None:
            await self._send(_result(found.verdict))
            raise _Closing
        await self._send_ending(found)
        await self._send(_sign_request(found))
        if found.protocol_version >= 2 and found.announced is not None:
            await self._send(_sign_digest(found.announced))

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
        """Send `message` in the connection's protocol version."""
        await self.websocket.send_text(message.in_version(self.version).to_json())

    async def _refuse(self, code: str, text: str) -> NoReturn:
        await self._send(protocol.Error(code=code, message=protocol.printable(text)))
        raise _Closing

    async def _close(self) -> None:
        if self.websocket.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self.websocket.close()


def _sign_request(found: Snapshot) -> protocol.SignRequest:
    """v1: with the digest of the revision as prepared; v2: without (`sign_digest` brings it)."""
    request = found.request
    v2 = found.protocol_version >= 2
    return protocol.SignRequest(
        version=2 if v2 else 1,
        document_title=protocol.printable(request.document_title, 500),
        sender=protocol.printable(request.sender, 200),
        expected_signer_name=protocol.printable(request.expected_signer_name, 200),
        digest=None if v2 else request.digest_hex,
        expires_at=request.expires_at,
    )


def _sign_digest(announced: service.Announced) -> protocol.SignDigest:
    return protocol.SignDigest(
        certificate_sha256=announced.certificate_sha256, digest=announced.digest_hex
    )


def _result(verdict: Verdict) -> protocol.Result:
    if verdict.accepted:
        return protocol.Result(outcome="accepted")
    message = verdict.message_en or verdict.reason or "rejected"
    return protocol.Result(
        outcome="rejected", reason=verdict.reason, message=protocol.printable(message)
    )
