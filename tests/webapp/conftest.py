"""Fixtures for the web service: a running app on embedded defaults, a sender, test PDFs."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfWriter
from sqlalchemy import select, text

from jpkisim.pki import TestPki
from webapp.app import create_app
from webapp.db.models import OutgoingMail, User
from webapp.pdf import TimestampUnavailable
from webapp.pdf.workers import FinalizeJob, PdfJob, PdfWorkers
from webapp.services.accounts import create_api_token, sign_up
from webapp.services.context import ServiceContext
from webapp.settings import Settings, load_settings

LINK = re.compile(r"/r/([A-Za-z0-9_-]{40,})")


def make_pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass
class Service:
    """The app under test, its context and a sender with an API token."""

    client: TestClient
    context: ServiceContext
    sender: User
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def mails_to(self, address: str) -> list[OutgoingMail]:
        with self.context.sessions() as db:
            return list(
                db.scalars(
                    select(OutgoingMail)
                    .where(OutgoingMail.to == address)
                    .order_by(OutgoingMail.created_at)
                )
            )

    def link_token(self, address: str) -> str:
        """The token of the newest link mailed to `address`."""
        mails = self.mails_to(address)
        assert mails, f"no mail to {address}"
        found = LINK.findall(mails[-1].body_text)
        assert found, mails[-1].body_text
        return str(found[-1])


@dataclass(frozen=True)
class PreparedDataDir:
    """A development data directory made once per run, to be copied, never used itself:
    the development PKI, the seal, a migrated database, the development secrets and a
    sender with an API token, which take about a second to make for every test."""

    path: Path
    sender_id: str
    token: str


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> PreparedDataDir:
    """The run's `PreparedDataDir`.

    The PKI names a free port of its own rather than the default one, so that the services
    of the copies (one test at a time) do not meet another run's development PKI there.
    """
    template = tmp_path_factory.mktemp("prepared") / "var"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    TestPki.init(template / "pki", base_url=f"http://127.0.0.1:{port}")
    settings = load_settings(environment="development", data_dir=template)
    with TestClient(create_app(settings)) as client:  # makes the seal, database, secrets
        made = with_sender(client)
    return PreparedDataDir(template, made.sender.id, made.token)


@pytest.fixture(scope="session")
def prepared_data_dir(prepared: PreparedDataDir) -> Path:
    """The prepared data directory (`prepared`), for fixtures that add to a copy of it."""
    return prepared.path


def settings_on_copy(template: Path, tmp_path: Path, **overrides: Any) -> Settings:
    """Development settings on a copy of `template` that is this test's own."""
    data_dir = tmp_path / "var"
    shutil.copytree(template, data_dir)
    return load_settings(environment="development", data_dir=data_dir, **overrides)


@pytest.fixture
def settings(prepared: PreparedDataDir, tmp_path: Path) -> Settings:
    """Development settings on this test's own copy of the prepared data directory."""
    return settings_on_copy(prepared.path, tmp_path)


@pytest.fixture
def service(settings: Settings, prepared: PreparedDataDir) -> Iterator[Service]:
    """The app on `settings`, with the prepared sender and API token if its data directory
    is a copy of the prepared one, or a new sender otherwise."""
    with TestClient(create_app(settings)) as client:
        yield with_prepared_sender(client, prepared)


def with_prepared_sender(client: TestClient, prepared: PreparedDataDir) -> Service:
    """The running app with the prepared sender (its data directory is a copy of the
    prepared one) or, on another data directory, a new one (`with_sender`)."""
    context: ServiceContext = client.app.state.context  # type: ignore[attr-defined]
    with context.sessions() as db:
        sender = db.get(User, prepared.sender_id)
    if sender is None:
        return with_sender(client)
    return Service(client, context, sender, prepared.token)


@contextlib.contextmanager
def tsa_down(context: ServiceContext) -> Iterator[None]:
    """The TSA unreachable while the block runs, for the PDF workers and this process."""
    workers = context.pdf_workers()
    dead_url = "http://127.0.0.1:9/tsa"  # nothing listens on the discard port
    spec = None if workers.spec is None else dataclasses.replace(workers.spec, tsa_url=dead_url)
    timestamper = context.sealer.timestamper
    working_url = timestamper.url
    context.pdf = PdfWorkers(
        spec, processes=workers.processes, in_thread_sealer=workers.in_thread_sealer
    )
    timestamper.url = dead_url
    try:
        yield
    finally:
        context.pdf = workers
        timestamper.url = working_url


class _ClosingStepDown(PdfWorkers):
    """The real PDF workers, but every closing step fails as if the TSA were down."""

    def __init__(self, workers: PdfWorkers) -> None:
        super().__init__(
            workers.spec, processes=workers.processes, in_thread_sealer=workers.in_thread_sealer
        )

    def run(self, job: PdfJob, source: Path, output: Path) -> Any:
        if isinstance(job, FinalizeJob):
            raise TimestampUnavailable("test: the TSA is down for the closing step")
        return super().run(job, source, output)


@contextlib.contextmanager
def closing_step_down(context: ServiceContext) -> Iterator[None]:
    """Agreements are sealed as usual; the closing step fails (TSA down) in the block."""
    workers = context.pdf_workers()
    context.pdf = _ClosingStepDown(workers)
    try:
        yield
    finally:
        context.pdf = workers


def with_sender(client: TestClient) -> Service:
    """The running app with a new sender and an API token."""
    context: ServiceContext = client.app.state.context  # type: ignore[attr-defined]
    with context.sessions() as db:
        user = sign_up(db, "sender@example.jp", "kiri-sakura-7-tsuki", "送信 太郎")
        issued = create_api_token(db, user, "tests")
        db.commit()
    return Service(client, context, user, issued.token)


@contextlib.contextmanager
def writer_turn_held(context: ServiceContext) -> Iterator[threading.Thread]:
    """Another thread holds a write transaction (on SQLite: the one writer's turn) while
    the block runs; the block gets that thread, to check it still holds it."""
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with context.sessions.begin() as db:  # SQLite: BEGIN IMMEDIATE, the turn
            db.execute(text("SELECT 1"))
            holding.set()
            release.wait(timeout=30)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        yield thread
    finally:
        release.set()
        thread.join(timeout=10)
