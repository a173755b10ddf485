"""The one seam to a card: send a command APDU, get a response; ATR; close.

Everything above this module talks to a `CardConnection`; only the adapters below it know
whether the card sits on a PC/SC reader or is simulated in-process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from card.apdu import CommandApdu, ResponseApdu, redacted_hex, sw_name
from card.errors import CardRemovedError

APDU_LOG_LEVEL = 5
"""APDU traffic is logged at this level, below DEBUG, so DEBUG logs stay readable."""
logging.addLevelName(APDU_LOG_LEVEL, "APDU")

apdu_logger = logging.getLogger("card.apdu")
MAX_GET_RESPONSES = 64


@runtime_checkable
class CardConnection(Protocol):
    """A connection to one card."""

    @property
    def atr(self) -> bytes: ...

    def transmit(self, command: CommandApdu) -> ResponseApdu: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class ConnectionBase:
    """Shared behaviour of the adapters: logging, counting, context management."""

    def __init__(self) -> None:
        self.apdus_sent = 0
        self.bytes_sent = 0
        self.bytes_received = 0

    @property
    def atr(self) -> bytes:
        raise NotImplementedError

    def _transmit_raw(self, raw: bytes) -> bytes:
        raise NotImplementedError

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        """Send one command and collect its whole answer (`61xx`: GET RESPONSE, as T=0 needs)."""
        response = self._exchange(command)
        data = response.data
        for _ in range(MAX_GET_RESPONSES):
            if response.sw & 0xFF00 != 0x6100:
                break
            response = self._exchange(
                CommandApdu(0x00, 0xC0, 0x00, 0x00, le=response.sw & 0xFF or 256)
            )
            data += response.data
        return ResponseApdu(data, response.sw)

    def _exchange(self, command: CommandApdu) -> ResponseApdu:
        """One command and its answer, logged at APDU level with VERIFY data redacted."""
        raw = command.to_bytes()
        if apdu_logger.isEnabledFor(APDU_LOG_LEVEL):
            apdu_logger.log(APDU_LOG_LEVEL, "> %s", redacted_hex(command))
        answer = self._transmit_raw(raw)
        response = ResponseApdu.from_bytes(answer)
        self.apdus_sent += 1
        self.bytes_sent += len(raw)
        self.bytes_received += len(answer)
        if apdu_logger.isEnabledFor(APDU_LOG_LEVEL):
            apdu_logger.log(
                APDU_LOG_LEVEL, "< %s %s", response.data.hex().upper(), sw_name(response.sw)
            )
        return response

    def close(self) -> None:
        """Release the card; a closed connection may be closed again."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


RawTransmit = Callable[[bytes], bytes]


class CallableConnection(ConnectionBase):
    """A connection over any callable that takes and returns raw APDU bytes.

    The simulated card plugs in here (`CallableConnection(card.process_apdu, card.atr)`)
    without this package importing the simulator. A callable that raises `OSError` or
    `ConnectionError` is treated as a card that went away.
    """

    def __init__(
        self,
        transmit_raw: RawTransmit,
        atr: bytes = b"",
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._transmit = transmit_raw
        self._atr = atr
        self._on_close = on_close
        self._closed = False

    @property
    def atr(self) -> bytes:
        return self._atr

    def _transmit_raw(self, raw: bytes) -> bytes:
        if self._closed:
            raise CardRemovedError("the connection to the card is closed")
        try:
            return self._transmit(raw)
        except (OSError, ConnectionError) as exc:
            raise CardRemovedError("the card stopped responding") from exc

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._on_close is not None:
                self._on_close()
