"""The companion app on a real Toga backend (Qt, offscreen): every screen's picture, or one signing.

`python scripts/companion_screenshots.py shots [--out docs/companion]` starts a development
service in this process, sends documents to a party who must sign with the card, and
walks the app through every screen at phone size (390x844, Android's order) and desktop
size (960x720), saving `phone-<screen>.png` and `desktop-<screen>.png` (`make screenshots`).

`python scripts/companion_screenshots.py sign URL --reader NAME --out DIR` signs once with
the card on a PC/SC reader (or `--sim STATE`: a simulated card in this process), the
password read from standard input, saving a picture of each screen; exit 0 when the
server accepted the signature. The tests run it under pcscd + vpcd with the simulated card.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TOGA_BACKEND", "toga_qt")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "hardware-sim")]

from bridge.app.platforms import ANDROID, DESKTOP, Platform  # noqa: E402
from bridge.app.ui import CompanionApp  # noqa: E402
from bridge.cards import CardHandle, CardProvider, PcscCardProvider, SimulatorCardProvider  # noqa: E402
from card.errors import NoCardError  # noqa: E402

PHONE = (390, 844)
DESKTOP_SIZE = (960, 720)
STEP = 60.0
PASSWORD = "TEST1234"  # noqa: S105 - the simulated card's password (`jpki-sim card new`)
SETTLE = 0.4
"""Seconds for the toolkit to lay out and paint a new screen before it is captured."""


class GatedProvider:
    """The simulated card, presented only when the script says (so the card screen shows)."""

    def __init__(self, state: Path) -> None:
        self.inner = SimulatorCardProvider(state)
        self.gate = threading.Event()

    def wait_for_card(self, timeout: float) -> None:
        if not self.gate.wait(timeout):
            raise NoCardError("not yet")
        self.inner.wait_for_card(timeout)

    def open(self) -> CardHandle:
        return self.inner.open()


class Shooter:
    """Captures the app's window, one PNG per screen."""

    def __init__(self, app: CompanionApp, out: Path, prefix: str) -> None:
        self.app, self.out, self.prefix = app, out, prefix
        out.mkdir(parents=True, exist_ok=True)
        self.saved: list[Path] = []

    async def shot(self, name: str) -> None:
        await asyncio.sleep(SETTLE)
        path = self.out / f"{self.prefix}{name}.png"
        self.app.window.as_image().save(path)
        self.saved.append(path)

    async def at(self, *screens: str) -> str:
        return await self.app.wait_for_screen(*screens, timeout=STEP)

    def widget(self, widget_id: str) -> Any:
        return self.app.window.widgets[widget_id]


def run_app(app: CompanionApp, script: Callable[[CompanionApp], Awaitable[int]]) -> int:
    """Run `script` on the app's own loop, then leave the main loop; its exit code."""
    result: list[int] = []

    async def drive() -> None:
        try:
            result.append(await script(app))
        except BaseException as exc:  # reported, then the app closes
            print(f"the screen script failed: {exc!r}", file=sys.stderr)
            result.append(1)
        finally:
            app.stop()
            app.request_exit()  # type: ignore[no-untyped-call]

    app.loop.call_soon(lambda: app.loop.create_task(drive()))
    app.main_loop()
    return result[0] if result else 1


# --- sign once on a reader ------------------------------------------------------------


def sign(url: str, reader: str | None, sim: Path | None, out: Path, password: str) -> int:
    def provider(_reader: str | None) -> CardProvider:
        if sim is not None:
            return SimulatorCardProvider(sim)
        return PcscCardProvider(reader)

    app = CompanionApp(url=url, platform=DESKTOP, provider_factory=provider, size=DESKTOP_SIZE)

    async def script(app: CompanionApp) -> int:
        shooter = Shooter(app, out, "")
        await shooter.shot("start")
        app.begin()
        if await shooter.at("request", "error") == "error":
            await shooter.shot("error")
            return 1
        await shooter.shot("request")
        shooter.widget("continue")._impl.native.click()
        if await shooter.at("password", "error") == "error":
            await shooter.shot("error")
            return 1
        shooter.widget("password").value = password
        await shooter.shot("password")
        shooter.widget("password-submit")._impl.native.click()
        shown = await shooter.at("done", "error")
        await shooter.shot(shown)
        print(f"screen: {shown}")
        return 0 if shown == "done" else 1

    return run_app(app, script)


# --- every screen, against a development service --------------------------------------


