"""Fixtures for the abuse tests: the service on a loopback port with chosen settings."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.webapp.pages.live import LiveService, _Server
from webapp.app import create_app
from webapp.settings import load_settings

StartLive = Callable[..., LiveService]


@pytest.fixture
def start_live(tmp_path: Path) -> Iterator[StartLive]:
    """Start the service under uvicorn (in a thread) with settings overrides; stopped after."""
    servers: list[tuple[_Server, threading.Thread, socket.socket]] = []

    def start(**overrides: Any) -> LiveService:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        settings = load_settings(
            environment="development", data_dir=tmp_path / f"var-{port}", base_url=url,
            **overrides,
        )  # fmt: skip
        app = create_app(settings)
        server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        servers.append((server, thread, listener))
        assert server.startup_done.wait(120), "the service did not start"
        assert server.started, "the service failed to start"
        return LiveService(url, app)

    yield start
    for server, thread, listener in servers:
        server.should_exit = True
        thread.join(60)
        listener.close()
