"""Browser-test fixtures: the service on a loopback port, and Debian's Chromium.

uvicorn serves the app in a thread; Playwright drives /usr/bin/chromium and never
downloads a browser.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, ViewportSize, expect, sync_playwright
from sqlalchemy import select

from webapp.app import create_app
from webapp.db.models import OutgoingMail
from webapp.services.context import ServiceContext
from webapp.settings import load_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=900)
EXPECT_TIMEOUT_MS = 30_000
"""Sending and completing wait for the seals and the TSA: give them time on a slow machine."""
_LINK = re.compile(r"https?://[^\s]+/r/[A-Za-z0-9_-]{40,}")


class StartupServer(uvicorn.Server):
    """A uvicorn server that says when it has started (or given up starting)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.startup_done = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.startup_done.set()


@dataclass
class LiveService:
    """The running service: its address and its context (for reading the outbox)."""

    url: str
    app: FastAPI

    @property
    def context(self) -> ServiceContext:
        context: ServiceContext = self.app.state.context
        return context

    def mailed_link(self, address: str) -> str:
        """The newest link mailed to `address`, read from the OutgoingMail table."""
        with self.context.sessions() as db:
            mails = db.scalars(
                select(OutgoingMail)
                .where(OutgoingMail.to == address)
                .order_by(OutgoingMail.created_at)
            ).all()
        assert mails, f"no mail to {address}"
        found = _LINK.findall(mails[-1].body_text)
        assert found, mails[-1].body_text
        assert found[-1].startswith(self.url), found[-1]
        return str(found[-1])


@contextmanager
def serving(data_dir: Path, **overrides: Any) -> Iterator[LiveService]:
    """The service (development settings and `overrides`) on a loopback port meanwhile."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = load_settings(
        environment="development", data_dir=data_dir, base_url=url, **overrides
    )
    app = create_app(settings)
    server = StartupServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        assert server.startup_done.wait(120), "the service did not start"
        assert server.started, "the service failed to start"
        yield LiveService(url, app)
    finally:
        server.should_exit = True
        thread.join(60)
        listener.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveService]:
    with serving(tmp_path / "var") as service:
        yield service


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One browser for a test module. Not for the whole session: Playwright's sync API keeps
    an event loop running in this thread while it is open, and later tests call asyncio.run.
    """
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is missing: run scripts/install-debian-packages")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
