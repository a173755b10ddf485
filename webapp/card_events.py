"""Live status of card sessions for the pages and bridges watching them, in this process.

With PostgreSQL, `webapp.card_events_pg.PostgresCardEventHub` joins the hubs of several
instances; this one serves a single instance (the SQLite default).

A watcher sees only the newest status of the party it watches (a page needs no history:
each status replaces the last), so a slow watcher never holds a queue. Publishing is safe
from any thread: FastAPI runs plain `def` endpoints in a thread pool.

Every status is also in the database (`CardSession`), so a watcher that connects late,
or again after a server restart, starts from there; this hub only makes it instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

Status = dict[str, Any]


class Watch:
    """One watcher's view: the newest status published since it last looked."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._changed = asyncio.Event()
        self._latest: Status | None = None

    def _offer(self, status: Status) -> None:
        self._latest = status
        self._changed.set()

    async def next(self, timeout: float | None = None) -> Status | None:
        """The next status, or None if none came within `timeout` seconds."""
        try:  # a deadline on this task, not a new task per wait (thousands of watchers)
            async with asyncio.timeout(timeout):
                await self._changed.wait()
        except TimeoutError:
            return None
        self._changed.clear()
        status, self._latest = self._latest, None
        return status


class CardEventHub:
    """Statuses by party (recipient id): the page follows the party's newest session."""

    def __init__(self) -> None:
        self._watches: dict[str, set[Watch]] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def watch(self, recipient_id: str) -> Iterator[Watch]:
        """Watch a party while the block runs (on the event loop that will wait)."""
        watch = Watch(asyncio.get_running_loop())
        with self._lock:
            self._watches.setdefault(recipient_id, set()).add(watch)
        try:
            yield watch
        finally:
            with self._lock:
                watches = self._watches.get(recipient_id)
                if watches is not None:
                    watches.discard(watch)
                    if not watches:
                        del self._watches[recipient_id]

    def publish(self, recipient_id: str, status: Status) -> None:
        """Tell every watcher of the party; callable from any thread."""
        with self._lock:
            watches = list(self._watches.get(recipient_id, ()))
        for watch in watches:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is watch._loop:
                watch._offer(status)
            else:
                with contextlib.suppress(RuntimeError):  # that loop has closed
                    watch._loop.call_soon_threadsafe(watch._offer, status)

    def is_watched(self, recipient_id: str) -> bool:
        with self._lock:
            return recipient_id in self._watches

    def watched(self) -> list[str]:
        """The parties someone watches in this process now."""
        with self._lock:
            return list(self._watches)

    async def start(self) -> None:
        """Nothing to start in one process (see `webapp.card_events_pg` for several)."""

    async def stop(self) -> None:
        """Nothing to stop in one process."""

    def watcher_count(self) -> int:
        with self._lock:
            return sum(len(watches) for watches in self._watches.values())
