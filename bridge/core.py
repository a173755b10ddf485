"""The bridge session: claim the QR session, sign its request with the card, deliver the CMS.

States: connecting → claiming → awaiting_request → signing → sending → awaiting_result
→ done. The card flow runs in a worker thread and talks to the event loop through one mailbox
(`bridge.mailbox`), which also receives the server's messages, so the loop stays free to
answer pings, notice `expired` or `cancelled`, and resume a dropped connection meanwhile.

The `hello` offers protocol v2 and the `claim` says which version the server chose. In
v2 the flow, having read the certificate after VERIFY, hands it to the loop
(`DigestExchange`), which sends `certificate` and gives the worker the digest from the
server's `sign_digest` (the card stays held: one round trip, bounded by
`Timeouts.digest`). A v1 server gets the v1 exchange: the digest comes with the request.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import importlib.metadata
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from bridge import protocol
from bridge.cards import CardProvider
from bridge.channel import Channel, Timeouts
from bridge.errors import BridgeError, NetworkError, NotSignedError
from bridge.flow import CardFlow, FlowOptions, SignedDigest
from bridge.interaction import UserInteraction
from bridge.mailbox import Event, Mailbox
from bridge.protocol import Order, ProtocolError, ProtocolErrorCode, Stage

CLIENT_NAME = "jpki-bridge"


def _client_version() -> str:
    try:
        return importlib.metadata.version("mynasign")
    except importlib.metadata.PackageNotFoundError:
        return "0"


CLIENT_VERSION = _client_version()
_SERVER_MODELS = (
    protocol.Claim,
    protocol.SignRequest,
    protocol.SignDigest,
    protocol.Result,
    protocol.Expired,
    protocol.Cancelled,
    protocol.Error,
)


class SessionState(StrEnum):
    """Where a session is."""

    CONNECTING = "connecting"
    CLAIMING = "claiming"
    AWAITING_REQUEST = "awaiting_request"
    SIGNING = "signing"
    SENDING = "sending"
    AWAITING_RESULT = "awaiting_result"
    DONE = "done"


@dataclass
class SessionTiming:
    """Monotonic timestamps of a session, for benchmarks (`time.monotonic()` seconds)."""

    request_received: float | None = None
    burst_started: float | None = None
    burst_finished: float | None = None
    signature_sent: float | None = None
    apdus_sent: int | None = None

    @property
    def request_to_signature(self) -> float | None:
        """Seconds from sign_request received to signature sent."""
        if self.request_received is None or self.signature_sent is None:
            return None
        return self.signature_sent - self.request_received


@dataclass(frozen=True)
class SessionOptions:
    """How a session behaves."""

    order: Order = Order.PASSWORD_FIRST
    allow_last_try: bool = False
    card_wait: float = 120.0
    timeouts: Timeouts = field(default_factory=Timeouts)


@dataclass(frozen=True)
class Signed:
    """An accepted signature."""

    request: protocol.SignRequest
    result: protocol.Result
    certificate: bytes
    timing: SessionTiming


class DigestExchange:
    """v2: the card worker's certificate goes to the event loop, the server's digest back.

    `__call__` runs in the card worker (a `flow.DigestSource`): it posts the certificate
    and waits, the card held, for `deliver` (the event loop, on `sign_digest`) or
    `cancel` (the session ended). The same certificate again (a burst redone after the
    card was lost) gets the digest already known, without asking the server.
    """

    def __init__(self, mailbox: Mailbox, timeout: float) -> None:
        self._mailbox = mailbox
        self._timeout = timeout
        self._lock = threading.Lock()
        self._known: dict[str, bytes] = {}
        self._waiting: str | None = None
        self._answered = threading.Event()
        self._cancelled = False

    def __call__(self, certificate: bytes) -> bytes:
        fingerprint = hashlib.sha256(certificate).hexdigest()
        with self._lock:
            if self._cancelled:
                raise NotSignedError("aborted", reason="aborted")
            if fingerprint in self._known:
                return self._known[fingerprint]
            self._waiting = fingerprint
            self._answered.clear()
        self._mailbox.post_from_thread(Event("certificate", certificate))
        if not self._answered.wait(self._timeout):
            raise NetworkError("network_timeout", reason="network", waiting_for="sign_digest")
        with self._lock:
            self._waiting = None
            if self._cancelled or fingerprint not in self._known:
                raise NotSignedError("aborted", reason="aborted")
            return self._known[fingerprint]

    @property
    def waiting_for(self) -> str | None:
        """The SHA-256 of the certificate whose digest the worker waits for."""
        return self._waiting

    def deliver(self, message: protocol.SignDigest) -> None:
        """The server's digest for an announced certificate (a repeat is harmless)."""
        with self._lock:
            self._known.setdefault(message.certificate_sha256, bytes.fromhex(message.digest))
            if message.certificate_sha256 == self._waiting:
                self._answered.set()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            self._answered.set()


