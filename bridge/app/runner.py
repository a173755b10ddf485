"""The app's link between the bridge core and its screens: a `UserInteraction` that asks on the UI.

The core asks from its card worker thread (and says "sending" from its event loop); the
app's screens live on the toolkit's thread. `AppInteraction` posts every call to the UI
through `post` and, where the core needs an answer, parks the worker on a `Reply` until
the person answers or the run ends. `SessionRunner` runs one `BridgeSession` on an
asyncio loop of its own, in a thread, so the session never depends on the toolkit's loop.
The password passes through one `Reply` and is dropped from it as soon as it is taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from bridge.cards import CardProvider
from bridge.core import BridgeSession, SessionOptions, Signed
from bridge.errors import BridgeError, NotSignedError
from bridge.interaction import Problem
from bridge.protocol import SignRequest, Stage

T = TypeVar("T")
Post = Callable[[Callable[[], None]], None]
"""Run a callable on the UI thread (soon, in order)."""
Outcome = Signed | BaseException


class Reply(Generic[T]):
    """One answer from the person to the worker thread that waits for it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._value: T | None = None
        self._cancelled = False

    @property
    def answered(self) -> bool:
        return self._event.is_set()

    def give(self, value: T) -> None:
        """Answer (only the first answer counts)."""
        if not self._event.is_set():
            self._value = value
            self._event.set()

    def cancel(self) -> None:
        """The person gave up, or the run ended: the waiting worker stops."""
        if not self._event.is_set():
            self._cancelled = True
            self._event.set()

    def wait(self) -> T:
        """The answer, taken out of the reply; `NotSignedError` if cancelled."""
        self._event.wait()
        value, self._value = self._value, None
        if self._cancelled or value is None:
            raise NotSignedError("user_cancelled", reason="user_cancelled")
        return value

    def __repr__(self) -> str:
        return f"Reply(answered={self.answered}, cancelled={self._cancelled})"


class Screens(Protocol):
    """What the app's window does for the core; every method runs on the UI thread."""

    def show_request(self, request: SignRequest, reply: Reply[bool]) -> None: ...

    def ask_password(self, tries_left: int | None, reply: Reply[str]) -> None: ...

    def confirm_last_try(self, tries_left: int | None, reply: Reply[bool]) -> None: ...

    def ask_for_card(self) -> None: ...

    def show_progress(self, stage: Stage) -> None: ...

    def show_problem(self, problem: Problem) -> None: ...


class AppInteraction:
    """The core's `UserInteraction`, answered by the app's screens."""

    def __init__(self, screens: Screens, post: Post) -> None:
        self.screens = screens
        self.post = post
        self._pending: set[Reply[bool] | Reply[str]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def _ask(self, reply: Reply[T], show: Callable[[], None]) -> T:
        with self._lock:
            if self._closed:
                raise NotSignedError("aborted", reason="aborted")
            self._pending.add(reply)  # type: ignore[arg-type]
        self.post(show)
        try:
            return reply.wait()
        finally:
            with self._lock:
                self._pending.discard(reply)

    def show_request(self, request: SignRequest) -> None:
        reply: Reply[bool] = Reply()
        if not self._ask(reply, lambda: self.screens.show_request(request, reply)):
            raise NotSignedError("user_cancelled", reason="user_cancelled")

    def ask_password(self, tries_left: int | None) -> str:
        reply: Reply[str] = Reply()
        return self._ask(reply, lambda: self.screens.ask_password(tries_left, reply))

    def confirm_last_try(self, tries_left: int | None) -> bool:
        reply: Reply[bool] = Reply()
        return self._ask(reply, lambda: self.screens.confirm_last_try(tries_left, reply))

    def ask_for_card(self) -> None:
        self.post(self.screens.ask_for_card)

    def show_progress(self, stage: Stage) -> None:
        self.post(lambda: self.screens.show_progress(stage))

    def show_error(self, problem: Problem) -> None:
        self.post(lambda: self.screens.show_problem(problem))

    def close(self) -> None:
        """End every wait: the run is over (or being cancelled)."""
        with self._lock:
            self._closed = True
            pending = list(self._pending)
        for reply in pending:
            reply.cancel()


class SessionRunner:
    """One `BridgeSession` on its own loop and thread; `on_end` gets its outcome on the UI."""

    def __init__(
        self,
        url: str,
        provider: CardProvider,
        interaction: AppInteraction,
        options: SessionOptions,
        on_end: Callable[[Outcome], None],
    ) -> None:
        self.interaction = interaction
        self.provider = provider
        self.session = BridgeSession(url, provider, interaction, options)
        self._on_end = on_end
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Signed] | None = None
        self._started = threading.Event()
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mynasign-app-session", daemon=True)

    @property
    def reconnects(self) -> int:
        return self.session.reconnects

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        outcome: Outcome
        try:
            self._task = loop.create_task(self.session.run())
            self._started.set()
            outcome = loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            outcome = NotSignedError("user_cancelled", reason="user_cancelled")
        except BridgeError as exc:
            outcome = exc
        except Exception as exc:  # shown to the person, never swallowed silently
            outcome = exc
        finally:
            self._started.set()
            self.interaction.close()
            loop.close()
        self.finished.set()
        self.interaction.post(lambda: self._end(outcome))

    def _end(self, outcome: Outcome) -> None:
        """On the UI thread: release the way to the card (NFC reader mode), then report."""
        close = getattr(self.provider, "close", None)
        if callable(close):
            close()
        self._on_end(outcome)

    def cancel(self) -> None:
        """Stop the run (the server is told `cancelled`); `on_end` follows."""
        self._started.wait(5)
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed: the run is over anyway
                loop.call_soon_threadsafe(task.cancel)
        self.interaction.close()
