"""Live status of card sessions for the pages and bridges watching them, in this process.

With PostgreSQL, `webapp.card_signing.hub_postgres.PostgresCardEventHub` joins the hubs of several
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
import math
import threading
import weakref
from collections.abc import Iterator

from webapp.card_signing.status import CardSessionStatus

Status = CardSessionStatus
"""What the hub carries: one frozen object per change, shared by every watcher."""


class Watch:
    """One watcher's view: the newest status published since it last looked.

    A wait is one future, and its timeout a slot in the loop's `_Heartbeat` rather than a
    timer of its own: with thousands of feeds open, every wait's objects live until the
    next change or heartbeat (up to 15 s), long enough for the garbage collector to move
    them to its older generations, which it then walks (measured in
    `benchmarks/card_sessions_load.py`; a coroutine, timeout and timer per wait before).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._latest: Status | None = None
        self._waiter: asyncio.Future[Status | None] | None = None

    def _offer(self, status: Status) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._waiter = None
            waiter.set_result(status)
        else:
            self._latest = status

    def next(self, timeout: float | None = None) -> asyncio.Future[Status | None]:
        """Await it: the next status, or None if none came within `timeout` seconds."""
        waiter: asyncio.Future[Status | None] = self._loop.create_future()
        if self._latest is not None:
            waiter.set_result(self._latest)
            self._latest = None
            return waiter
        self._waiter = waiter
        if timeout is not None:
            _Heartbeat.of(self._loop).add(waiter, timeout)
        return waiter


class _Heartbeat:
    """Ends the waits of one event loop whose time is up, with one timer a second.

    Waits are kept by the second they end in; a wait that a status ended first is skipped.
    Timeouts are kept to the second (rounded up), which is what a keep-alive needs.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: dict[int, list[asyncio.Future[Status | None]]] = {}
        self._ticking = False

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> _Heartbeat:
        found = _HEARTBEATS.get(loop)
        if found is None:
            found = _HEARTBEATS[loop] = cls(loop)
        return found

    def add(self, waiter: asyncio.Future[Status | None], timeout: float) -> None:
        second = math.ceil(self._loop.time() + timeout)
        self._due.setdefault(second, []).append(waiter)
        if not self._ticking:
            self._ticking = True
            self._loop.call_at(math.floor(self._loop.time()) + 1, self._tick)

    def _tick(self) -> None:
        now = self._loop.time()
        for second in [second for second in self._due if second <= now]:
            for waiter in self._due.pop(second):
                if not waiter.done():
                    waiter.set_result(None)
        if self._due:
            self._loop.call_at(math.floor(now) + 1, self._tick)
        else:
            self._ticking = False


_HEARTBEATS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Heartbeat] = (
    weakref.WeakKeyDictionary()
)


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
        """Nothing to start in one process (see `webapp.card_signing.hub_postgres` for several)."""

    async def stop(self) -> None:
        """Nothing to stop in one process."""

    def watcher_count(self) -> int:
        with self._lock:
            return sum(len(watches) for watches in self._watches.values())
