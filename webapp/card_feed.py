"""The status feed a watching page (or an API client) follows: server-sent events.

The first event is the party's current card status from the database, so a page that
reconnects (after a dropped connection or a server restart: `EventSource` does it by
itself) is right at once; then every change as it happens, and a comment line every
`HEARTBEAT_SECONDS` so proxies keep the connection open. The feed ends after the party is
done; each `data:` line is one JSON object (`card_sessions.status_of`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.responses import StreamingResponse

from webapp.offload import off_loop
from webapp.services.context import ServiceContext

HEARTBEAT_SECONDS = 15.0
RECONNECT_MILLISECONDS = 2000
Status = dict[str, Any]


def event_frame(status: Status) -> str:
    return f"data: {json.dumps(status, ensure_ascii=False, separators=(',', ':'))}\n\n"


async def status_events(
    context: ServiceContext, recipient_id: str, current: Callable[[], Status | None]
) -> AsyncIterator[str]:
    """SSE text: `current()` now, then each published status, until the party is done."""
    with context.card_events.watch(recipient_id) as watch:
        yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
        status = await off_loop(current)  # the database: never on the event loop
        if status is not None:
            yield event_frame(status)
            if _final(status):
                return
        while True:
            status = await watch.next(timeout=HEARTBEAT_SECONDS)
            if status is None:
                yield ": keepalive\n\n"
                continue
            yield event_frame(status)
            if _final(status):
                return


def _final(status: Status) -> bool:
    return bool(status.get("done")) or status.get("recipient_status") in ("agreed", "rejected")


def event_stream(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