class BridgeSession:
    """One run of `jpki-bridge sign`: returns `Signed` or raises a `BridgeError`."""

    def __init__(
        self,
        url: str,
        provider: CardProvider,
        ui: UserInteraction,
        options: SessionOptions | None = None,
        *,
        on_frame: Callable[[str, str], None] | None = None,
    ) -> None:
        self.provider = provider
        self.ui = ui
        self.options = options or SessionOptions()
        self.state = SessionState.CONNECTING
        self.timing = SessionTiming()
        self.claim_key: str | None = None
        self._channel = Channel(
            url,
            self.options.timeouts,
            user_agent=f"{CLIENT_NAME}/{CLIENT_VERSION}",
            on_frame=on_frame,
        )
        self._abort = threading.Event()
        self._mailbox = Mailbox()
        self._exchange = DigestExchange(self._mailbox, self.options.timeouts.digest)
        self.version = 1
        """The protocol version the server's claim chose."""

    @property
    def reconnects(self) -> int:
        """How many times the connection was resumed."""
        return self._channel.reconnects

    async def run(self) -> Signed:
        """Claim, sign, deliver; the server's acceptance or a `BridgeError`."""
        self._mailbox.bind()
        receiver: asyncio.Task[None] | None = None
        try:
            await self._channel.open()
            receiver = asyncio.create_task(self._mailbox.receive_from(self._channel))
            hello = protocol.Hello(
                client=CLIENT_NAME, client_version=CLIENT_VERSION, order=self.options.order,
                protocol_version=protocol.PROTOCOL_VERSION,
            )  # fmt: skip
            await self._channel.send(hello)
            self.state = SessionState.CLAIMING
            await self._claim()
            self.state = SessionState.AWAITING_REQUEST
            request = await self._request()
            signed = await self._sign(request)
            return await self._deliver(request, signed)
        except ProtocolError as exc:
            detail = protocol.printable(exc.message)
            await self._channel.send_once(protocol.Error(code=exc.code, message=detail))
            raise NetworkError(
                "protocol_error", reason="protocol_error", code=exc.code, detail=detail
            ) from None
        except asyncio.CancelledError:
            self._abort.set()
            message = protocol.Cancelled(reason="user_cancelled", message="cancelled by the user")
            await self._channel.send_once(message)
            raise
        finally:
            self._abort.set()
            self._exchange.cancel()
            self.state = SessionState.DONE
            if receiver is not None:
                receiver.cancel()
            await self._channel.close()

    # --- phases -----------------------------------------------------------------------

    async def _claim(self) -> None:
        deadline = time.monotonic() + self.options.timeouts.reply
        message = self._screen(await self._next_server(deadline, "claim"))
        if not isinstance(message, protocol.Claim):
            raise _unexpected(message, "claim")
        self.claim_key = self._channel.claim_key = message.claim_key
        self.version = self._channel.version = message.version  # 1 from a v1 server
        self._channel.deadline = _monotonic_deadline(message.expires_at)

    async def _request(self) -> protocol.SignRequest:
        deadline = time.monotonic() + self.options.timeouts.reply
        while True:
            message = self._screen(await self._next_server(deadline, "sign_request"))
            if isinstance(message, protocol.SignRequest):
                self.timing.request_received = time.monotonic()
                return message
            if not isinstance(message, protocol.Claim):
                raise _unexpected(message, "sign_request")

    async def _sign(self, request: protocol.SignRequest) -> SignedDigest:
        self.state = SessionState.SIGNING
        deadline = _monotonic_deadline(request.expires_at)
        if deadline <= time.monotonic():
            raise NotSignedError("expired", reason="expired")
        flow = CardFlow(
            self.provider,
            self.ui,
            FlowOptions(self.options.order, self.options.allow_last_try, self.options.card_wait),
            emit=lambda message: self._mailbox.post_from_thread(Event("flow", message)),
            abort=self._abort,
            deadline=deadline,
        )
        digest: bytes | DigestExchange = self._exchange
        if request.digest is not None:  # v1: the digest came with the request
            digest = bytes.fromhex(request.digest)

        def work() -> SignedDigest:
            self.ui.show_request(request)
            return flow.sign(digest)

        self._mailbox.start_worker(work)
        announced: tuple[bytes, int] | None = None
        """v2: the certificate sent, and the generation of the connection it went on."""
        while True:
            event = await self._mailbox.next(deadline)
            item = event.item
            if event.kind == "timeout":
                raise NotSignedError("expired", reason="expired")
            if event.kind == "flow" and isinstance(item, protocol.Progress | protocol.CardError):
                await self._channel.send(item)
            elif event.kind == "certificate" and isinstance(item, bytes):
                announced = (item, await self._channel.send(_certificate(item)))
            elif event.kind == "done":
                return await self._finish_flow(item)
            elif event.kind == "server" and isinstance(item, _SERVER_MODELS):
                message = self._screen(item)
                if isinstance(message, protocol.SignDigest) and self.version >= 2:
                    self._exchange.deliver(message)
                elif isinstance(message, protocol.Result) and message.outcome == "rejected":
                    # v2: the certificate was refused
                    raise _rejected(message)
                elif not _same_request(message, request):
                    raise _unexpected(item, "nothing while signing")
                elif (  # resumed before the certificate got through: send it again
                    announced is not None
                    and self._exchange.waiting_for is not None
                    and announced[1] != self._channel.generation
                ):
                    announced = (announced[0], await self._channel.send(_certificate(announced[0])))

    async def _finish_flow(self, outcome: object) -> SignedDigest:
        if isinstance(outcome, SignedDigest):
            self.timing.burst_started = outcome.burst_started
            self.timing.burst_finished = outcome.burst_finished
            self.timing.apdus_sent = outcome.apdus_sent
            return outcome
        if isinstance(outcome, BridgeError):
            message = protocol.printable(str(outcome))
            cancel = protocol.Cancelled(reason=outcome.reason, message=message)
            await self._channel.send_once(cancel)
            raise outcome
        cancel = protocol.Cancelled(reason="bridge_error", message="the bridge failed")
        await self._channel.send_once(cancel)
        if isinstance(outcome, BaseException):
            raise outcome
        raise RuntimeError(f"the card flow ended with {outcome!r}")

    async def _deliver(self, request: protocol.SignRequest, signed: SignedDigest) -> Signed:
        self.state = SessionState.SENDING
        self.ui.show_progress(Stage.SENDING)
        await self._channel.send(protocol.Progress(stage=Stage.SENDING))
        signature = protocol.Signature(
            digest=signed.digest.hex(), cms=base64.b64encode(signed.cms).decode("ascii")
        )
        sent_on = await self._channel.send(signature)
        self.timing.signature_sent = time.monotonic()
        self.state = SessionState.AWAITING_RESULT
        deadline = time.monotonic() + self.options.timeouts.result
        while True:
            message = self._screen(await self._next_server(deadline, "result"))
            if isinstance(message, protocol.Result):
                if message.outcome == "accepted":
                    return Signed(request, message, signed.certificate, self.timing)
                raise _rejected(message)
            if isinstance(message, protocol.Claim):
                continue  # a resumed connection repeats the claim
            if not _same_request(message, request):
                raise _unexpected(message, "result")
            if sent_on != self._channel.generation:  # sent on a connection that dropped
                sent_on = await self._channel.send(signature)

    # --- waiting ----------------------------------------------------------------------

    async def _next_server(self, deadline: float, waiting_for: str) -> protocol.Message:
        while True:
            event = await self._mailbox.next(deadline)
            if event.kind == "timeout":
                raise NetworkError("network_timeout", reason="network", waiting_for=waiting_for)
            if event.kind == "server" and isinstance(event.item, _SERVER_MODELS):
                return event.item

    def _screen(self, message: protocol.Message) -> protocol.Message:
        """Raise for the server's terminal messages; a resumed claim must keep its key."""
        if isinstance(message, protocol.Expired):
            raise NotSignedError("expired", reason="expired")
        if isinstance(message, protocol.Cancelled):
            raise NotSignedError(
                "cancelled_by_server", reason=message.reason, detail=message.message
            )
        if isinstance(message, protocol.Error):
            raise NetworkError(
                "server_error", reason="protocol_error", code=message.code, detail=message.message
            )
        if isinstance(message, protocol.Claim) and self.claim_key not in (None, message.claim_key):
            raise ProtocolError(ProtocolErrorCode.UNEXPECTED_MESSAGE, "the claim key changed")
        return message


def _monotonic_deadline(expires_at: datetime.datetime) -> float:
    remaining = (expires_at - datetime.datetime.now(datetime.UTC)).total_seconds()
    return time.monotonic() + remaining


def _same_request(message: protocol.Message, request: protocol.SignRequest) -> bool:
    """A resumed connection repeats the claim, the pending request and (v2) the digest of
    the announced certificate: all are ignored here."""
    if isinstance(message, protocol.Claim | protocol.SignDigest):
        return True
    return isinstance(message, protocol.SignRequest) and message.digest == request.digest


def _certificate(der: bytes) -> protocol.Certificate:
    return protocol.Certificate(certificate=base64.b64encode(der).decode("ascii"))


def _rejected(message: protocol.Result) -> NotSignedError:
    return NotSignedError(
        "rejected", reason=message.reason or "rejected", detail=message.message or ""
    )


def _unexpected(message: protocol.Message, expected: str) -> ProtocolError:
    return ProtocolError(
        ProtocolErrorCode.UNEXPECTED_MESSAGE, f"got {message.type}, expected {expected}"
    )
