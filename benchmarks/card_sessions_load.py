"""10,000 open card sessions on one instance, each watched by its page: latency and memory.

The sessions are sent documents whose party must sign with the card, each with its card
session started (the prepared revision written, encrypted) and the party's link opened.
Made before the load (issue 9), in four parts:

1. API_SAMPLE through the HTTP API of a `mynasign dev` subprocess (upload, recipient with
   the card, send, the link from the mail of a real SMTP server, open, card session),
   API_CLIENTS at once: the setup rate through the API, and each step's share;
2. PROFILED through the service functions in this process under cProfile: where the time
   goes inside the service;
3. SERVICE_SAMPLE more through the service functions in BULK_THREADS threads: the rate an
   admin script would get;
4. the rest as database copies of the real ones from 2 and 3 (document, revisions,
   recipient, the party's bearer session, card session: fresh ids and tokens, one bulk
   insert), because at the rates of 1 to 3 on this shared two-core machine (about one
   session a second) 10,000 would take hours. A copy is a row like any other to the
   server; only the encrypted files are shared, which the load never reads.

Then every open session's expiry is moved an hour on (one SQL update): making them takes
longer than a session's 10-minute life, and the server does not care how long one has left.

Sessions: 10,000, or fewer if this machine's open-file limit does not allow two sockets a
session on each side (a page's feed and a bridge's websocket: 20,000 sockets in the server
and 20,000 in this client); the soft limit is raised to the hard one first and the count
actually run is printed.

The server is the real one, `mynasign dev` (uvicorn with its defaults: h11, websockets,
access log, one process, SQLite), in a subprocess, so its memory is its own (VmRSS from
/proc). This process then, with aiohttp:

1. opens every status feed (SSE, `GET /api/v1/r/{token}/card-session/events` with the
   party's bearer session token), each counted once its first status has arrived;
2. claims every session as a bridge would (`/ws/bridge/<token>`, hello) and keeps those
   websockets open, each counted once the page has seen "claimed";
3. sends `progress` frames and times each from just before the frame is sent to the
   moment the page's feed has the event with that stage: one at a time; at a steady
   PACED_RATE per second across sessions for PACED_SECONDS (longer than the server's
   slowest periodic work, so the steady state includes it); and all sessions at once (a
   burst). This process's garbage collector is off while it times.

Baseline, same run, same load and client: a bare relay under the same uvicorn (`relay_app`:
websocket frame -> in-memory event -> SSE line; no database, no authentication, no
session), which is what any Python server on uvicorn costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import datetime
import functools
import gc
import json
import os
import pstats
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bridge.protocol import Stage

SESSIONS_WANTED = 10_000
SESSIONS_VARIABLE = "BENCH_CARD_SESSIONS"  # (a MYNASIGN_ name the server would refuse)
"""Fewer sessions for a quick comparison while working (the figures are for 10,000)."""
FILES_RESERVE = 1_000
"""Open files each side keeps for what is not a session's socket (database, logs, pools)."""
API_SAMPLE = 120
API_CLIENTS = 4
PROFILED = 15
SERVICE_SAMPLE = 20
BULK_THREADS = 2
ONE_AT_A_TIME = 1000
PACED_RATE = 200.0
"""Progress frames per second across all sessions: 1,000 people signing at once, each
bridge reporting a stage every five seconds (the other sessions only watch)."""
PACED_SECONDS = 65.0
"""Longer than the server's slowest periodic work (the completion retry, every 60 s)."""
PACED_LOAD = f"{PACED_RATE:.0f}/s across sessions"
TARGET_P99_MS = 100.0
TARGET_RSS_MB = 1024.0
WAIT_SECONDS = 60.0
"""How long any single awaited answer may take before the run is called failed."""
CONNECT_CONCURRENCY = 100
STAGES = [
    Stage.WAITING_FOR_PASSWORD, Stage.WAITING_FOR_CARD, Stage.CARD_PRESENT,
    Stage.VERIFYING, Stage.READING_CERTIFICATE, Stage.SIGNING,
]  # fmt: skip
REPOSITORY = Path(__file__).resolve().parents[1]
_LINK = re.compile(r"/r/([A-Za-z0-9_-]{40,})")
STALL = "event loop stalled for "
COLLECTION = "garbage collection of generation "
"""`webapp.loop_watchdog.GC_MESSAGE`, not imported for the same reason."""
"""`webapp.loop_watchdog.STALL_MESSAGE`, not imported: the relay's server imports this module."""


