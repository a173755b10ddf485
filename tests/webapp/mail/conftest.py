"""Fixtures: real SMTP servers (plain, STARTTLS with login, implicit TLS) and a closed port."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.webapp.mail.smtp_server import Collector, LoopbackController, ServerCertificate

RunningServer = tuple[LoopbackController, Collector]


@pytest.fixture(scope="session")
def server_certificate(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificate:
    return ServerCertificate.make(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def start_server() -> Iterator[Callable[..., RunningServer]]:
    """Starts aiosmtpd servers with the given SMTP parameters; stops them after the test."""
    running: list[LoopbackController] = []

    def start(**smtp_parameters: Any) -> RunningServer:
        collector = Collector()
        if smtp_parameters.pop("with_auth", False):
            smtp_parameters["authenticator"] = collector.authenticate
        controller = LoopbackController(collector, **smtp_parameters)
        controller.start()
        running.append(controller)
        return controller, collector

    yield start
    for controller in running:
        controller.stop()


@pytest.fixture
def plain_server(start_server: Callable[..., RunningServer]) -> RunningServer:
    return start_server()


@pytest.fixture
def starttls_server(
    start_server: Callable[..., RunningServer], server_certificate: ServerCertificate
) -> RunningServer:
    """STARTTLS required, then login required (PLAIN and LOGIN offered)."""
    return start_server(
        tls_context=server_certificate.server_context(),
        require_starttls=True,
        with_auth=True,
        auth_required=True,
    )


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@pytest.fixture
def ca_file(server_certificate: ServerCertificate) -> Path:
    return server_certificate.cert_file
