"""One HTTP client per process: timestamps and OCSP requests reuse kept-alive connections."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from asn1crypto import x509
from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError
from pyhanko_certvalidator.authority import AuthorityWithCert

from jpkisim.pki import IssuedCard, TestPki
from jpkisim.pki_server import PkiServer
from webapp.card_signing.validation import OcspRevocationChecker
from webapp.http_client import (
    CONNECT_RETRIES,
    PooledFetcherBackend,
    close_shared_client,
    shared_client,
)
from webapp.pdf.frozen_asn1 import KeepingTimeStamper

COUNT = 20


@pytest.fixture
def server(test_pki: TestPki) -> Iterator[PkiServer]:
    """The test PKI's services on a port of their own, counting the connections they take."""
    close_shared_client()  # start from no kept-alive connection
    with PkiServer(test_pki.directory) as running:
        yield running
    close_shared_client()


def timestamp_in_a_fresh_loop(stamper: HTTPTimeStamper | KeepingTimeStamper, n: int) -> None:
    """As PDF steps do: each on an event loop of its own (`webapp.offload.run_pdf_step`)."""
    digest = hashlib.sha256(f"document {n}".encode()).digest()
    token = asyncio.run(stamper.async_timestamp(digest, "sha256"))
    assert token["content_type"].native == "signed_data"


def test_many_timestamps_share_one_connection(server: PkiServer) -> None:
    stamper = KeepingTimeStamper(f"{server.url}/tsa")
    for n in range(COUNT):
        timestamp_in_a_fresh_loop(stamper, n)
    assert server.connections_accepted == 1
    assert shared_client() is shared_client()


def test_the_count_would_see_a_connection_per_timestamp(server: PkiServer) -> None:
    stamper = HTTPTimeStamper(f"{server.url}/tsa")  # pyHanko's default: a session per request
    for n in range(5):
        timestamp_in_a_fresh_loop(stamper, n)
    assert server.connections_accepted == 5


def test_timestamps_from_many_threads_at_once(server: PkiServer) -> None:
    stamper = KeepingTimeStamper(f"{server.url}/tsa")
    threads_count, per_thread = 6, 5
    start = threading.Barrier(threads_count)
    failures: list[BaseException] = []

    def work(first: int) -> None:
        start.wait(timeout=30)
        try:
            for n in range(first, first + per_thread):
                timestamp_in_a_fresh_loop(stamper, n)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i * per_thread,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert 1 <= server.connections_accepted <= threads_count  # reused, never one per request


def test_ocsp_checks_share_one_connection(
    server: PkiServer, test_pki: TestPki, issued_card: IssuedCard
) -> None:
    checker = OcspRevocationChecker(f"{server.url}/ocsp")
    card = x509.Certificate.load(issued_card.sign_cert_der)
    issuer = AuthorityWithCert(x509.Certificate.load(test_pki.sign_root_der))
    now = datetime.datetime.now(datetime.UTC)
    for _ in range(10):  # a fetcher per validation, as the card check makes them
        answer = asyncio.run(checker.fetcher(now).fetch(card, issuer))
        assert (
            answer.basic_ocsp_response["tbs_response_data"]["responses"][0]["cert_status"].name
            == "good"
        )
    assert server.connections_accepted == 1


class _StartOnRefusals(logging.Handler):
    """Starts `server` when urllib3 reports its `refusals`-th refused connection."""

    def __init__(self, server: PkiServer, refusals: int) -> None:
        super().__init__(logging.WARNING)
        self.server, self.refusals = server, refusals
        self.seen: list[float] = []  # when each refusal was reported

    def emit(self, record: logging.LogRecord) -> None:
        if "NewConnectionError" in record.getMessage():
            self.seen.append(time.monotonic())
            if len(self.seen) == self.refusals:
                self.server.start()


def test_an_ocsp_responder_back_within_two_seconds_is_reached(
    test_pki: TestPki, issued_card: IssuedCard
) -> None:
    with socket.socket() as probe:  # a port nothing listens on, until the handler starts it
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    later = PkiServer(test_pki.directory, port=port)
    starter = _StartOnRefusals(later, refusals=CONNECT_RETRIES)
    pool_log = logging.getLogger("urllib3.connectionpool")
    pool_log.addHandler(starter)
    close_shared_client()
    try:
        checker = OcspRevocationChecker(f"http://127.0.0.1:{port}/ocsp")
        card = x509.Certificate.load(issued_card.sign_cert_der)
        issuer = AuthorityWithCert(x509.Certificate.load(test_pki.sign_root_der))
        now = datetime.datetime.now(datetime.UTC)
        answer = asyncio.run(checker.fetcher(now).fetch(card, issuer))
    finally:
        pool_log.removeHandler(starter)
        later.stop()
        close_shared_client()
    assert len(starter.seen) == CONNECT_RETRIES  # refused three times, then answered
    assert starter.seen[-1] - starter.seen[0] >= 0.5  # not at once: a pause to come back
    status = answer.basic_ocsp_response["tbs_response_data"]["responses"][0]["cert_status"]
    assert status.name == "good"


def test_a_tsa_that_is_down_is_a_timestamp_error(server: PkiServer) -> None:
    url = f"{server.url}/tsa"
    server.stop()
    with pytest.raises(TimestampRequestError, match="contacting timestamp service"):
        timestamp_in_a_fresh_loop(KeepingTimeStamper(url, timeout=5), 0)


def test_a_wrong_answer_is_a_timestamp_error(server: PkiServer) -> None:
    stamper = KeepingTimeStamper(f"{server.url}/certs/tsa-root.crt")  # not a TSA: 404 to a POST
    with pytest.raises(TimestampRequestError):
        timestamp_in_a_fresh_loop(stamper, 0)


def test_the_fetcher_backend_gives_fresh_fetchers() -> None:
    backend = PooledFetcherBackend(5)
    first, second = backend.get_fetchers(), backend.get_fetchers()
    assert first.ocsp_fetcher is not second.ocsp_fetcher
    asyncio.run(backend.close())
