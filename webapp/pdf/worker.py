"""Running pyHanko steps off the web server's event loop, leaving no half-written output."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, BinaryIO

from webapp.offload import in_private_loop, on_private_loop


def check_empty(output: BinaryIO) -> None:
    """Refuse an output stream that already holds something."""
    if output.seek(0, 2) != 0:
        raise ValueError("the output stream must be empty")


async def guarded(output: BinaryIO, step: Coroutine[Any, Any, None]) -> None:
    """Run `step`; if it fails, leave `output` empty again."""
    try:
        await step
    except BaseException:
        output.seek(0)
        output.truncate()
        raise


async def in_worker(step: Coroutine[Any, Any, None]) -> None:
    """Run `step` to the end off the server's event loop.

    Called on a worker thread's private loop (`webapp.offload.run_pdf_step`, how the
    service runs PDF steps), it runs in place; anywhere else, on a fresh event loop in a
    worker thread. Cancelling the awaiting task does not stop that thread: keep the step's
    streams open until the call has returned.
    """
    if on_private_loop():
        await step
        return
    await asyncio.to_thread(in_private_loop, step)
