"""Many people at once (issue 9): whole flows side by side against `mynasign dev` processes.

Each client runs the whole flow through the HTTP API, as a sender's integration and a
party would: upload (3-page PDF) -> add a recipient -> send -> the party's link from the
mail (a real SMTP server, aiosmtpd, in this process) -> open -> agree -> the last
agreement completes the document in the request (final seal, DSS, document timestamp:
B-LTA, the agreement certificate, the audit anchor) -> the document reads `completed`.

1. Levels of 1, 4, 16 and 64 clients (threads of this process, one HTTP client each), on
   SQLite and on PostgreSQL (a scratch database `mynasign_bench_<random>` on the local
   server, made empty; the service migrates it at start, as development mode does). One
   `mynasign dev` process per database (its own data directory), in a subprocess so its
   interpreter is its own. Printed per level: documents per minute (documents completed
   / wall time from the first upload to the last completion), errors (any answer >= 400,
   any exception, any document not `completed`), the p50/p99 of a probe request
   (`GET /api/v1/documents?limit=1`, every PROBE_INTERVAL meanwhile, from a thread of its
   own) and how many `event loop stalled` lines the service logged during the level.
2. One instance against two behind nginx (`docs/deploy/nginx-mynasign.conf`, round
   robin), on one PostgreSQL database and one data directory, CLUSTER_CLIENTS clients:
   both sides go through nginx, so the ratio is the second instance's gain alone.
3. The whole flow (1 client) against plain pyHanko doing the same signatures and
   timestamps on the same 3-page PDF with the same development seal and TSA (the
   instance's development PKI), turn about: sending seal, agreement seal, final seal with
   DSS and document timestamp (`use_pades_lta`), a sealed one-page certificate, one bare
   timestamp (the audit anchor); no document-ID stamp, no rendering, no database, no
   HTTP, no encryption. Its signer and TSA client carry our asn1crypto workaround
   (`webapp.pdf.frozen_asn1`, as the "plain + fix" baselines of `sealing.py` and
   `card_acceptance.py`): with pyHanko's own `SimpleSigner` and `HTTPTimeStamper` one seal
   takes 0.1 s or seconds at random, and one document took minutes here.

Flows per client are chosen to keep the run short: on the busy two-core machine a level
took 7 to 92 s, the whole benchmark 7.5 minutes (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import os
import secrets
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psycopg

from tests.webapp.cluster.processes import Instance, free_port, running_nginx, start_instance
from tests.webapp.conftest import LINK, make_pdf
from tests.webapp.db.databases import postgres_admin_url
from tests.webapp.mail.smtp_server import Collector, LoopbackController
from webapp.loop_watchdog import STALL_MESSAGE

LEVELS = [(1, 4), (4, 2), (16, 1), (64, 1)]
"""(clients, flows per client)."""
CLUSTER_CLIENTS, CLUSTER_FLOWS = 16, 2
BASELINE_ROUNDS = 4
PROBE_INTERVAL = 0.05
PROBE_TARGET_MS, PROBE_TARGET_CLIENTS = 100.0, 16
CLUSTER_TARGET = 1.6
PLAIN_TARGET = 1.0
MAIL_WAIT_SECONDS = 120.0
STALL = STALL_MESSAGE.split("%")[0]


# --- mail: the party's link ------------------------------------------------------------------


class Mailbox:
    """The SMTP server's mails indexed by recipient, for waiting on one address's link."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self._seen = 0
        self._links: dict[str, str] = {}
        self._lock = threading.Lock()

    def _index(self) -> None:
        with self._lock:
            batch = self.collector.received[self._seen :]
            self._seen += len(batch)  # the SMTP server's thread may append meanwhile
            for mail in batch:
                plain = mail.parsed().get_body(("plain",))
                links = LINK.findall(plain.get_content() if plain is not None else "")
                for address in mail.rcpt_tos:
                    if links and address not in self._links:
                        self._links[address] = links[-1]

    def link_for(self, address: str) -> str:
        deadline = time.monotonic() + MAIL_WAIT_SECONDS
        while time.monotonic() < deadline:
            self._index()
            if address in self._links:
                return self._links[address]
            time.sleep(0.02)  # the SMTP server's thread appends; polling a list is all there is
        raise TimeoutError(f"no mail to {address} within {MAIL_WAIT_SECONDS:g} s")


# --- one flow, one level ---------------------------------------------------------------------


