"""Drive the companion app on Toga's dummy backend from a test, and a real service for it.

`AppHarness` keeps the app on a thread of its own (Playwright's sync API runs an event loop
in the test's thread) and offers what a person does: type, press, wait for a screen.
`CardParty` helpers start a card session of a party through the service's API, as the
phone app's QR code would carry it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

os.environ["TOGA_BACKEND"] = "toga_dummy"  # before any toga.App exists in this process

from bridge.app.platforms import Platform
from bridge.app.ui import CompanionApp

T = TypeVar("T")
STEP_TIMEOUT = 60.0
TEST_DESKTOP = Platform("desktop", None, "app_card_sim", has_readers=False)


class AppHarness:
    """One app on its own thread; every call runs there."""

    def __init__(self, **app_options: Any) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="toga-dummy")
        app_options.setdefault("platform", TEST_DESKTOP)
        self.app: CompanionApp = self._pool.submit(lambda: CompanionApp(**app_options)).result()
        self.screens: list[str] = []

    def call(self, action: Callable[[CompanionApp], T]) -> T:
        return self._pool.submit(action, self.app).result()

    def run(self, scenario: Callable[[CompanionApp], Awaitable[T]], timeout: float) -> T:
        """Run the app's loop until `scenario` ends."""

        def go(app: CompanionApp) -> T:
            return app.loop.run_until_complete(asyncio.wait_for(scenario(app), timeout))

        return self.call(go)

    def wait(self, *names: str, timeout: float = STEP_TIMEOUT) -> str:
        """Run the app until one of the screens `names` shows; which one."""
        shown = self.run(lambda app: app.wait_for_screen(*names, timeout=timeout), timeout + 5)
        self.screens.append(shown)
        return shown

    def settle(self, seconds: float = 0.2) -> None:
        """Let the app's loop handle what is queued (posted updates, the ticker)."""
        self.run(lambda _app: asyncio.sleep(seconds), seconds + 5)

    def widget(self, widget_id: str) -> Any:
        return self.call(lambda app: app.window.widgets[widget_id])

    def press(self, widget_id: str) -> None:
        self.call(lambda app: app.window.widgets[widget_id]._impl.simulate_press())

    def type(self, widget_id: str, text: str) -> None:
        def put(app: CompanionApp) -> None:
            app.window.widgets[widget_id].value = text

        self.call(put)

    def choose(self, widget_id: str, index: int) -> None:
        def pick(app: CompanionApp) -> None:
            selection = app.window.widgets[widget_id]
            selection.value = selection.items[index]

        self.call(pick)

    def text(self, widget_id: str) -> str:
        """A label's text as the person reads it (the wrapping line breaks taken out)."""
        return str(self.call(lambda app: app.window.widgets[widget_id].text)).replace("\n", "")

    def has(self, widget_id: str) -> bool:
        return self.call(lambda app: widget_id in app.window.widgets)

    def close(self) -> None:
        def stop(app: CompanionApp) -> None:
            app.stop()
            app.loop.run_until_complete(asyncio.sleep(0))
            app.loop.close()

        self.call(stop)
        self._pool.shutdown()
