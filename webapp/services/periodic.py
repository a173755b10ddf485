"""Background rounds of the app's lifespan: one action, again and again, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Awaitable, Callable

from webapp.db.leases import leased
from webapp.offload import off_loop
from webapp.services.context import ServiceContext

log = logging.getLogger(__name__)
ROUND_LEASE = datetime.timedelta(minutes=2)
"""Longest a round may run before another instance may start the same round."""


class PeriodicTask:
    """Runs `action` every `interval` seconds; a failed round is logged, not fatal."""

    def __init__(self, name: str, action: Callable[[], Awaitable[object]], interval: float) -> None:
        self.name = name
        self._action = action
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while True:
            try:
                await self._action()
            except Exception:  # a database hiccup must not end the rounds
                log.exception("%s: a round failed", self.name)
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def run_once_across_instances(
    ctx: ServiceContext, name: str, job: Callable[[ServiceContext], object]
) -> bool:
    """Run the blocking `job` here unless another instance is running the same round now;
    whether it ran."""
    with leased(ctx.sessions, f"round:{name}", clock=ctx.now, length=ROUND_LEASE) as mine:
        if mine:
            job(ctx)
        return mine


def shared_round(
    ctx: ServiceContext, name: str, job: Callable[[ServiceContext], object], interval: float
) -> PeriodicTask:
    """A round of a blocking `job`, in a worker thread (never on the event loop), that one
    instance at a time runs however many run the service."""

    async def round_() -> None:
        await off_loop(run_once_across_instances, ctx, name, job)

    return PeriodicTask(name, round_, interval)