@dataclass(frozen=True)
class Party:
    """One open card session: the party's link and session tokens, the QR code's token."""

    link_token: str
    session_token: str
    bridge_token: str


# --- the sessions, made before the server starts ------------------------------------------


def _party(context: Any, owner: Any, source: Path, who: Any) -> Party:
    """One sent document, its party's link opened and a card session started (blocking)."""
    from sqlalchemy import select  # noqa: PLC0415 - see open_sessions

    from benchmarks.rig import sent_card_document  # noqa: PLC0415
    from webapp.card_signing import sessions as card_sessions  # noqa: PLC0415
    from webapp.db.models import OutgoingMail, Recipient  # noqa: PLC0415
    from webapp.services.recipients import open_link  # noqa: PLC0415

    recipient_id = sent_card_document(context, owner, source, second_party=False)
    with context.sessions() as db:
        document_id = db.get_one(Recipient, recipient_id).document_id
        mail = db.scalars(select(OutgoingMail).where(OutgoingMail.document_id == document_id)).one()
        link_token = _LINK.findall(mail.body_text)[-1]
        opened = open_link(context, db, link_token, accept_terms=True, access_code=None, who=who)
        db.commit()
    started = card_sessions.start(context, recipient_id, who)
    return Party(link_token, opened.session_token, started.token)


@dataclass
class Made:
    """Sessions made in this process: the parties, the service layer's rate, the profile."""

    parties: list[Party]
    service_made: int
    service_seconds: float
    copies: int
    copy_seconds: float
    profile: list[str]


async def open_sessions(data_dir: Path, source: Path, count: int) -> Made:
    """`count` open card sessions in this process, on the server's data directory.

    PROFILED through the service functions under cProfile (one thread), SERVICE_SAMPLE
    more through them in BULK_THREADS threads (the rate), and the rest as database copies
    of those real ones (`_copy_sessions`). Then every open session's expiry is moved an
    hour on (SQL): making them takes longer than a session's 10 minutes, and the server
    does not care how long a session has left. The service is imported here, not at the
    top: the baseline server imports this module for `relay_app`, and its memory must not
    include the service.
    """
    from sqlalchemy import update  # noqa: PLC0415

    from benchmarks.rig import new_sender  # noqa: PLC0415
    from webapp.audit.actor import Audit  # noqa: PLC0415
    from webapp.db.models import ActorKind, CardSession, CardSessionState  # noqa: PLC0415
    from webapp.offload import off_loop  # noqa: PLC0415
    from webapp.runtime import open_runtime  # noqa: PLC0415
    from webapp.settings import load_settings  # noqa: PLC0415

    settings = load_settings(environment="development", data_dir=data_dir)
    who = Audit(ActorKind.RECIPIENT, "bench")
    profiled = min(PROFILED, count)
    sampled = min(SERVICE_SAMPLE, count - profiled)
    async with open_runtime(settings) as runtime:
        context = runtime.context
        owner = new_sender(context)

        def some(n: int) -> list[Party]:
            return [_party(context, owner, source, who) for _ in range(n)]

        def profiled_batch() -> tuple[list[Party], list[str]]:
            profiler = cProfile.Profile()
            profiler.enable()
            made = some(profiled)
            profiler.disable()
            return made, _profile_lines(profiler, profiled)

        parties, profile = await off_loop(profiled_batch)
        start = time.perf_counter()
        shares = [
            sampled // BULK_THREADS + (t < sampled % BULK_THREADS) for t in range(BULK_THREADS)
        ]
        for batch in await asyncio.gather(*(off_loop(some, n) for n in shares)):
            parties += batch
        service_seconds = time.perf_counter() - start
        start = time.perf_counter()
        copies = await off_loop(_copy_sessions, context, parties, count - len(parties))
        copy_seconds = time.perf_counter() - start

        def extend() -> None:
            with context.sessions() as db, db.begin():
                db.execute(
                    update(CardSession)
                    .where(CardSession.state == CardSessionState.CREATED)
                    .values(expires_at=context.now() + datetime.timedelta(hours=1))
                )

        await off_loop(extend)
    return Made(parties + copies, sampled, service_seconds, len(copies), copy_seconds, profile)


