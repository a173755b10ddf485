"""Processes for multi-instance tests and benchmarks: `mynasign dev` instances, nginx.

Each instance is a `mynasign dev` process of its own (so one can be killed), all on one
data directory (the development PKI, seal and secrets are shared, as operators share
them) and, for several instances, one PostgreSQL database. nginx runs
`docs/deploy/nginx-mynasign.conf`, the configuration the operator guide gives, with its
ports changed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx

from tests.webapp.mail.smtp_server import Collector

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]
NGINX_SITE = ROOT / "docs" / "deploy" / "nginx-mynasign.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `check` until it holds (a process coming up has no event to wait on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:g} s")


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


@dataclass
class Instance:
    """One `mynasign dev` process."""

    name: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    """Two instances, nginx in front, their database, data directory and mail server."""

    url: str
    database_url: str
    data_dir: Path
    instances: list[Instance]
    mail: Collector
    nginx_log: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def api_token(self) -> str:
        return (self.data_dir / "dev-api-token").read_text().strip()

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_token}"}

    def mails_to(self, address: str) -> list[str]:
        """The bodies (text) of every mail the SMTP server accepted for `address`."""
        found = []
        for received in list(self.mail.received):
            if address in received.rcpt_tos:
                message = received.parsed()
                body = message.get_body(("plain",))
                found.append(body.get_content() if body is not None else "")
        return found


def start_instance(
    instance: Instance, cluster_url: str, data_dir: Path, env: dict[str, str]
) -> None:
    handle = instance.log_path.open("wb")
    instance.process = subprocess.Popen(
        [str(BIN / "mynasign"), "dev", "--host", "127.0.0.1", "--port", str(instance.port),
         "--data-dir", str(data_dir), "--base-url", cluster_url],
        stdout=handle, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    handle.close()

    def up() -> bool:
        if instance.process is not None and instance.process.poll() is not None:
            raise AssertionError(f"{instance.name} exited: {instance.log()[-3000:]}")
        return answers(f"{instance.url}/login")

    wait_until(up, START_TIMEOUT, f"{instance.name} did not start")


def nginx_config(directory: Path, listen: int, upstream_ports: list[int]) -> Path:
    """The operator guide's nginx site, on these ports, inside a minimal nginx.conf."""
    site = NGINX_SITE.read_text()
    servers = "".join(
        f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;\n" for port in upstream_ports
    )
    site, count = re.subn(r"(?m)^    server 127\.0\.0\.1:\d+ [^\n]*\n(    server[^\n]*\n)*",
                          servers, site)  # fmt: skip
    assert count == 1, "the upstream block of the nginx site changed shape"
    site = site.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{listen};")
    temp = directory / "temp"
    temp.mkdir(mode=0o777)
    temp.chmod(0o777)  # nginx's workers may run as another user
    user = "user root;\n" if os.geteuid() == 0 else ""
    config = directory / "nginx.conf"
    config.write_text(
        f"{user}worker_processes 1;\nerror_log {directory / 'error.log'} info;\n"
        f"pid {directory / 'nginx.pid'};\nevents {{ worker_connections 1024; }}\n"
        f"http {{\n  access_log {directory / 'access.log'};\n"
        f"  client_body_temp_path {temp}/body;\n  proxy_temp_path {temp}/proxy;\n"
        f"  fastcgi_temp_path {temp}/fastcgi;\n  uwsgi_temp_path {temp}/uwsgi;\n"
        f"  scgi_temp_path {temp}/scgi;\n{site}\n}}\n"
    )
    return config


@contextmanager
def running_nginx(directory: Path, listen: int, upstream_ports: list[int]) -> Iterator[str]:
    """nginx on `listen` in front of the instances; its URL while the block runs."""
    if not Path(NGINX).exists():
        raise RuntimeError("nginx is missing: run scripts/install-debian-packages")
    directory.mkdir(parents=True, exist_ok=True)
    config = nginx_config(directory, listen, upstream_ports)
    process = subprocess.Popen(
        [NGINX, "-p", str(directory), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{listen}"
    try:
        wait_until(lambda: answers(f"{url}/login"), 30, "nginx did not start")
        yield url
    finally:
        process.terminate()
        process.wait(30)
