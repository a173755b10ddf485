"""Card status across instances: PostgreSQL `LISTEN/NOTIFY` behind the in-process hub.

With several instances behind a load balancer, the bridge's websocket and the page's
status feed of one session may land on different instances. Every status published on
one instance is delivered to its own watchers at once (as with one instance) and sent as
a notification on the channel `mynasign_card_status`; each instance listens on one
connection of its own and hands what the others sent to its watchers. No other server is
needed: the database the service runs on carries it.

- Publishing never waits: statuses queue for a sender thread with its own connection
  (FastAPI's worker threads and the event loop both publish).
- A status too large for a notification (PostgreSQL allows 8,000 bytes) goes as a
  "refresh" naming the party; the receiving instance reads the status from the database.
- A lost listening connection is opened again; the watched parties' statuses are then
  read from the database, so nothing missed meanwhile stays unseen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import secrets
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql
from pydantic import ValidationError

from webapp.card_signing.hub import CardEventHub, Status
from webapp.offload import off_loop

log = logging.getLogger(__name__)
CHANNEL = "mynasign_card_status"
MAX_PAYLOAD = 7_900
RECONNECT_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
StatusReader = Callable[[str], Status | None]


class PostgresCardEventHub(CardEventHub):
    """The in-process hub, joined to the other instances' hubs through PostgreSQL."""

    def __init__(self, conninfo: str, read_status: StatusReader) -> None:
        super().__init__()
        self._conninfo = conninfo
        self._read_status = read_status
        self.origin = secrets.token_hex(8)
        self._outgoing: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._sender: threading.Thread | None = None
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    # --- life -------------------------------------------------------------------------

    async def start(self) -> None:
        """Begin sending and listening; returns once the first LISTEN is in place."""
        self._sender = threading.Thread(target=self._send_forever, name="card-status-notify")
        self._sender.daemon = True
        self._sender.start()
        self._listener = asyncio.get_running_loop().create_task(
            self._listen_forever(), name="card-status-listen"
        )
        await asyncio.wait_for(self._listening.wait(), timeout=30)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._sender is not None:
            self._outgoing.put(None)
            await off_loop(self._sender.join, 10)

    # --- publishing -------------------------------------------------------------------

    def publish(self, recipient_id: str, status: Status) -> None:
        """Tell this instance's watchers now and the other instances' shortly after."""
        super().publish(recipient_id, status)
        head = json.dumps({"origin": self.origin, "recipient": recipient_id}, ensure_ascii=False)
        payload = f'{head[:-1]}, "status": {status.json_text}}}'  # the feeds' JSON, made once
        if len(payload.encode()) > MAX_PAYLOAD:
            payload = json.dumps({"origin": self.origin, "recipient": recipient_id})
        self._outgoing.put(payload)

    def _send_forever(self) -> None:
        connection: psycopg.Connection[Any] | None = None
        while (payload := self._outgoing.get()) is not None:
            for delay in (0.0, *RECONNECT_SECONDS):
                try:
                    if connection is None or connection.closed:
                        connection = psycopg.connect(self._conninfo, autocommit=True)
                    connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
                    break
                except psycopg.Error:
                    log.warning("card status: notification not sent; trying again", exc_info=True)
                    connection = None
                    threading.Event().wait(delay)
        if connection is not None:
            connection.close()

    # --- listening --------------------------------------------------------------------

    async def _listen_forever(self) -> None:
        attempt = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as connection:
                    await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    if attempt:
                        await self._refresh_all()  # what was missed while disconnected
                    self._listening.set()
                    attempt = 0
                    async for notification in connection.notifies():
                        await self._receive(notification.payload)
            except (psycopg.Error, OSError):
                log.warning("card status: listening connection lost; reconnecting", exc_info=True)
            delay = RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)]
            attempt += 1
            await asyncio.sleep(delay)

    async def _receive(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            origin, recipient_id = message["origin"], message["recipient"]
        except (ValueError, KeyError, TypeError):
            log.warning("card status: a notification that is not ours was ignored")
            return
        if origin == self.origin or not self.is_watched(recipient_id):
            return
        status = None
        if message.get("status") is not None:
            try:
                status = Status.model_validate(message["status"])
            except ValidationError:  # another version's status (a rolling update): read it
                log.info("card status: a status of another shape; read from the database")
        if status is None:
            status = await off_loop(self._read_status, recipient_id)
        if status is not None:
            super().publish(recipient_id, status)

    async def _refresh_all(self) -> None:
        for recipient_id in self.watched():
            status = await off_loop(self._read_status, recipient_id)
            if status is not None:
                super().publish(recipient_id, status)
