"""A loopback server for the bridge tests: the server side of protocol v1 and v2, scripted.

It speaks the lower of the bridge's `protocol_version` and `Script.version`; in v2 it
answers the bridge's `certificate` with `sign_digest` (the script's digest) and checks
that the CMS was made with the announced certificate.

It checks a signature as the real server will (exact signed attributes, message digest
and signature through `verify_signed_data`, chain to the test root, validity and
nonRepudiation), records every frame in both directions, and can misbehave on cue:
drop the connection, expire, cancel, reject, or open with raw frames.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from bridge import protocol
from bridge.protocol import ProtocolError, Stage
from card.cms import CmsCheckError, verify_signed_data


@dataclass
class Script:
    """What the server does in one session."""

    digest: bytes = field(default_factory=lambda: hashlib.sha256(secrets.token_bytes(16)).digest())
    expires_in: float = 600.0
    reject: tuple[str, str] | None = None
    expire_on_stage: Stage | None = None
    cancel_on_stage: Stage | None = None
    drop_on: str | None = None
    """Drop the connection (no close frame) at the first such frame; `progress:<stage>` too."""
    lose_verdict: bool = False
    """Judge the first signature but drop the connection instead of sending the result."""
    opening_frames: list[str] | None = None
    """Raw frames to send instead of claim and sign_request."""
    hold_request: asyncio.Event | None = None
    version: int = 2
    """The highest protocol version the server speaks."""
    refuse_certificate: tuple[str, str] | None = None
    """v2: answer the certificate with this rejection (reason, message) instead of a digest."""
    certificate_answer: str | None = None
    """v2: a raw frame to send instead of `sign_digest`."""
    silent_on_certificate: bool = False
    """v2: never answer the certificate (the bridge must give up in time)."""


def check_cms(cms_der: bytes, digest: bytes, root_der: bytes) -> str | None:
    """None if the CMS is acceptable, else the reason code the server would give."""
    try:
        verified = verify_signed_data(cms_der, digest)
    except CmsCheckError as exc:
        return exc.code
    certificate = x509.load_der_x509_certificate(verified.signer_certificate)
    try:
        certificate.verify_directly_issued_by(x509.load_der_x509_certificate(root_der))
    except (ValueError, TypeError, InvalidSignature):
        return "untrusted_certificate"
    now = datetime.datetime.now(datetime.UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        return "certificate_expired"
    key_usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    if not key_usage.content_commitment:
        return "key_usage"
    return None


class LoopbackServer:
    """`async with LoopbackServer(root_der, script) as server:` and give the bridge `server.url`."""

    def __init__(self, root_der: bytes, script: Script | None = None) -> None:
        self.root_der = root_der
        self.script = script or Script()
        self.token = secrets.token_urlsafe(24)
        self.claim_key = secrets.token_urlsafe(24)
        self.frames: list[tuple[str, str]] = []
        self.received: list[protocol.Message] = []
        self.resumed_with: list[str] = []
        self.connections = 0
        self.claimed = asyncio.Event()
        self.finished = asyncio.Event()
        self.verdict: protocol.Result | None = None
        self.accepted_cms: bytes | None = None
        self.version = 1
        """The version agreed at the claim."""
        self.announced: bytes | None = None
        """v2: the certificate (DER) the bridge announced."""
        self._dropped: set[str] = set()
        self._server: Server | None = None
        self._held: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/b/{self.token}"

    async def __aenter__(self) -> LoopbackServer:
        self._server = await serve(self._handle, "127.0.0.1", 0, compression=None)
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        if self._held is not None:
            self._held.cancel()
        self._server.close()
        await self._server.wait_closed()

    def of_type(self, kind: type[Any]) -> list[Any]:
        """Received messages of one model class, in order."""
        return [message for message in self.received if isinstance(message, kind)]

    def stages(self) -> list[Stage]:
        return [message.stage for message in self.of_type(protocol.Progress)]

    async def _send(self, ws: ServerConnection, frame: str) -> None:
        self.frames.append(("server", frame))
        await ws.send(frame)

    async def _say(self, ws: ServerConnection, message: protocol.Message) -> None:
        await self._send(ws, message.in_version(self.version).to_json())

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        if ws.request is None or ws.request.path != f"/ws/bridge/{self.token}":
            await ws.close(4404, "unknown session")
            return
        try:
            async for frame in ws:
                assert isinstance(frame, str), "the bridge sends text frames only"
                self.frames.append(("bridge", frame))
                try:
                    message = protocol.parse_message(frame)
                except ProtocolError as exc:
                    await self._send(
                        ws, protocol.Error(code=exc.code, message=exc.message).to_json()
                    )
                    await ws.close()
                    return
                self.received.append(message)
                if self._should_drop(message):
                    ws.transport.abort()
                    return
                if not await self._answer(ws, message):
                    await ws.close()
                    return
        except ConnectionClosed:
            return

    def _should_drop(self, message: protocol.Message) -> bool:
        key: str = message.type
        if isinstance(message, protocol.Progress):
            key = f"progress:{message.stage.value}"
        if self.script.drop_on == key and key not in self._dropped:
            self._dropped.add(key)
            return True
        return False

    async def _answer(self, ws: ServerConnection, message: protocol.Message) -> bool:
        """Answer one message; False to close the connection."""
        if isinstance(message, protocol.Hello):
            if self.claimed.is_set():
                error = protocol.Error(code="already_claimed", message="claimed already")
                await self._send(ws, error.to_json())
                return False
            self.version = min(message.protocol_version, self.script.version)
            return await self._open(ws)
        if isinstance(message, protocol.ClaimResume):
            self.resumed_with.append(message.claim_key)
            if message.claim_key != self.claim_key:
                error = protocol.Error(code="invalid_claim_key", message="wrong claim key")
                await self._send(ws, error.to_json())
                return False
            await self._say(ws, self._claim())
            if self.verdict is not None:
                await self._say(ws, self.verdict)
            else:
                await self._say(ws, self._request())
                if self.announced is not None:
                    await self._say(ws, self._sign_digest(self.announced))
            return True
        if isinstance(message, protocol.Certificate):
            return await self._certificate(ws, message)
        if isinstance(message, protocol.Progress):
            return await self._progress(ws, message.stage)
        if isinstance(message, protocol.Signature):
            if self.script.lose_verdict and self.verdict is None:
                self._decide(message)
                ws.transport.abort()
                return True
            await self._judge(ws, message)
            return False
        if isinstance(message, protocol.Cancelled | protocol.Error):
            self.finished.set()
            return False
        return True

    async def _open(self, ws: ServerConnection) -> bool:
        if self.script.opening_frames is not None:
            for frame in self.script.opening_frames:
                await self._send(ws, frame)
            return True
        await self._say(ws, self._claim())
        self.claimed.set()
        if self.script.hold_request is None:
            await self._say(ws, self._request())
        else:  # keep reading the bridge's frames meanwhile
            self._held = asyncio.create_task(
                self._request_when_released(ws, self.script.hold_request)
            )
        return True

    async def _request_when_released(self, ws: ServerConnection, release: asyncio.Event) -> None:
        await release.wait()
        with contextlib.suppress(ConnectionClosed):
            await self._say(ws, self._request())

    async def _certificate(self, ws: ServerConnection, message: protocol.Certificate) -> bool:
        der = base64.b64decode(message.certificate, validate=True)
        if self.script.silent_on_certificate:
            return True
        if self.script.certificate_answer is not None:
            await self._send(ws, self.script.certificate_answer)
            return True
        if self.script.refuse_certificate is not None:
            reason, detail = self.script.refuse_certificate
            self.verdict = protocol.Result(outcome="rejected", reason=reason, message=detail)
            await self._say(ws, self.verdict)
            self.finished.set()
            return False
        self.announced = der
        await self._say(ws, self._sign_digest(der))
        return True

    def _sign_digest(self, der: bytes) -> protocol.SignDigest:
        return protocol.SignDigest(
            certificate_sha256=hashlib.sha256(der).hexdigest(), digest=self.script.digest.hex()
        )

    async def _progress(self, ws: ServerConnection, stage: Stage) -> bool:
        if stage == self.script.expire_on_stage:
            await self._say(ws, protocol.Expired(message="too late"))
            self.finished.set()
            return False
        if stage == self.script.cancel_on_stage:
            cancelled = protocol.Cancelled(reason="sender_cancelled", message="sender withdrew")
            await self._say(ws, cancelled)
            self.finished.set()
            return False
        return True

    async def _judge(self, ws: ServerConnection, signature: protocol.Signature) -> None:
        if self.verdict is None:
            self._decide(signature)
        assert self.verdict is not None
        await self._say(ws, self.verdict)
        self.finished.set()

    def _decide(self, signature: protocol.Signature) -> None:
        cms = base64.b64decode(signature.cms, validate=True)
        reason = check_cms(cms, self.script.digest, self.root_der)
        if signature.digest != self.script.digest.hex():
            reason = "digest_mismatch"
        elif self.version >= 2 and (
            self.announced is None
            or verify_signed_data(cms, self.script.digest).signer_certificate != self.announced
        ):
            reason = "certificate_mismatch"
        if reason is None and self.script.reject is not None:
            reason = self.script.reject[0]
        if reason is None:
            self.accepted_cms = cms
            self.verdict = protocol.Result(outcome="accepted")
        else:
            detail = self.script.reject[1] if self.script.reject else "the CMS was refused"
            self.verdict = protocol.Result(outcome="rejected", reason=reason, message=detail)

    def _expires_at(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC) + datetime.timedelta(
            seconds=self.script.expires_in
        )

    def _claim(self) -> protocol.Claim:
        return protocol.Claim(claim_key=self.claim_key, expires_at=self._expires_at())

    def _request(self) -> protocol.SignRequest:
        v2 = self.version >= 2
        return protocol.SignRequest(
            version=2 if v2 else 1,
            document_title="業務委託契約書 (test)",
            sender="株式会社テスト",
            expected_signer_name="テスト 太郎",
            digest=None if v2 else self.script.digest.hex(),
            expires_at=self._expires_at(),
        )
