"""Client for vsmartcard's vpcd reader driver: plugs a SimulatedCard into pcscd over TCP.

vpcd runs inside pcscd and listens (default 127.0.0.1:35963); the virtual card connects.
Every message, both ways, is a 2-byte big-endian length and a payload. A 1-byte payload
from vpcd is a control code (00 power off, 01 power on, 02 reset: no answer; 04: answer
with the ATR); a longer one is a command APDU, answered with the response APDU.

A connected socket is a card in the reader: closing it removes the card. So when the
simulated card is removed (CardRemovedFault, or ``card.remove()`` while idle) the link
closes the socket, waits for ``card.reinsert()``, and connects again.
"""

from __future__ import annotations

import enum
import logging
import socket
import threading

from jpkisim.apdu import redact_for_log
from jpkisim.card import CardNotPoweredError, CardRemovedFault, SimulatedCard

VPCD_DEFAULT_HOST = "127.0.0.1"
VPCD_DEFAULT_PORT = 35963
CTRL_POWER_OFF = 0x00
CTRL_POWER_ON = 0x01
CTRL_RESET = 0x02
CTRL_GET_ATR = 0x04
SW_EXECUTION_ERROR = bytes.fromhex("6F00")

log = logging.getLogger(__name__)


class LinkEnd(enum.Enum):
    """Why ``VpcdLink.run`` returned."""

    STOPPED = enum.auto()  # the stop event was set
    PEER_CLOSED = enum.auto()  # vpcd (pcscd) closed the connection


class _CardGoneError(Exception):
    """Internal: the card was removed, close the socket."""


def frame(payload: bytes) -> bytes:
    """One vpcd message: 2-byte big-endian length, then the payload."""
    if len(payload) > 0xFFFF:
        raise ValueError(f"vpcd message of {len(payload)} bytes is too long")
    return len(payload).to_bytes(2, "big") + payload


def _quick_ack(sock: socket.socket) -> None:
    """Acknowledge at once: vpcd writes a length and a body in two sends, and with Nagle on
    its side and delayed ACKs on ours every APDU would wait some 40 ms for the body."""
    quick_ack = getattr(socket, "TCP_QUICKACK", None)
    if quick_ack is not None:
        sock.setsockopt(socket.IPPROTO_TCP, quick_ack, 1)


class VpcdLink:
    """Serves one SimulatedCard to vpcd: connects, answers, reconnects after reinsertion."""

    def __init__(
        self,
        card: SimulatedCard,
        host: str = VPCD_DEFAULT_HOST,
        port: int = VPCD_DEFAULT_PORT,
        *,
        retry_interval: float = 0.2,
        poll_interval: float = 0.05,
    ) -> None:
        self.card = card
        self.host = host
        self.port = port
        self.retry_interval = retry_interval
        self.poll_interval = poll_interval
        self.connected = threading.Event()
        self.connections = 0
        self._stop = threading.Event()

    def run(self, stop_event: threading.Event) -> LinkEnd:
        """Connect (retrying) and serve until ``stop_event`` is set or vpcd closes.

        On stop the socket is closed, which vpcd sees as the card leaving the reader.
        """
        while True:
            if self.card.removed and not self._wait_reinserted(stop_event):
                return LinkEnd.STOPPED
            insertion = self.card.insertions
            sock = self._connect(stop_event)
            if sock is None:
                return LinkEnd.STOPPED
            try:
                end = self._serve(sock, stop_event, insertion)
            except _CardGoneError:
                log.info("card removed: closing the vpcd connection")
                continue
            finally:
                self.connected.clear()
                sock.close()
            return end

    def serve_forever(self) -> None:
        """Run, reconnecting whenever vpcd goes away, until ``stop()``."""
        while self.run(self._stop) is LinkEnd.PEER_CLOSED:
            log.info("vpcd closed the connection; reconnecting")
            if self._stop.wait(self.retry_interval):
                return

    def stop(self) -> None:
        """Make ``serve_forever`` return (closing the connection)."""
        self._stop.set()

    def _wait_reinserted(self, stop_event: threading.Event) -> bool:
        while not stop_event.is_set():
            if self.card.inserted.wait(self.poll_interval):
                return True
        return False

    def _connect(self, stop_event: threading.Event) -> socket.socket | None:
        while not stop_event.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2.0)
            except OSError as exc:
                log.debug("vpcd at %s:%d not reachable: %s", self.host, self.port, exc)
                if stop_event.wait(self.retry_interval):
                    return None
                continue
            sock.settimeout(self.poll_interval)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connections += 1
            self.connected.set()
            log.info("connected to vpcd at %s:%d", self.host, self.port)
            return sock
        return None

    def _serve(self, sock: socket.socket, stop_event: threading.Event, insertion: int) -> LinkEnd:
        buffer = bytearray()
        while True:
            if stop_event.is_set():
                return LinkEnd.STOPPED
            if self.card.removed or self.card.insertions != insertion:
                raise _CardGoneError
            try:
                _quick_ack(sock)
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return LinkEnd.PEER_CLOSED
            if not chunk:
                return LinkEnd.PEER_CLOSED
            buffer += chunk
            while len(buffer) >= 2:
                length = int.from_bytes(buffer[:2], "big")
                if len(buffer) < 2 + length:
                    break
                message = bytes(buffer[2 : 2 + length])
                del buffer[: 2 + length]
                answer = self._answer(message)
                if answer is None:
                    continue
                try:
                    sock.sendall(frame(answer))
                except OSError:
                    return LinkEnd.PEER_CLOSED

    def _answer(self, message: bytes) -> bytes | None:
        """The reply to one vpcd message (None: no reply); raises _CardGoneError."""
        if self.card.removed:
            raise _CardGoneError
        try:
            if len(message) == 1:
                return self._control(message[0])
            if not message:
                return None
            return self._transmit(message)
        except CardRemovedFault as exc:
            raise _CardGoneError from exc

    def _control(self, code: int) -> bytes | None:
        if code == CTRL_POWER_OFF:
            self.card.power_off()
        elif code == CTRL_POWER_ON:
            self.card.power_on()
        elif code == CTRL_RESET:
            self.card.reset()
        elif code == CTRL_GET_ATR:
            return self.card.atr
        else:
            log.warning("unknown vpcd control code %02X ignored", code)
        return None

    def _transmit(self, command: bytes) -> bytes:
        try:
            try:
                response = self.card.process_apdu(command)
            except CardNotPoweredError:
                log.warning("APDU for an unpowered card: powering it on")
                self.card.power_on()
                response = self.card.process_apdu(command)
            frame(response)  # check it fits before answering
        except CardRemovedFault:
            raise
        except Exception:  # a simulator bug must not kill the reader: answer like a card
            log.exception("simulated card failed on %s", redact_for_log(command))
            return SW_EXECUTION_ERROR
        return response
