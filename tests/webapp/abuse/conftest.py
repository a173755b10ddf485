"""Fixtures for the abuse tests: the service on a loopback port, a private Redis."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.webapp.pages.live import LiveService, StartupServer
from webapp.app import create_app
from webapp.settings import load_settings

StartLive = Callable[..., LiveService]


@pytest.fixture
def start_live(tmp_path: Path) -> Iterator[StartLive]:
    """Start the service under uvicorn (in a thread) with settings overrides; stopped after."""
    servers: list[tuple[StartupServer, threading.Thread, socket.socket]] = []

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
        server = StartupServer(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
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


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private `redis-server` on a free loopback port (Debian's redis-server package)."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail("redis-server is missing: run scripts/install-debian-packages")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    ready = threading.Event()
    log: list[str] = []

    def follow() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            log.append(line)
            if "Ready to accept connections" in line:
                ready.set()
        ready.set()

    threading.Thread(target=follow, daemon=True).start()
    try:
        assert ready.wait(30) and process.poll() is None, "".join(log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(30)