def _copy_sessions(context: Any, templates: list[Party], count: int) -> list[Party]:
    """`count` copies of the templates' rows (document, revisions, recipient, its bearer
    session, card session) with fresh ids and fresh tokens, inserted in bulk. A copy shares
    its template's encrypted files: the load reads rows, never the prepared revision."""
    from sqlalchemy import insert, inspect, select  # noqa: PLC0415

    from webapp.db.models import (  # noqa: PLC0415
        CardSession,
        Document,
        DocumentRevision,
        Recipient,
        RecipientSession,
    )
    from webapp.db.types import new_document_id, new_id  # noqa: PLC0415
    from webapp.security import new_token, token_hash  # noqa: PLC0415

    def row(item: Any) -> dict[str, Any]:
        return {attr.key: getattr(item, attr.key) for attr in inspect(item).mapper.column_attrs}

    with context.sessions() as db:
        originals = []
        for party in templates:
            card = db.scalars(
                select(CardSession).where(CardSession.token_hash == token_hash(party.bridge_token))
            ).one()
            bearer = db.scalars(
                select(RecipientSession).where(
                    RecipientSession.token_hash == token_hash(party.session_token)
                )
            ).one()
            document = card.recipient.document
            revisions = [row(revision) for revision in document.revisions]
            originals.append(
                (row(document), revisions, row(card.recipient), row(bearer), row(card))
            )
    made: list[Party] = []
    tables: dict[Any, list[dict[str, Any]]] = {
        Document: [], DocumentRevision: [], Recipient: [], RecipientSession: [], CardSession: []
    }  # fmt: skip
    for n in range(count):
        document, revisions, recipient, bearer, card = originals[n % len(originals)]
        party = Party(new_token(), new_token(), new_token())
        document_id, recipient_id = new_document_id(), new_id()
        tables[Document].append({**document, "id": document_id})
        tables[DocumentRevision] += [
            {**revision, "id": new_id(), "document_id": document_id} for revision in revisions
        ]
        tables[Recipient].append({
            **recipient, "id": recipient_id, "document_id": document_id,
            "link_token_hash": token_hash(party.link_token), "completion_link_hash": None,
        })  # fmt: skip
        tables[RecipientSession].append({
            **bearer, "id": new_id(), "recipient_id": recipient_id,
            "token_hash": token_hash(party.session_token),
        })  # fmt: skip
        tables[CardSession].append({
            **card, "id": new_id(), "recipient_id": recipient_id,
            "token_hash": token_hash(party.bridge_token),
        })  # fmt: skip
        made.append(party)
    with context.sessions() as db, db.begin():
        for model, rows in tables.items():
            for chunk in range(0, len(rows), 2000):
                db.execute(insert(model), rows[chunk : chunk + 2000])
    return made


PROFILED_PARTS = {
    "create_document (upload: checks, encrypt, store)": "create_document",
    "add_recipient": "add_recipient",
    "send_document (stamp + sending seal + TSA, mail)": "send_document",
    "open_link": "open_link",
    "card_sessions.start (prepare the card revision)": "start",
}
"""Service functions whose cumulative time the profile reports, by function name."""
PROFILED_INSIDE = {
    "  PDF steps in worker processes (PdfWorkers.run)": "run",
    "  PDF steps in this thread (run_pdf_step)": "run_pdf_step",
    "  PDF check in the sandbox process (check_in_sandbox)": "check_in_sandbox",
    "  encryption at rest (EncryptedFileStore.write)": "write",
    "  database commits": "commit",
}


def _profile_lines(profiler: cProfile.Profile, count: int) -> list[str]:
    """Cumulative seconds a session of the named service functions, and their share."""
    stats = pstats.Stats(profiler)
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    table = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in table.values())  # all own time: the whole profile

    def cumulative(name: str, within: str | None = None) -> float:
        return max(
            (
                entry[3]
                for (filename, _, function), entry in table.items()
                if function == name and (within is None or within in filename)
            ),
            default=0.0,
        )

    places = {
        "create_document": "services/documents", "add_recipient": "services/documents",
        "send_document": "services/documents", "open_link": "services/recipients",
        "start": "card_signing/sessions", "run_pdf_step": "webapp/offload",
        "run": "pdf/workers", "check_in_sandbox": "pdf/sandbox", "write": "storage/encryption",
        "commit": "orm/session",
    }  # fmt: skip
    lines = [
        f"  cProfile of {count} sessions made through the service layer (one thread; the "
        f"profiler slows Python code, so read the shares): {total / count * 1000:.0f} ms "
        "a session"
    ]
    for label, name in {**PROFILED_PARTS, **PROFILED_INSIDE}.items():
        seconds = cumulative(name, places[name])
        lines.append(
            f"    {label:52} {seconds / count * 1000:6.1f} ms  {seconds / total * 100:4.0f} %"
        )
    return lines