@dataclass
class Target:
    """Where the clients go (an instance or nginx), its API token, the mails."""

    url: str
    auth: dict[str, str]
    mailbox: Mailbox
    logs: list[Instance]
    pdf: bytes = field(default_factory=lambda: make_pdf(3))


_addresses = itertools.count()


def whole_flow(
    target: Target, client: httpx.Client, steps: dict[str, list[float]] | None = None
) -> None:
    """One document from upload to `completed`; raises on any answer >= 400. With `steps`,
    each request's time (and the wait for the mail) is added to it under the step's name."""
    names = iter(("upload", "recipient", "send", "open", "agree (completes)", "status"))

    def call(method: str, path: str, **kwargs: object) -> httpx.Response:
        began = time.perf_counter()
        answer = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        if steps is not None:
            steps.setdefault(next(names), []).append(time.perf_counter() - began)
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} {path.split('/')[3]}: {answer.status_code} "
                               f"{answer.text[:200]}")  # fmt: skip
        return answer

    n = next(_addresses)
    party = f"party-{n}@example.jp"
    uploaded = call(
        "POST", "/api/v1/documents", headers=target.auth, data={"title": f"業務委託契約書 {n}"},
        files={"file": ("contract.pdf", target.pdf, "application/pdf")},
    )  # fmt: skip
    document = f"/api/v1/documents/{uploaded.json()['id']}"
    call("POST", f"{document}/recipients", headers=target.auth,
         json={"name": f"相手 {n}", "email": party})  # fmt: skip
    call("POST", f"{document}/send", headers=target.auth)
    began = time.perf_counter()
    token = target.mailbox.link_for(party)
    if steps is not None:
        steps.setdefault("mail arrives", []).append(time.perf_counter() - began)
    opened = call("POST", f"/api/v1/r/{token}/open", json={"accept_terms": True})
    session = {"Authorization": f"Bearer {opened.json()['session_token']}"}
    call("POST", f"/api/v1/r/{token}/agree", headers=session)
    status = call("GET", document, headers=target.auth).json()["status"]
    if status != "completed":
        raise RuntimeError(f"the document is {status} after the last agreement")


@dataclass
class Level:
    """What one level did."""

    clients: int
    documents: int
    seconds: float
    errors: list[str]
    probes: list[float]
    stalls: list[str]

    @property
    def per_minute(self) -> float:
        return self.documents * 60 / self.seconds

    def probe_ms(self) -> tuple[float, float]:
        """p50 and p99 of the probe, in ms."""
        ordered = sorted(self.probes)
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
        return statistics.median(ordered) * 1000, p99 * 1000


def _log_sizes(instances: list[Instance]) -> list[int]:
    return [instance.log_path.stat().st_size for instance in instances]


def _stalls_since(instances: list[Instance], sizes: list[int]) -> list[str]:
    found = []
    for instance, size in zip(instances, sizes, strict=True):
        with instance.log_path.open("rb") as log:
            log.seek(size)
            found += [
                line.strip() for line in log.read().decode(errors="replace").splitlines()
                if STALL in line
            ]  # fmt: skip
    return found


def run_level(target: Target, clients: int, flows: int) -> Level:
    """`clients` threads, `flows` whole flows each, while the probe asks every 50 ms."""
    probes: list[float] = []
    errors: list[str] = []
    done = 0
    stop, probing = threading.Event(), threading.Event()
    lock = threading.Lock()

    def probe() -> None:
        with httpx.Client(base_url=target.url, timeout=60) as client:
            while not stop.is_set():
                began = time.perf_counter()
                try:
                    answer = client.get("/api/v1/documents?limit=1", headers=target.auth)
                    failed = answer.status_code != 200
                except httpx.HTTPError as exc:
                    failed, answer = True, exc  # type: ignore[assignment]
                probes.append(time.perf_counter() - began)
                probing.set()
                if failed:
                    with lock:
                        errors.append(f"probe: {answer}")
                stop.wait(PROBE_INTERVAL)

    def client_run() -> None:
        nonlocal done
        with httpx.Client(base_url=target.url, timeout=300) as client:
            for _ in range(flows):
                try:
                    whole_flow(target, client)
                    with lock:
                        done += 1
                except Exception as exc:  # every failure is a figure
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")

    sizes = _log_sizes(target.logs)
    with ThreadPoolExecutor(clients + 1) as pool:
        prober = pool.submit(probe)
        probing.wait(30)  # the level starts with its probe running
        began = time.perf_counter()
        for running in [pool.submit(client_run) for _ in range(clients)]:
            running.result()
        seconds = time.perf_counter() - began
        stop.set()
        prober.result()
    return Level(clients, done, seconds, errors, probes, _stalls_since(target.logs, sizes))


