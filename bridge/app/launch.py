"""Start the app on the platform it runs on, with the right way to the card.

Desktop: PC/SC readers (or a `jpki-sim` card for tests and screenshots); Android: NFC
through `IsoDep`; iPhone: Core NFC. Each phone provider is imported only on its phone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bridge.app.platforms import ANDROID, IOS, SIMULATED, Platform, current_platform
from bridge.app.ui import CompanionApp, ProviderFactory, default_provider
from bridge.cards import CardProvider, SimulatorCardProvider
from bridge.core import SessionOptions


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
    platform = SIMULATED if sim is not None else current_platform()
    box: list[CompanionApp] = []
    factory = sim_factory(sim) if sim is not None else provider_factory(platform, box)
    app = CompanionApp(
        url=url, lang=lang, platform=platform, provider_factory=factory, insecure=insecure,
        options=SessionOptions(allow_last_try=allow_last_try),
    )  # fmt: skip
    box.append(app)
    return app


def main(argv: Sequence[str] = ()) -> int:
    """Run the app (the first argument, if any, is the URL it was opened with)."""
    url = next((arg for arg in argv if not arg.startswith("-")), None)
    build_app(url).main_loop()
    return 0