# --- the sessions through the HTTP API: a sample, for the rate -------------------------------


API_STEPS = ("upload", "recipient", "send", "mail", "open", "card session")


@dataclass
class ApiSample:
    """Sessions made through the API: the parties, the wall time, each step's times."""

    parties: list[Party]
    seconds: float
    steps: dict[str, list[float]]


class _ApiSetup:
    """Sessions through the HTTP API of one server: the parties and each step's times."""

    def __init__(self, url: str, auth: dict[str, str], mailbox: Any, pdf: bytes) -> None:
        self.url, self.auth, self.mailbox, self.pdf = url, auth, mailbox, pdf
        self.steps: dict[str, list[float]] = {step: [] for step in API_STEPS}
        self.parties: list[Party] = []
        self.lock = threading.Lock()

    def one(self, client: Any, n: int) -> None:
        """One session: upload, recipient with the card, send, mail, open, card session."""
        taken: dict[str, float] = {}
        mark = time.perf_counter()

        def step(name: str, answer: Any = None) -> Any:
            nonlocal mark
            now = time.perf_counter()
            taken[name], mark = now - mark, now
            if answer is not None and answer.status_code >= 400:
                raise RuntimeError(f"{name}: {answer.status_code} {answer.text[:200]}")
            return answer

        address = f"card-party-{n}@example.jp"
        uploaded = step("upload", client.post(
            "/api/v1/documents", headers=self.auth, data={"title": "業務委託契約書"},
            files={"file": ("contract.pdf", self.pdf, "application/pdf")},
        ))  # fmt: skip
        document = f"/api/v1/documents/{uploaded.json()['id']}"
        step("recipient", client.post(f"{document}/recipients", headers=self.auth, json={
            "name": "試験 花子", "email": address, "require_mynumber_card": True,
        }))  # fmt: skip
        step("send", client.post(f"{document}/send", headers=self.auth))
        link = self.mailbox.link_for(address)
        step("mail")
        opened = step("open", client.post(f"/api/v1/r/{link}/open", json={"accept_terms": True}))
        session = opened.json()["session_token"]
        started = step("card session", client.post(
            f"/api/v1/r/{link}/card-session", headers={"Authorization": f"Bearer {session}"}
        ))  # fmt: skip
        bridge_token = started.json()["bridge_url"].rsplit("/", 1)[1]
        with self.lock:
            self.parties.append(Party(link, session, bridge_token))
            for name, seconds in taken.items():
                self.steps[name].append(seconds)

    def run(self, numbers: range) -> None:
        import httpx2 as httpx  # noqa: PLC0415 - the client side only

        with httpx.Client(base_url=self.url, timeout=120) as client:
            for n in numbers:
                self.one(client, n)


def api_sessions(directory: Path, data_dir: Path, source: Path, count: int) -> ApiSample:
    """`count` sessions through the HTTP API of a `mynasign dev` subprocess, API_CLIENTS at
    once, as a sender's integration and the parties' pages would make them."""
    from benchmarks.concurrent_flows import mail_server, service_env  # noqa: PLC0415
    from tests.webapp.cluster.processes import Instance, free_port, start_instance  # noqa: PLC0415

    with mail_server() as (mailbox, port):
        instance = Instance("api-sample", free_port(), directory / "api-sample.log")
        start_instance(instance, instance.url, data_dir, service_env(port, None))
        try:
            token = (data_dir / "dev-api-token").read_text().strip()
            auth = {"Authorization": f"Bearer {token}"}
            _ApiSetup(instance.url, auth, mailbox, source.read_bytes()).run(range(-1, 0))  # warm
            setup = _ApiSetup(instance.url, auth, mailbox, source.read_bytes())
            start = time.perf_counter()
            with ThreadPoolExecutor(API_CLIENTS) as pool:
                clients = [
                    pool.submit(setup.run, range(c, count, API_CLIENTS)) for c in range(API_CLIENTS)
                ]
                for running in clients:
                    running.result()
            seconds = time.perf_counter() - start
        finally:
            instance.stop()
    return ApiSample(setup.parties, seconds, setup.steps)


