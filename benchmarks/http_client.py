"""Time per timestamp and per OCSP request: one HTTP client per process against one per request.

Both sides ask the test PKI's TSA and OCSP responder on loopback, each request on an event
loop of its own, as the service's PDF steps run (`webapp.offload.run_pdf_step`).

- per request: what the service did before, and what pyHanko does by default: a new
  aiohttp session for every request (`HTTPTimeStamper`; for OCSP, a session per POST),
  with its TLS context and the CA bundle loaded each time, even for http://.
- shared: `webapp.http_client`, one pooled session per process, connections kept alive.

Time: the median per request of ROUNDS rounds of REQUESTS requests, the sides alternating.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.timestamps.api import TimeStamper

from jpkisim.pki import TestPki
from jpkisim.pki_server import PkiServer
from webapp.card_signing.validation.ocsp import MAX_RESPONSE_BYTES
from webapp.http_client import close_shared_client, shared_client
from webapp.pdf.frozen_asn1 import KeepingTimeStamper

ROUNDS = 5
REQUESTS = 40


def timestamps(stamper: TimeStamper) -> float:
    """Seconds per timestamp over REQUESTS timestamps, each on a fresh event loop."""
    started = time.perf_counter()
    for n in range(REQUESTS):
        digest = hashlib.sha256(n.to_bytes(4, "big")).digest()
        asyncio.run(stamper.async_timestamp(digest, "sha256"))
    return (time.perf_counter() - started) / REQUESTS


def ocsp_requests(ask: Callable[[], object]) -> float:
    started = time.perf_counter()
    for _ in range(REQUESTS):
        ask()
    return (time.perf_counter() - started) / REQUESTS


async def ocsp_with_a_new_session(url: str, request_der: bytes) -> bytes:
    """The former OCSP client: an aiohttp session for each request."""
    headers = {"Content-Type": "application/ocsp-request"}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.post(url, data=request_der, headers=headers) as response,
    ):
        return await response.read()


async def ocsp_with_the_shared_client(url: str, request_der: bytes) -> bytes:
    """What `OcspRevocationChecker` now does to send a request (without checking the answer)."""
    answer = await asyncio.to_thread(
        shared_client().post, url, request_der, content_type="application/ocsp-request",
        accept="application/ocsp-response", timeout=10, max_bytes=MAX_RESPONSE_BYTES,
    )  # fmt: skip
    return answer.body


def compare(label: str, per_request: Callable[[], float], shared: Callable[[], float]) -> str:
    old: list[float] = []
    new: list[float] = []
    per_request(), shared()  # warm up: imports, first connections
    for _ in range(ROUNDS):
        old.append(per_request())
        new.append(shared())
    old_ms, new_ms = statistics.median(old) * 1000, statistics.median(new) * 1000
    return (
        f"  {label}: {new_ms:.2f} ms with the shared client, {old_ms:.2f} ms with a session "
        f"per request (ratio {new_ms / old_ms:.2f}, {old_ms - new_ms:.2f} ms saved each)"
    )


def run() -> list[str]:
    directory = Path(tempfile.mkdtemp(prefix="mynasign-bench-http-"))
    try:
        pki = TestPki.init(directory / "pki")
        card = pki.issue_card()
        with PkiServer(pki.directory) as server:
            tsa, responder = f"{server.url}/tsa", f"{server.url}/ocsp"
            report = [
                f"outbound HTTP (test PKI on loopback, {ROUNDS} rounds of {REQUESTS} requests, "
                "each on a fresh event loop)"
            ]
            report.append(
                compare(
                    "timestamp",
                    lambda: timestamps(HTTPTimeStamper(tsa)),
                    lambda: timestamps(KeepingTimeStamper(tsa)),
                )
            )
            request_der = (
                ocsp.OCSPRequestBuilder()
                .add_certificate(card.sign_cert, pki.sign_root_cert, hashes.SHA1())  # noqa: S303 - RFC 5019 CertID
                .build()
                .public_bytes(Encoding.DER)
            )
            report.append(
                compare(
                    "OCSP request",
                    lambda: ocsp_requests(
                        lambda: asyncio.run(ocsp_with_a_new_session(responder, request_der))
                    ),
                    lambda: ocsp_requests(
                        lambda: asyncio.run(ocsp_with_the_shared_client(responder, request_der))
                    ),
                )
            )
            report.append(f"  connections the PKI server took: {server.connections_accepted}")
        return report
    finally:
        close_shared_client()
        shutil.rmtree(directory, ignore_errors=True)
