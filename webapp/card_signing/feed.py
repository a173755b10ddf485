"""The status feed a watching page (or an API client) follows: server-sent events.

The first event is the party's current card status from the database, so a page that
reconnects (after a dropped connection or a server restart: `EventSource` does it by
itself) is right at once; then every change as it happens, and a comment line every
`HEARTBEAT_SECONDS` so proxies keep the connection open. The feed ends after the party is
done; each `data:` line is one `CardSessionStatus` as JSON, serialised once per change
(`json_text`), not once per feed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from webapp.card_signing.status import CardSessionStatus
from webapp.offload import off_loop
from webapp.services.context import ServiceContext

HEARTBEAT_SECONDS = 15.0
RECONNECT_MILLISECONDS = 2000
MEDIA_TYPE = "text/event-stream"
Status = CardSessionStatus


def event_frame(status: Status) -> str:
    return f"data: {status.json_text}\n\n"


async def status_events(
    context: ServiceContext, recipient_id: str, current: Callable[[], Status | None]
) -> AsyncIterator[str]:
    """SSE text: `current()` now, then each published status, until the party is done."""
    with context.card_events.watch(recipient_id) as watch:
        yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
        status = await off_loop(current)  # the database: never on the event loop
        if status is not None:
            yield event_frame(status)
            if status.ends_feed:
                return
        while True:
            status = await watch.next(timeout=HEARTBEAT_SECONDS)
            if status is None:
                yield ": keepalive\n\n"
                continue
            yield event_frame(status)
            if status.ends_feed:
                return


def event_stream(events: AsyncIterator[str]) -> StreamingResponse:
    return EventStreamResponse(
        events,
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


class EventStreamResponse(StreamingResponse):
    """A `StreamingResponse` for long-lived feeds: the stream runs in the request's task.

    Starlette's own, under uvicorn (ASGI 2.3), runs each response in an anyio task group
    (a task for the stream, the request's task waiting for the client to leave, cancel
    scopes): for thousands of open feeds that is thousands of objects more for the
    garbage collector to walk and about 5 KB a feed (`benchmarks/card_sessions_load.py`).
    Here one small task waits for the client to leave and cancels the stream when it
    does; a stream that ends by itself stops that task.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        stream = asyncio.current_task()
        assert stream is not None  # noqa: S101 - ASGI apps run in a task
        left = asyncio.ensure_future(_until_disconnect(receive))
        streaming = True

        def client_left(_: asyncio.Future[None]) -> None:
            if streaming:  # (a callback already scheduled when the stream ended: nothing)
                stream.cancel(msg=_CLIENT_LEFT)

        left.add_done_callback(client_left)
        try:
            await self.stream_response(send)
        except asyncio.CancelledError:
            if not left.done() or left.cancelled():
                raise  # not the client leaving: the server stops
            stream.uncancel()  # the client left: the feed ends normally
        finally:
            streaming = False
            left.remove_done_callback(client_left)
            left.cancel()


_CLIENT_LEFT = "the client closed the feed"


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