def _api_lines(sample: ApiSample) -> list[str]:
    count = len(sample.parties)
    total = sum(sum(values) for values in sample.steps.values())
    lines = [
        f"  API setup sample: {count} sessions through the HTTP API ({API_CLIENTS} clients: "
        "upload, recipient with the card, send, link from the mail, open, card session) in "
        f"{sample.seconds:.1f} s = {count / sample.seconds:.1f} sessions/s "
        f"({sample.seconds / count * 1000:.0f} ms a session); 10,000 at this rate: "
        f"{10_000 / (count / sample.seconds):.0f} s",
        "    client-side share of each step (median ms, share of all step time):",
    ]
    for name, values in sample.steps.items():
        lines.append(
            f"      {name:14} {statistics.median(values) * 1000:7.0f} ms  "
            f"{sum(values) / total * 100:4.0f} %"
        )
    return lines


# --- the baseline: a bare relay on the same uvicorn ----------------------------------------


def relay_app() -> Starlette:
    """Websocket frames relayed to SSE watchers through an in-memory event, nothing else."""
    latest: dict[str, str] = {}
    changed: dict[str, asyncio.Event] = {}

    async def events(request: Request) -> StreamingResponse:
        key = request.path_params["key"]
        event = changed.setdefault(key, asyncio.Event())

        async def stream() -> AsyncIterator[str]:
            yield "retry: 2000\n\n"
            yield f"data: {latest.get(key, '{}')}\n\n"
            while True:
                await event.wait()
                event.clear()
                yield f"data: {latest[key]}\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def bridge(websocket: WebSocket) -> None:
        key = websocket.path_params["key"]
        await websocket.accept()
        try:
            while True:
                frame = json.loads(await websocket.receive_text())
                if frame["type"] == "hello":
                    status = {"state": "claimed", "stage": None}
                    await websocket.send_text(json.dumps({"type": "claim"}))
                    await websocket.send_text(json.dumps({"type": "sign_request"}))
                else:
                    status = {"state": "claimed", "stage": frame.get("stage")}
                latest[key] = json.dumps(status)
                changed.setdefault(key, asyncio.Event()).set()
        except WebSocketDisconnect:
            return

    return Starlette(routes=[Route("/events/{key}", events), WebSocketRoute("/ws/{key}", bridge)])


# --- a server in a subprocess ----------------------------------------------------------------


