"""Keeping the event loop free: blocking work goes to worker threads, PDF work to few of them.

The service follows one rule: nothing that waits on the database, the disk, encryption or
a PDF runs on the event loop. Routes that do such work are plain `def` (FastAPI runs them
in its thread pool); the few `async def` handlers (the bridge's websocket, status feeds,
background rounds) hand it over with `off_loop`. Both share anyio's default thread pool,
sized at start (`size_thread_pool`).

PDF steps (pyHanko: parsing, hashing, signing, waiting for the TSA) run in the calling
worker thread on an event loop of that thread's own (`run_pdf_step`), at most
`pdf_concurrency` at once: on a two-core machine more would only share the same cores and
the interpreter lock, and would slow the event loop's thread (which needs the lock too)
for everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread

P = ParamSpec("P")
T = TypeVar("T")

_pdf_slots = threading.BoundedSemaphore(4)
_private_loop = threading.local()


async def off_loop(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)` in a worker thread; the loop goes on meanwhile."""
    return await anyio.to_thread.run_sync(functools.partial(function, *args, **kwargs))


def size_thread_pool(threads: int) -> None:
    """How many blocking calls may run at once (FastAPI's `def` routes and `off_loop`)."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = threads


def set_pdf_concurrency(slots: int) -> None:
    """How many PDF steps may run at once in this process."""
    global _pdf_slots  # noqa: PLW0603 - one process-wide setting, made at start
    _pdf_slots = threading.BoundedSemaphore(slots)


@contextlib.contextmanager
def pdf_slot() -> Iterator[None]:
    """Wait for one of the process's PDF slots (in a worker thread, never on the loop)."""
    with _pdf_slots:
        yield


def run_pdf_step(step: Coroutine[Any, Any, T]) -> T:
    """Run a PDF coroutine to the end in this worker thread, on a private event loop.

    Calls of `webapp.pdf.worker.in_worker` inside it run in place rather than hopping to
    yet another thread.
    """
    with pdf_slot():
        return in_private_loop(step)


def in_private_loop(step: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a private event loop in this (worker) thread."""
    _private_loop.active = True
    try:
        return asyncio.run(step)
    finally:
        _private_loop.active = False


def on_private_loop() -> bool:
    """Whether this thread runs a private loop of `in_private_loop` (not the server's)."""
    return bool(getattr(_private_loop, "active", False))
