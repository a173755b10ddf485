"""The session's one mailbox: server messages, the card worker's events and its end, in order.

The card flow runs in a daemon thread and posts here thread-safely; a receiver task posts
every server message. The session waits on this one queue with a deadline, so nothing
blocks the event loop and nothing is waited for without a timeout.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bridge import protocol
from bridge.channel import Channel
from bridge.errors import NetworkError
from bridge.protocol import ProtocolError

log = logging.getLogger(__name__)
TERMINAL_MODELS = (protocol.Result, protocol.Expired, protocol.Cancelled, protocol.Error)

Kind = Literal["server", "flow", "certificate", "done", "timeout"]


@dataclass(frozen=True)
class Event:
    """One thing the session can be woken by; `item` depends on `kind`.

    server: a server message; flow: a Progress or CardError from the card flow;
    certificate: the card's certificate (DER) the flow needs a digest for (protocol v2);
    done: the card flow's result or exception; timeout: the deadline passed (item None).
    """

    kind: Kind
    item: object = None


class Mailbox:
    """A queue fed by the event loop and by one worker thread."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Event | Exception] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self) -> None:
        """Attach to the running event loop (call from it before anything posts)."""
        self._loop = asyncio.get_running_loop()

    async def next(self, deadline: float) -> Event:
        """The next event, or a timeout event at `deadline` (monotonic); receive errors raise."""
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                event = await self._queue.get()
        except TimeoutError:
            return Event("timeout")
        if isinstance(event, Exception):
            raise event
        return event

    def post_from_thread(self, event: Event) -> None:
        """Post from the worker thread; dropped if the session (and its loop) ended."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._queue.put_nowait, event)
        except RuntimeError:
            log.debug("the session ended before the card flow did")

    async def receive_from(self, channel: Channel) -> None:
        """Post every server message until a terminal one (or a failure, posted to raise)."""
        while True:
            try:
                message = await channel.receive()
            except (ProtocolError, NetworkError) as exc:
                self._queue.put_nowait(exc)
                return
            self._queue.put_nowait(Event("server", message))
            if isinstance(message, TERMINAL_MODELS):
                return  # the server closes now; that is no drop to resume from

    def start_worker(self, work: Callable[[], object]) -> None:
        """Run `work` in a daemon thread; its result or exception arrives as a `done` event.

        Not `asyncio.to_thread`: its threads are joined at exit, so a prompt still waiting
        on the terminal after the session ended (expired, cancelled) would hang the process.
        """

        def run() -> None:
            outcome: object
            try:
                outcome = work()
            except BaseException as exc:  # handed to the event loop
                outcome = exc
            self.post_from_thread(Event("done", outcome))

        threading.Thread(target=run, name="jpki-bridge-card", daemon=True).start()