class DevService:
    """`mynasign dev` in this process on a loopback port, with parties to sign."""

    def __init__(self, data_dir: Path) -> None:
        import uvicorn  # noqa: PLC0415 - the server extra, only for screenshots

        from tests.webapp.pages.live import StartupServer  # noqa: PLC0415
        from webapp.app import create_app  # noqa: PLC0415
        from webapp.settings import load_settings  # noqa: PLC0415

        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        settings = load_settings(
            environment="development", data_dir=data_dir, base_url=self.url,
            rate_limits_enabled=False,
        )  # fmt: skip
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, log_level="warning")
        self.server = StartupServer(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [listener]}, daemon=True
        )
        self.thread.start()
        if not self.server.startup_done.wait(120) or not self.server.started:
            raise SystemExit("the development service did not start")
        self.data_dir = data_dir
        self.parties = 0

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)

    def card(self, path: Path, **knobs: Any) -> Path:
        from jpkisim.pki import CardIdentity, TestPki  # noqa: PLC0415
        from jpkisim.state import CardState  # noqa: PLC0415

        issued = TestPki.load(self.data_dir / "pki").issue_card(CardIdentity(name="丙 三郎"))
        CardState.from_issued(issued, signing_password=PASSWORD, auth_pin="1234", **knobs).save(
            path
        )
        return path

    def bridge_url(self) -> str:
        """A new document for the party, opened, with a card session: its QR URL."""
        import httpx2  # noqa: PLC0415

        from tests.webapp.conftest import make_pdf  # noqa: PLC0415
        from webapp.db.models import OutgoingMail  # noqa: PLC0415
        from webapp.services.accounts import create_api_token, sign_up  # noqa: PLC0415

        context = self.app.state.context
        if self.parties == 0:
            with context.sessions() as db:
                user = sign_up(
                    db, "sender@example.jp", "kiri-sakura-7-tsuki", "株式会社みらい 総務部"
                )
                self.api_token = create_api_token(db, user, "screenshots").token
                db.commit()
        self.parties += 1
        email = f"saburo-{self.parties}@example.jp"
        with httpx2.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.api_token}"}, timeout=120
        ) as api:
            document_id = api.post(
                "/api/v1/documents", data={"title": "業務委託契約書（2026年度）"},
                files={"file": ("contract.pdf", make_pdf(), "application/pdf")},
            ).json()["id"]  # fmt: skip
            api.post(
                f"/api/v1/documents/{document_id}/recipients",
                json={"name": "丙 三郎", "email": email, "require_mynumber_card": True},
            ).raise_for_status()
            api.post(f"/api/v1/documents/{document_id}/send").raise_for_status()
        from sqlalchemy import select  # noqa: PLC0415

        with context.sessions() as db:
            body = db.scalars(select(OutgoingMail).where(OutgoingMail.to == email)).one().body_text
        link = next(word for word in body.split() if "/r/" in word)
        token = link.rsplit("/", 1)[1]
        with httpx2.Client(base_url=self.url, timeout=120) as client:
            opened = client.post(f"/api/v1/r/{token}/open", json={"accept_terms": True}).json()
            started = client.post(
                f"/api/v1/r/{token}/card-session",
                headers={"Authorization": f"Bearer {opened['session_token']}"},
            )
            started.raise_for_status()
        return str(started.json()["bridge_url"])


async def walk(  # noqa: PLR0915 - one screen after the other, as a person goes
    app: CompanionApp, service: DevService, cards: Path, out: Path, prefix: str
) -> int:
    """Every screen once: start, request, card, password (typing, wrong), working, done,
    last try, error."""
    shooter = Shooter(app, out, prefix)
    phone = app.platform.phone
    await shooter.shot("start")
    if phone:
        app.t = type(app.t)("en")
        app.show_start()
        await shooter.shot("start-en")
        app.t = type(app.t)("ja")
        app.show_start()

    first = GatedProvider(service.card(cards / f"{prefix}a.json", sign_latency_ms=1500))
    app.provider_factory = lambda _reader: first
    app.window.widgets["url"].value = service.bridge_url()
    app.begin()
    await shooter.at("request")
    await shooter.shot("request")
    app.window.widgets["continue"]._impl.native.click()
    if phone:  # Android: the card first
        await shooter.at("card")
        await shooter.shot("card")
        first.gate.set()
    await shooter.at("password")
    await shooter.shot("password")
    app.window.widgets["password"].value = "TES"
    await shooter.shot("password-typing")
    app.window.widgets["password"].value = "WRONG999"
    app.window.widgets["password-submit"]._impl.native.click()
    if not phone:
        await shooter.at("card")
        await shooter.shot("card")
        first.gate.set()
    await shooter.at("password")
    await shooter.shot("password-wrong")
    app.window.widgets["password"].value = PASSWORD
    app.window.widgets["password-submit"]._impl.native.click()
    await shooter.at("working")
    await shooter.shot("working")
    await shooter.at("done")
    await shooter.shot("done")

    last = GatedProvider(service.card(cards / f"{prefix}b.json", signing_tries_left=1))
    last.gate.set()
    app.provider_factory = lambda _reader: last
    app.show_start()
    app.window.widgets["url"].value = service.bridge_url()
    if not phone:
        order = app.window.widgets["order"]
        order.value = order.items[1]  # card first: the last try is asked about at once
    app.begin()
    await shooter.at("request")
    app.window.widgets["continue"]._impl.native.click()
    await shooter.at("last_try")
    await shooter.shot("last-try")
    app.window.widgets["last-try-stop"]._impl.native.click()
    await shooter.at("error")
    await shooter.shot("error")
    for path in shooter.saved:
        print(path)
    return 0


def shots(out: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="mynasign-shots-") as scratch:
        service = DevService(Path(scratch) / "var")
        try:
            code = 0
            sizes: Sequence[tuple[str, Platform, tuple[int, int]]] = (
                ("phone-", ANDROID, PHONE),
                ("desktop-", DESKTOP, DESKTOP_SIZE),
            )
            for prefix, platform, size in sizes:
                app = CompanionApp(platform=platform, size=size, insecure=False)

                def script(app: CompanionApp, prefix: str = prefix) -> Awaitable[int]:
                    return walk(app, service, Path(scratch), out, prefix)

                code |= run_app(app, script)
            return code
        finally:
            service.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    every = commands.add_parser("shots", help="every screen at phone and desktop size")
    every.add_argument("--out", type=Path, default=REPO / "docs" / "companion")
    once = commands.add_parser("sign", help="sign once with a PC/SC reader")
    once.add_argument("url")
    card = once.add_mutually_exclusive_group(required=True)
    card.add_argument("--reader", help="the PC/SC reader's name")
    card.add_argument("--sim", type=Path, help="a jpki-sim card state, in this process")
    once.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "shots":
        return shots(args.out)
    password = sys.stdin.readline().rstrip("\r\n")
    return sign(args.url, args.reader, args.sim, args.out, password)


if __name__ == "__main__":
    sys.exit(main())