def level_lines(levels: list[Level]) -> list[str]:
    lines = [
        "    | clients | documents | s | documents/min | errors | probes | probe p50 ms "
        "| probe p99 ms | loop stalls |",
        "    |---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in levels:
        p50, p99 = level.probe_ms()
        lines.append(
            f"    | {level.clients} | {level.documents} | {level.seconds:.1f} | "
            f"{level.per_minute:.1f} | {len(level.errors)} | {len(level.probes)} | "
            f"{p50:.0f} | {p99:.0f} | {len(level.stalls)} |"
        )
    for level in levels:
        for error in sorted(set(level.errors))[:3]:
            lines.append(f"    {level.clients} clients, error: {error}")
        if level.stalls:
            worst = max(level.stalls, key=lambda line: int(line.split(STALL)[1].split()[0]))
            lines.append(f"    {level.clients} clients, worst stall: {worst[-120:]}")
    return lines


def verdict_lines(levels: list[Level]) -> list[str]:
    errors = sum(len(level.errors) for level in levels)
    at = next(level for level in levels if level.clients == PROBE_TARGET_CLIENTS)
    p99 = at.probe_ms()[1]
    return [
        f"    targets: 0 errors at every level ({'met' if errors == 0 else 'NOT met'}: "
        f"{errors}); probe p99 < {PROBE_TARGET_MS:.0f} ms at {PROBE_TARGET_CLIENTS} clients "
        f"({'met' if p99 < PROBE_TARGET_MS else 'NOT met'}: {p99:.0f} ms)"
    ]


# --- the service, its database, its mail ----------------------------------------------------


@contextmanager
def mail_server() -> Iterator[tuple[Mailbox, int]]:
    collector = Collector()
    smtp = LoopbackController(collector)
    smtp.start()
    try:
        yield Mailbox(collector), smtp.port
    finally:
        smtp.stop()


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """An empty database `mynasign_bench_<random>` on the test server (127.0.0.1:5432, or
    `MYNASIGN_TEST_POSTGRES_URL`), dropped afterwards."""
    server = postgres_admin_url()
    admin_url = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"mynasign_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def service_env(smtp_port: int, database_url: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "MYNASIGN_DATABASE_URL"}
    env.update({
        "MYNASIGN_SMTP_HOST": "127.0.0.1", "MYNASIGN_SMTP_PORT": str(smtp_port),
        "MYNASIGN_SMTP_SECURITY": "none", "PYTHONUNBUFFERED": "1",
        # every client comes from 127.0.0.1: the per-IP limits on opening links would
        # refuse the 64-client level, which is not what is measured here
        "MYNASIGN_RATE_LIMITS_ENABLED": "false",
    })  # fmt: skip
    if database_url is not None:
        env["MYNASIGN_DATABASE_URL"] = database_url
    return env


@contextmanager
def instances(
    directory: Path, names: list[str], env: dict[str, str], base_url: str | None = None
) -> Iterator[list[Instance]]:
    """`mynasign dev` processes on one data directory, started one after the other."""
    started = [Instance(name, free_port(), directory / f"{name}.log") for name in names]
    try:
        for instance in started:
            start_instance(instance, base_url or instance.url, directory / "var", env)
        yield started
    finally:
        for instance in started:
            instance.stop()


def _auth(directory: Path) -> dict[str, str]:
    token = (directory / "var" / "dev-api-token").read_text().strip()
    return {"Authorization": f"Bearer {token}"}


def warm_up(target: Target) -> None:
    """Two flows first: imports, caches, the TSA size probe, the connection pools."""
    with httpx.Client(base_url=target.url, timeout=300) as client:
        for _ in range(2):
            whole_flow(target, client)


# --- plain pyHanko: the same signatures and timestamps ---------------------------------------


class PlainPyhanko:
    """The flow's signatures and timestamps in a plain pyHanko script (synchronous API).

    `fixed`: with our asn1crypto workaround (`webapp.pdf.frozen_asn1`) in its signer and
    TSA client; without it, as pyHanko's documentation shows it (`SimpleSigner`,
    `HTTPTimeStamper`), where one seal takes 0.1 s or seconds at random.
    """

    def __init__(self, data_dir: Path, pdf: bytes, *, fixed: bool) -> None:
        from pyhanko.sign.signers.pdf_cms import SimpleSigner  # noqa: PLC0415 - only here
        from pyhanko.sign.timestamps import HTTPTimeStamper  # noqa: PLC0415

        from jpkisim.pki import TestPki  # noqa: PLC0415
        from webapp.pdf.dev_seal import development_seal_files  # noqa: PLC0415
        from webapp.pdf.frozen_asn1 import KeepingTimeStamper  # noqa: PLC0415
        from webapp.pdf.seal_keys import seal_signer_from_files  # noqa: PLC0415

        files = development_seal_files(data_dir / "seal")
        pki = TestPki.load(data_dir / "pki")
        tsa_url = f"{pki.base_url}/tsa"
        self.closing: Callable[[], None] = lambda: None
        if fixed:
            key = seal_signer_from_files(files.seal_key, files.seal_cert, [files.root_cert])
            self.signer: Any = key.signer
            self.timestamper: Any = KeepingTimeStamper(tsa_url)
            self.closing = key.close
        else:
            self.signer = SimpleSigner.load(
                str(files.seal_key), str(files.seal_cert), ca_chain_files=(str(files.root_cert),)
            )
            self.timestamper = HTTPTimeStamper(tsa_url)
        self.roots = self._roots(files.root_cert, pki.root_der("tsa-root"))
        self.pdf = pdf
        self.certificate = make_pdf(1)

    @staticmethod
    def _roots(seal_root_pem: Path, tsa_root_der: bytes) -> list[Any]:
        from asn1crypto import x509 as asn1_x509  # noqa: PLC0415
        from cryptography import x509  # noqa: PLC0415
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

        seal_root = x509.load_pem_x509_certificate(seal_root_pem.read_bytes())
        return [
            asn1_x509.Certificate.load(seal_root.public_bytes(serialization.Encoding.DER)),
            asn1_x509.Certificate.load(tsa_root_der),
        ]

    def _seal(self, document: io.BytesIO, field_name: str, *, last: bool = False) -> io.BytesIO:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: PLC0415
        from pyhanko.sign.fields import SigSeedSubFilter  # noqa: PLC0415
        from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner  # noqa: PLC0415
        from pyhanko_certvalidator import ValidationContext  # noqa: PLC0415

        extra: dict[str, object] = {}
        if last:
            extra = {
                "embed_validation_info": True, "use_pades_lta": True,
                "validation_context": ValidationContext(
                    trust_roots=self.roots, allow_fetching=True, revocation_mode="hard-fail"
                ),
            }  # fmt: skip
        meta = PdfSignatureMetadata(
            field_name=field_name,
            subfilter=SigSeedSubFilter.PADES,
            **extra,  # type: ignore[arg-type]
        )
        signer = PdfSigner(meta, signer=self.signer, timestamper=self.timestamper)
        signed: io.BytesIO = signer.sign_pdf(IncrementalPdfFileWriter(document))
        return signed

    def one_document(self) -> float:
        """Seconds for one document's signatures and timestamps."""
        began = time.perf_counter()
        document = io.BytesIO(self.pdf)
        for field_name in ("sent", "agreed-1"):
            document = self._seal(document, field_name)
        self._seal(document, "final", last=True)
        self._seal(io.BytesIO(self.certificate), "certificate")
        asyncio.run(self.timestamper.async_timestamp(hashlib.sha256(b"audit").digest(), "sha256"))
        return time.perf_counter() - began


def compare_with_plain(target: Target, data_dir: Path) -> list[str]:
    """One client's whole flow against plain pyHanko with the asn1crypto fix, turn about,
    BASELINE_ROUNDS each. Without the fix plain pyHanko is no baseline: a seal takes 0.1 s
    or seconds at random (`webapp.pdf.frozen_asn1`), and one document's five signatures
    and timestamps took minutes on the busy machine (py-spy: asn1crypto's `dump`)."""
    sides = {"plain pyHanko + fix": PlainPyhanko(data_dir, target.pdf, fixed=True)}
    times: dict[str, list[float]] = {"mynasign whole flow": [], **{side: [] for side in sides}}
    steps: dict[str, list[float]] = {}
    try:
        for plain in sides.values():
            plain.one_document()  # warm: imports, the TSA size probe
        with httpx.Client(base_url=target.url, timeout=300) as client:
            for _ in range(BASELINE_ROUNDS):
                began = time.perf_counter()
                whole_flow(target, client, steps)
                times["mynasign whole flow"].append(time.perf_counter() - began)
                for side, plain in sides.items():
                    times[side].append(plain.one_document())
    finally:
        for plain in sides.values():
            plain.closing()
    medians = {side: statistics.median(values) for side, values in times.items()}
    ours = medians["mynasign whole flow"]
    lines = [
        f"  whole flow (1 client, SQLite) against plain pyHanko doing the same signatures and "
        f"timestamps, {BASELINE_ROUNDS} rounds turn about, medians (range)",
    ]
    for side, values in times.items():
        lines.append(
            f"    {side:20} {medians[side] * 1000:6.0f} ms ({min(values) * 1000:.0f}-"
            f"{max(values) * 1000:.0f})"
        )
    lines.append("    the whole flow's steps (client side, medians): " + ", ".join(
        f"{step} {statistics.median(values) * 1000:.0f} ms" for step, values in steps.items()
    ))  # fmt: skip
    for side in sides:
        ratio = ours / medians[side]
        lines.append(
            f"    ratio mynasign / {side}: {ratio:.2f} (target <= {PLAIN_TARGET:.1f}: "
            f"{'met' if ratio <= PLAIN_TARGET else 'NOT met'})"
        )
    return lines


# --- the run ---------------------------------------------------------------------------------


def _levels(target: Target) -> list[Level]:
    warm_up(target)
    return [run_level(target, clients, flows) for clients, flows in LEVELS]


def _sqlite(directory: Path) -> list[str]:
    with (
        mail_server() as (mailbox, port),
        instances(directory, ["sqlite"], service_env(port, None)) as (instance,),
    ):
        target = Target(instance.url, _auth(directory), mailbox, [instance])
        levels = _levels(target)
        baseline = compare_with_plain(target, directory / "var")
    return [
        "  SQLite (the embedded default), one instance",
        *level_lines(levels),
        *verdict_lines(levels),
        *baseline,
    ]


def _postgres(directory: Path) -> list[str]:
    listen = free_port()
    nginx_url = f"http://127.0.0.1:{listen}"
    with (
        mail_server() as (mailbox, port),
        scratch_postgres() as database_url,
        instances(directory, ["pg-a"], service_env(port, database_url), nginx_url) as (a,),
    ):
        target = Target(a.url, _auth(directory), mailbox, [a])
        levels = _levels(target)
        with running_nginx(directory / "nginx-1", listen, [a.port]):
            one = run_level(Target(nginx_url, target.auth, mailbox, [a]),
                            CLUSTER_CLIENTS, CLUSTER_FLOWS)  # fmt: skip
        env = service_env(port, database_url)
        with (
            instances(directory, ["pg-b"], env, nginx_url) as (b,),
            running_nginx(directory / "nginx-2", listen, [a.port, b.port]),
        ):
            both = Target(nginx_url, target.auth, mailbox, [a, b])
            warm_up(both)
            two = run_level(both, CLUSTER_CLIENTS, CLUSTER_FLOWS)
    ratio = two.per_minute / one.per_minute
    return [
        "  PostgreSQL, one instance",
        *level_lines(levels),
        *verdict_lines(levels),
        f"  PostgreSQL behind nginx, {CLUSTER_CLIENTS} clients x {CLUSTER_FLOWS} flows: "
        "one instance, then two (round robin, one database, one data directory)",
        *level_lines([one, two]),
        f"    two / one instance: {ratio:.2f}x documents per minute (target >= "
        f"{CLUSTER_TARGET}: {'met' if ratio >= CLUSTER_TARGET else 'NOT met'})",
    ]


def run() -> list[str]:
    directory = Path(tempfile.mkdtemp(prefix="mynasign-bench-flows-"))
    sections: list[Callable[[Path], list[str]]] = [_sqlite, _postgres]
    report = [
        "concurrent whole flows (upload -> recipient -> send -> open -> agree -> completed, "
        "B-LTA) against `mynasign dev` subprocesses; clients x flows: "
        + ", ".join(f"{c}x{f}" for c, f in LEVELS),
        f"  probe: GET /api/v1/documents?limit=1 every {PROBE_INTERVAL * 1000:.0f} ms; "
        "loop stalls: the service's watchdog lines (a loop step > 100 ms)",
    ]
    try:
        for number, section in enumerate(sections):
            part = directory / str(number)
            part.mkdir()
            report += section(part)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return report
