"""Many people at once on one instance: nobody waits for another's upload, seal or card.

The service runs as `mynasign dev` in a process of its own (as in production: the clients'
work does not share its interpreter), with its event-loop watchdog on. Clients run the
whole flow side by side (upload, recipient, send, open, agree, completion with B-LTA)
while a probe asks for a small page; the test fails on any error, on a probe answer slower
than a second, and on any step of the service's event loop longer than 100 ms (the
watchdog's `event loop step took` line in the service's log: asyncio's own timing of each
callback, `MYNASIGN_LOOP_STEP_TIMING`).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.webapp.cluster.processes import Instance, free_port, start_instance, wait_until
from tests.webapp.conftest import LINK, make_pdf
from tests.webapp.db.conftest import postgres_databases  # noqa: F401 - a fixture
from tests.webapp.db.databases import PostgresDatabases
from tests.webapp.mail.smtp_server import Collector, LoopbackController
from webapp.loop_watchdog import STALL_MESSAGE, STEP_MESSAGE

CLIENTS = 6
PROBE_LIMIT_SECONDS = 1.0


class Running:
    def __init__(self, instance: Instance, data_dir: Path, mail: Collector) -> None:
        self.instance, self.data_dir, self.mail = instance, data_dir, mail
        self.url = instance.url

    @property
    def auth(self) -> dict[str, str]:
        token = (self.data_dir / "dev-api-token").read_text().strip()
        return {"Authorization": f"Bearer {token}"}

    def link_for(self, address: str) -> str:
        def mailed() -> list[str]:
            return [
                received.content.decode(errors="replace")
                for received in list(self.mail.received)
                if address in received.rcpt_tos
            ]

        wait_until(lambda: bool(mailed()), 60, f"a mail to {address}")
        return str(LINK.findall(mailed()[0].replace("=\r\n", ""))[-1])


@pytest.fixture(params=["sqlite", "postgresql"])
def running(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Running]:
    collector = Collector()
    smtp = LoopbackController(collector)
    smtp.start()
    env = {
        **os.environ, "MYNASIGN_SMTP_HOST": "127.0.0.1", "MYNASIGN_SMTP_PORT": str(smtp.port),
        "MYNASIGN_SMTP_SECURITY": "none", "MYNASIGN_LOOP_STEP_TIMING": "true",
        "PYTHONUNBUFFERED": "1",
    }  # fmt: skip
    if request.param == "postgresql":
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        env["MYNASIGN_DATABASE_URL"] = databases.create(migrated=True)
    instance = Instance("service", free_port(), tmp_path / "service.log")
    data_dir = tmp_path / "var"
    try:
        start_instance(instance, instance.url, data_dir, env)
        yield Running(instance, data_dir, collector)
    finally:
        instance.stop()
        smtp.stop()


def whole_flow(service: Running, n: int) -> list[int]:
    """One document from upload to completion; every status code seen."""
    codes: list[int] = []
    with httpx.Client(base_url=service.url, timeout=120) as client:

        def call(method: str, path: str, **kwargs: object) -> httpx.Response:
            answer = client.request(method, path, **kwargs)  # type: ignore[arg-type]
            codes.append(answer.status_code)
            return answer

        uploaded = call(
            "POST", "/api/v1/documents", headers=service.auth, data={"title": f"契約 {n}"},
            files={"file": ("c.pdf", make_pdf(3), "application/pdf")},
        )  # fmt: skip
        document_id = uploaded.json()["id"]
        party = f"party{n}@example.jp"
        call(
            "POST", f"/api/v1/documents/{document_id}/recipients", headers=service.auth,
            json={"name": f"相手 {n}", "email": party},
        )  # fmt: skip
        call("POST", f"/api/v1/documents/{document_id}/send", headers=service.auth)
        token = service.link_for(party)
        opened = call("POST", f"/api/v1/r/{token}/open", json={"accept_terms": True})
        session = opened.json()["session_token"]
        call("POST", f"/api/v1/r/{token}/agree", headers={"Authorization": f"Bearer {session}"})
        shown = call("GET", f"/api/v1/documents/{document_id}", headers=service.auth)
        assert shown.json()["status"] == "completed", shown.text
    return codes


def test_whole_flows_side_by_side_never_stall_the_loop(running: Running) -> None:
    probe_times: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=running.url, timeout=30) as client:
            while not stop.is_set():
                began = time.perf_counter()
                answer = client.get("/api/v1/documents?limit=1", headers=running.auth)
                probe_times.append(time.perf_counter() - began)
                assert answer.status_code == 200, answer.text
                stop.wait(0.05)

    # One flow first, alone: what runs once per process (connections opened, templates and
    # caches filled) is not what this test is about; the load after it is.
    whole_flow(running, CLIENTS)
    measured_from = len(running.instance.log().splitlines())
    with ThreadPoolExecutor(CLIENTS + 1) as pool:
        prober = pool.submit(probe)
        flows = [pool.submit(whole_flow, running, n) for n in range(CLIENTS)]
        codes = [code for flow in flows for code in flow.result(600)]
        stop.set()
        prober.result(60)
    assert all(code < 400 for code in codes), codes
    assert probe_times, "the probe never answered"
    assert max(probe_times) < PROBE_LIMIT_SECONDS, (
        f"probe max {max(probe_times):.3f} s, median {statistics.median(probe_times):.3f} s"
    )
    log = running.instance.log().splitlines()[measured_from:]
    steps = [line for line in log if STEP_MESSAGE.split("%")[0] in line]
    late = [line for line in log if STALL_MESSAGE.split("%")[0] in line]  # told, for context
    assert steps == [], f"loop steps over 100 ms: {steps}; the loop was late: {late}"
