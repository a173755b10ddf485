"""The status feed's response under a real uvicorn: it ends when the client leaves."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from tests.webapp.pages.live import StartupServer
from webapp.card_signing.feed import EventStreamResponse, event_stream

WAIT_SECONDS = 10.0


class _Feeds:
    """A feed that says one thing, then waits for ever; it records how it ended."""

    def __init__(self) -> None:
        self.ended = threading.Event()
        self.how: list[str] = []

    async def forever(self) -> AsyncIterator[str]:
        try:
            yield "data: first\n\n"
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.how.append("cancelled")
            raise
        finally:
            self.ended.set()

    async def short(self) -> AsyncIterator[str]:
        yield "data: only\n\n"

    def app(self) -> Starlette:
        async def forever(_: Request) -> EventStreamResponse:
            response = event_stream(self.forever())
            assert isinstance(response, EventStreamResponse)
            return response

        async def short(_: Request) -> EventStreamResponse:
            return EventStreamResponse(self.short(), media_type="text/event-stream")

        return Starlette(routes=[Route("/forever", forever), Route("/short", short)])


@contextmanager
def served(app: Starlette) -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])
    server = StartupServer(uvicorn.Config(app, log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        assert server.startup_done.wait(WAIT_SECONDS) and server.started
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=WAIT_SECONDS)
        listener.close()


def read_until(connection: socket.socket, marker: bytes) -> bytes:
    received = b""
    while marker not in received:
        chunk = connection.recv(4096)
        if not chunk:
            break
        received += chunk
    return received


def test_a_feed_ends_when_its_client_leaves() -> None:
    feeds = _Feeds()
    with served(feeds.app()) as port:
        connection = socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS)
        connection.sendall(b"GET /forever HTTP/1.1\r\nHost: test\r\n\r\n")
        assert b"data: first" in read_until(connection, b"data: first")
        assert not feeds.ended.is_set()
        connection.close()
        assert feeds.ended.wait(WAIT_SECONDS), "the feed outlived its client"
        assert feeds.how == ["cancelled"]


def test_a_feed_that_ends_by_itself_completes_the_response() -> None:
    feeds = _Feeds()
    with served(feeds.app()) as port:
        connection = socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS)
        connection.sendall(b"GET /short HTTP/1.1\r\nHost: test\r\n\r\n")
        received = read_until(connection, b"0\r\n\r\n")  # the last chunk of the body
        connection.close()
    assert b"text/event-stream" in received and b"data: only" in received
    assert received.endswith(b"0\r\n\r\n")
