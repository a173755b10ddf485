"""Start the app on the platform it runs on, with the right way to the card.

Desktop: PC/SC readers (or a `jpki-sim` card for tests and screenshots); Android: NFC
through `IsoDep`; iPhone: Core NFC. Each phone provider is imported only on its phone.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from bridge.app.platforms import ANDROID, IOS, SIMULATED, Platform, current_platform
from bridge.app.ui import CompanionApp, ProviderFactory, default_provider
from bridge.cards import CardProvider, SimulatorCardProvider
from bridge.core import SessionOptions

PREFERRED_BACKENDS = ("toga_qt", "toga_gtk", "toga_winforms", "toga_cocoa")


def provider_factory(platform: Platform, app_box: list[CompanionApp]) -> ProviderFactory:
    """The card provider maker for `platform` (the phone ones need the running app)."""
    if platform is ANDROID:
        from bridge.providers.android import AndroidNfcProvider  # noqa: PLC0415

        return lambda _reader: AndroidNfcProvider(app_box[0]._impl.native)
    if platform is IOS:
        from bridge.providers.ios import CoreNfcProvider  # noqa: PLC0415

        return lambda _reader: CoreNfcProvider(
            alert_message=app_box[0].t(platform.card_key), lang=app_box[0].t.lang
        )
    return default_provider


def sim_factory(state: Path) -> ProviderFactory:
    def make(_reader: str | None) -> CardProvider:
        return SimulatorCardProvider(state, represent_after_removal=True)

    return make


def build_app(
    url: str | None = None,
    *,
    lang: str = "ja",
    sim: Path | None = None,
    insecure: bool = False,
    allow_last_try: bool = False,
) -> CompanionApp:
    """The app, ready for `main_loop()`."""
    _choose_backend()
    platform = SIMULATED if sim is not None else current_platform()
    box: list[CompanionApp] = []
    factory = sim_factory(sim) if sim is not None else provider_factory(platform, box)
    launch_url = None
    if platform is ANDROID:
        from bridge.app.phone_links import android_launch_url  # noqa: PLC0415

        launch_url = lambda app: android_launch_url(app._impl.native)  # noqa: E731
    app = CompanionApp(
        url=url, lang=lang, platform=platform, provider_factory=factory, insecure=insecure,
        options=SessionOptions(allow_last_try=allow_last_try), launch_url=launch_url,
    )  # fmt: skip
    box.append(app)
    return app


def _choose_backend() -> None:
    """With several Toga backends installed (a developer's environment: Qt and the tests'
    dummy), take the real one, as a person's install has only that."""
    if "TOGA_BACKEND" in os.environ:
        return
    from toga.platform import find_backends  # noqa: PLC0415

    names = [backend.value for backend in find_backends()]  # type: ignore[no-untyped-call]
    real = [name for name in names if name != "toga_dummy"]
    if len(names) > 1 and real:
        preferred = next((name for name in PREFERRED_BACKENDS if name in real), real[0])
        os.environ["TOGA_BACKEND"] = preferred


def main(argv: Sequence[str] = ()) -> int:
    """Run the app (the first argument, if any, is the URL it was opened with)."""
    url = next((arg for arg in argv if not arg.startswith("-")), None)
    app = build_app(url)
    if app.platform is IOS:
        from bridge.app.phone_links import install_ios  # noqa: PLC0415

        install_ios(app.open_url)
    app.main_loop()
    return 0