@dataclass
class Server:
    """A server process on a loopback port, ready once uvicorn says it is listening."""

    process: subprocess.Popen[str]
    url: str
    ready: threading.Event = field(default_factory=threading.Event)
    log_tail: list[str] = field(default_factory=list)
    stalls: list[int] = field(default_factory=list)
    """The lengths (ms) of the event-loop stalls the server logged so far."""
    collections: list[tuple[int, int, int]] = field(default_factory=list)
    """(generation, ms, CPU ms) of the slow garbage collections the server logged so far."""

    def memory_mb(self) -> tuple[float, float]:
        """(VmRSS, VmHWM): resident memory now and its peak, in MB."""
        values: dict[str, float] = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) / 1024
        return values["VmRSS"], values["VmHWM"]

    def _follow(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log_tail = [*self.log_tail[-40:], line.rstrip()]
            if STALL in line:  # the service's loop watchdog: a loop step over 100 ms
                self.stalls.append(int(line.split(STALL)[1].split()[0]))
            if COLLECTION in line:  # ... of generation G took N ms
                words = line.split(COLLECTION)[1].replace("(", " ").split()
                self.collections.append((int(words[0]), int(words[2]), int(words[4])))
            if "Uvicorn running on" in line:
                self.ready.set()
        self.ready.set()  # the process ended: whoever waits must look at it


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(arguments: list[str], log: Path) -> Iterator[Server]:
    """Run `python <arguments> --port <free port>`; stdout (the access log) goes to `log`."""
    port = _free_port()
    with log.open("w") as access_log:
        process = subprocess.Popen(
            [sys.executable, *arguments, "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPOSITORY, stdout=access_log, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "MYNASIGN_RATE_LIMITS_ENABLED": "false"},  # 1,000 bridges, one IP
        )  # fmt: skip
    server = Server(process, f"http://127.0.0.1:{port}")
    follower = threading.Thread(target=server._follow, daemon=True)
    follower.start()
    try:
        if not server.ready.wait(120) or process.poll() is not None:
            raise RuntimeError("the server did not start:\n" + "\n".join(server.log_tail))
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        follower.join(10)


# --- the pages and the bridges ---------------------------------------------------------------


class Page:
    """One watching page: reads its SSE feed and resolves what is expected of it."""

    def __init__(self) -> None:
        self.first = asyncio.get_running_loop().create_future()
        self._expected: tuple[str, str, asyncio.Future[float]] | None = None

    def expect(self, key: str, value: str) -> asyncio.Future[float]:
        """A future set to the receive time of the next status whose `key` is `value`."""
        arrived: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._expected = (key, value, arrived)
        return arrived

    async def follow(self, response: aiohttp.ClientResponse) -> None:
        async for raw in response.content:
            if not raw.startswith(b"data: "):
                continue
            now = time.perf_counter()
            status = json.loads(raw[6:])
            if not self.first.done():
                self.first.set_result(now)
            expected = self._expected
            if expected is not None and status.get(expected[0]) == expected[1]:
                self._expected = None
                expected[2].set_result(now)


class Bridge:
    """One bridge's websocket, read all along (so pings are answered)."""

    def __init__(self, websocket: aiohttp.ClientWebSocketResponse) -> None:
        self.websocket = websocket
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.stage = -1

    async def follow(self) -> None:
        async for message in self.websocket:
            if message.type is aiohttp.WSMsgType.TEXT:
                self.frames.put_nowait(json.loads(message.data))

    async def send(self, **frame: Any) -> None:
        await self.websocket.send_str(json.dumps({"version": 1, **frame}))

    def next_stage(self) -> str:
        self.stage = (self.stage + 1) % len(STAGES)
        return STAGES[self.stage].value


@dataclass
class Target:
    """How to reach one session on one server: its feed and its bridge socket."""

    feed_url: str
    headers: dict[str, str]
    bridge_url: str


@dataclass
class Watched:
    """A page, and once its session is claimed, the bridge."""

    page: Page
    bridge: Bridge | None = None


async def _bounded(calls: list[Callable[[], Awaitable[None]]], limit: int) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one(call) for call in calls))


class Load:
    """The client side: 1,000 pages and 1,000 bridges on one server, and the timings."""

    def __init__(self, client: aiohttp.ClientSession, targets: list[Target]) -> None:
        self.client = client
        self.targets = targets
        self.watched: list[Watched] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def open_pages(self) -> float:
        """Every feed open and its first status received: seconds taken."""
        pages = [Page() for _ in self.targets]
        start = time.perf_counter()

        async def connect(target: Target, page: Page) -> None:
            response = await self.client.get(target.feed_url, headers=target.headers)
            if response.status != 200:
                raise RuntimeError(f"the feed answered {response.status}")
            self.tasks.append(asyncio.ensure_future(page.follow(response)))
            await asyncio.wait_for(page.first, WAIT_SECONDS)

        await _bounded(
            [functools.partial(connect, t, p) for t, p in zip(self.targets, pages, strict=True)],
            CONNECT_CONCURRENCY,
        )
        self.watched = [Watched(page) for page in pages]
        return time.perf_counter() - start

    async def claim_all(self) -> float:
        """Every session claimed by a bridge (hello) and the page told: seconds taken."""
        start = time.perf_counter()

        async def claim(target: Target, watched: Watched) -> None:
            claimed = watched.page.expect("state", "claimed")
            websocket = await self.client.ws_connect(target.bridge_url)
            bridge = Bridge(websocket)
            self.tasks.append(asyncio.ensure_future(bridge.follow()))
            await bridge.send(
                type="hello", client="bench", client_version="1", protocol_version=1,
                order="password-first",
            )  # fmt: skip
            for expected in ("claim", "sign_request"):
                frame = await asyncio.wait_for(bridge.frames.get(), WAIT_SECONDS)
                if frame.get("type") != expected:
                    raise RuntimeError(f"expected {expected}, the server sent {frame}")
            await asyncio.wait_for(claimed, WAIT_SECONDS)
            watched.bridge = bridge

        await _bounded(
            [
                functools.partial(claim, t, w)
                for t, w in zip(self.targets, self.watched, strict=True)
            ],
            CONNECT_CONCURRENCY,
        )
        return time.perf_counter() - start

    async def notify(self, index: int) -> float:
        """One progress frame on session `index`: seconds until its page has it."""
        watched = self.watched[index % len(self.watched)]
        bridge = watched.bridge
        assert bridge is not None, "claim_all first"
        stage = bridge.next_stage()
        arrived = watched.page.expect("stage", stage)
        sent = time.perf_counter()
        await bridge.send(type="progress", stage=stage)
        return await asyncio.wait_for(arrived, WAIT_SECONDS) - sent

    async def one_at_a_time(self, count: int) -> list[float]:
        return [await self.notify(index) for index in range(count)]

    async def paced(self, count: int, rate: float) -> list[float]:
        """`count` notifications started on a fixed schedule, `rate` per second."""
        loop = asyncio.get_running_loop()
        begin = loop.time()

        async def scheduled(index: int) -> float:
            await asyncio.sleep(begin + index / rate - loop.time())  # the load's schedule
            return await self.notify(index)

        return list(await asyncio.gather(*(scheduled(index) for index in range(count))))

    async def burst(self) -> list[float]:
        return list(await asyncio.gather(*(self.notify(i) for i in range(len(self.watched)))))

    async def close(self) -> None:
        for watched in self.watched:
            if watched.bridge is not None:
                await watched.bridge.websocket.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max, in ms."""
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000, ordered[-1] * 1000


@dataclass
class Figures:
    """What one server did under the load."""

    sessions: int = 0
    rss_idle: float = 0.0
    rss_pages: float = 0.0
    rss_bridges: float = 0.0
    rss_peak: float = 0.0
    open_pages: float = 0.0
    claims: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    stalls: dict[str, list[int]] = field(default_factory=dict)
    collections: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)


async def drive(server: Server, targets: list[Target]) -> Figures:
    figures = Figures(sessions=len(targets))
    figures.rss_idle, _ = server.memory_mb()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=WAIT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        load = Load(client, targets)
        try:
            figures.open_pages = await load.open_pages()
            figures.rss_pages, _ = server.memory_mb()
            figures.claims = await load.claim_all()
            figures.rss_bridges, _ = server.memory_mb()
            gc.collect()
            gc.disable()  # this process's collector must not pause the measuring client
            phases: dict[str, Callable[[], Awaitable[list[float]]]] = {
                "one at a time": lambda: load.one_at_a_time(ONE_AT_A_TIME),
                PACED_LOAD: lambda: load.paced(round(PACED_RATE * PACED_SECONDS), PACED_RATE),
                "burst, all at once": load.burst,
            }
            for phase, measure in phases.items():
                seen, collected = len(server.stalls), len(server.collections)
                figures.latencies[phase] = await measure()
                figures.stalls[phase] = server.stalls[seen:]
                figures.collections[phase] = server.collections[collected:]
            _, figures.rss_peak = server.memory_mb()
        finally:
            gc.enable()
            await load.close()
    return figures


def _report(name: str, figures: Figures) -> list[str]:
    sessions = figures.sessions
    per_page = (figures.rss_pages - figures.rss_idle) * 1024 / sessions
    per_bridge = (figures.rss_bridges - figures.rss_pages) * 1024 / sessions
    lines = [
        f"  {name}: RSS idle {figures.rss_idle:.0f} MB, with {sessions} pages "
        f"{figures.rss_pages:.0f} MB, + {sessions} bridges {figures.rss_bridges:.0f} MB, "
        f"peak {figures.rss_peak:.0f} MB ({per_page:.0f} KB a page, {per_bridge:.0f} KB a "
        f"bridge); pages open in {figures.open_pages:.1f} s, claimed in {figures.claims:.1f} s"
    ]
    for load, values in figures.latencies.items():
        p50, p99, worst = _percentiles(values)
        lines.append(
            f"    {load:24} n={len(values):5}  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
            f"max {worst:6.1f} ms{_stall_note(figures.stalls.get(load, []))}"
            f"{_collection_note(figures.collections.get(load, []))}"
        )
    return lines


def _collection_note(collections: list[tuple[int, int, int]]) -> str:
    if not collections:
        return ""
    by_generation = [
        f"gen {generation}: {len(found)}, max {max(ms for ms, _ in found)} ms "
        f"({max(cpu for _, cpu in found)} ms CPU)"
        for generation in range(3)
        if (found := [(ms, cpu) for g, ms, cpu in collections if g == generation])
    ]
    return f"  slow collections: {'; '.join(by_generation)}"


def _stall_note(stalls: list[int]) -> str:
    if not stalls:
        return ""
    return f"  loop stalls logged: {len(stalls)} (sum {sum(stalls)} ms, max {max(stalls)} ms)"


def _our_targets(url: str, parties: list[Party]) -> list[Target]:
    websocket = url.replace("http", "ws", 1)
    return [
        Target(
            f"{url}/api/v1/r/{party.link_token}/card-session/events",
            {"Authorization": f"Bearer {party.session_token}"},
            f"{websocket}/ws/bridge/{party.bridge_token}",
        )
        for party in parties
    ]


def _relay_targets(url: str, count: int) -> list[Target]:
    websocket = url.replace("http", "ws", 1)
    return [Target(f"{url}/events/{n}", {}, f"{websocket}/ws/{n}") for n in range(count)]


def session_count() -> int:
    """SESSIONS_WANTED, or as many as two sockets a session allow under the open-file limit
    (the soft limit raised to the hard one first; the server subprocess inherits it)."""
    wanted = int(os.environ.get(SESSIONS_VARIABLE, SESSIONS_WANTED))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        return wanted
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return min(wanted, (hard - FILES_RESERVE) // 2)


def run() -> list[str]:
    from tests.webapp.pdf.pdfs import contract_pdf  # noqa: PLC0415 - see open_sessions

    sessions = session_count()
    directory = Path(tempfile.mkdtemp(prefix="mynasign-bench-card-load-"))
    try:
        data_dir = directory / "var"
        source = contract_pdf(directory / "contract.pdf", pages=2)
        sample = api_sessions(directory, data_dir, source, API_SAMPLE)
        made = asyncio.run(open_sessions(data_dir, source, max(0, sessions - len(sample.parties))))
        parties = sample.parties + made.parties
        ours_command = ["-m", "webapp.cli", "dev", "--data-dir", str(data_dir)]
        with serving(ours_command, directory / "mynasign-access.log") as server:
            ours = asyncio.run(drive(server, _our_targets(server.url, parties)))
        relay_command = ["-m", "uvicorn", "--factory", f"{__name__}:relay_app"]
        with serving(relay_command, directory / "relay-access.log") as server:
            relay = asyncio.run(drive(server, _relay_targets(server.url, len(parties))))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    report = [
        f"card sessions under load: {len(parties):,} open sessions on one instance, each "
        "watched by its page (SSE) and claimed by a bridge (websocket)",
        *(
            [
                f"  NOTE: {SESSIONS_WANTED:,} wanted; this machine allows {hard:,} open files "
                f"a process (hard limit, not raisable here), so {sessions:,} sessions "
                f"(2 sockets each, {FILES_RESERVE:,} files kept for the rest)"
            ]
            if sessions < SESSIONS_WANTED and SESSIONS_VARIABLE not in os.environ
            else []
        ),
        *_api_lines(sample),
        *made.profile,
        f"  service layer: {made.service_made} sessions through the service functions in "
        f"this process ({BULK_THREADS} threads) in {made.service_seconds:.0f} s = "
        f"{made.service_made / made.service_seconds:.2f} sessions/s; "
        f"{SESSIONS_WANTED:,} at this rate: "
        f"{SESSIONS_WANTED * made.service_seconds / made.service_made / 60:.0f} min",
        f"  the other {made.copies:,}: database copies of those real sessions (fresh ids "
        f"and tokens; they share their template's encrypted files) in "
        f"{made.copy_seconds:.1f} s; every session's expiry moved an hour on (SQL)",
        "  latency = progress frame sent -> the page's feed has it",
        *_report("mynasign", ours),
        *_report("bare relay", relay),
    ]
    for load, values in ours.latencies.items():
        ratio = _percentiles(values)[1] / _percentiles(relay.latencies[load])[1]
        report.append(f"  {load}: p99 ratio mynasign / relay {ratio:.2f}")
    paced = _percentiles(ours.latencies[PACED_LOAD])[1]
    report.append(
        f"  targets: p99 < {TARGET_P99_MS:.0f} ms at {PACED_RATE:.0f}/s "
        f"({'met' if paced < TARGET_P99_MS else 'NOT met'}: {paced:.1f} ms); "
        f"RSS < {TARGET_RSS_MB:.0f} MB "
        f"({'met' if ours.rss_peak < TARGET_RSS_MB else 'NOT met'}: {ours.rss_peak:.0f} MB)"
    )
    return report
