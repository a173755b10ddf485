"""One HTTP client per process for the TSA, OCSP and CRL fetches: pooled connections, one TLS setup.

Every timestamp, OCSP request and CRL download of the service goes through the process's
`shared_client()`: a `requests.Session` over urllib3's connection pool, made on first use
and closed by the runtime at shutdown (`close_shared_client`). Connections to a TSA or
responder are kept alive and reused, and the CA bundle is loaded into a TLS context once
per process (requests keeps one preloaded context), not once per request.

Why a synchronous client, called in a thread (`asyncio.to_thread`), rather than aiohttp:
pyHanko's async API runs on whichever event loop calls it, and the service calls it from
many: each PDF step runs on a private event loop of its worker thread, made for that step
(`webapp.offload.run_pdf_step`), and card checks run on the server's loop. An aiohttp
session and its connections belong to one loop, so one per process cannot serve them all;
a session per loop is a session (and a TLS context) per step again, which is what cost
21 % of the server's CPU. urllib3's pool is thread-safe; the session is only ever used
for stateless requests (its cookie jar refuses every cookie, nothing is mounted or
changed after it is made), which is the part of `requests.Session` that threads share
safely. Figures: `python -m benchmarks http_client`, in docs/performance.md.

pyHanko's own requests-based timestamper and fetchers call `requests.post` / `get` at
module level (a new connection every time), so `PooledTimeStamper` and
`PooledFetcherBackend` here send theirs through the shared session instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
from asn1crypto import tsp
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError, set_tsp_headers
from pyhanko_certvalidator.fetchers.api import FetcherBackend, Fetchers, FetchLimits
from pyhanko_certvalidator.fetchers.common_utils import FetchBudget
from pyhanko_certvalidator.fetchers.requests_fetchers.cert_fetch_client import (
    RequestsCertificateFetcher,
)
from pyhanko_certvalidator.fetchers.requests_fetchers.crl_client import RequestsCRLFetcher
from pyhanko_certvalidator.fetchers.requests_fetchers.ocsp_client import RequestsOCSPFetcher
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

MAX_CONNECTIONS_PER_HOST = 32
"""Kept-alive connections per host: more than the PDF steps and card checks at once."""
MAX_TIMESTAMP_BYTES = 1024 * 1024
READ_CHUNK = 16 * 1024
USER_AGENT = "mynasign"
CONNECT_RETRIES = 3
CONNECT_BACKOFF_SECONDS = 0.25
"""urllib3's backoff: none before the first retry, then 0.25 * 2**n s (0.5 s, 1 s)."""


class HttpFetchError(Exception):
    """A request failed: not sent, no answer in time, or an answer too large."""


@dataclass(frozen=True)
class HttpAnswer:
    """An HTTP answer, read whole (up to the caller's limit)."""

    status: int
    content_type: str
    body: bytes


class HttpClient:
    """A pooled, thread-safe HTTP client for small requests (timestamps, OCSP, CRLs)."""

    def __init__(self, *, max_connections: int = MAX_CONNECTIONS_PER_HOST) -> None:
        session = requests.Session()
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # stateless
        session.headers["User-Agent"] = USER_AGENT
        # Timestamp, OCSP and CRL requests are safe to repeat. A kept-alive connection the
        # server has just closed is retried once on a fresh one, at once; a refused or
        # failed connection is tried again after 0.5 s and 1 s, so a responder that fails
        # over or restarts within that time (as a person waits with the card on the phone)
        # does not turn into "revocation unknown, try again".
        retry = Retry(
            total=CONNECT_RETRIES + 1, connect=CONNECT_RETRIES, read=1, other=1, status=0,
            backoff_factor=CONNECT_BACKOFF_SECONDS, backoff_max=1.0,
            allowed_methods=frozenset({"GET", "POST"}), raise_on_status=False,
        )  # fmt: skip
        adapter = HTTPAdapter(pool_connections=16, pool_maxsize=max_connections, max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self.session = session

    def post(
        self,
        url: str,
        body: bytes,
        *,
        content_type: str,
        accept: str,
        timeout: float,
        max_bytes: int,
        headers: dict[str, str] | None = None,
    ) -> HttpAnswer:
        """POST `body`; the answer, whatever its status (`HttpFetchError` if none came)."""
        sent = {"Content-Type": content_type, "Accept": accept, **(headers or {})}
        return self._request("POST", url, body, sent, timeout, max_bytes)

    def get(self, url: str, *, accept: str, timeout: float, max_bytes: int) -> HttpAnswer:
        """GET `url`; the answer, whatever its status (`HttpFetchError` if none came)."""
        return self._request("GET", url, None, {"Accept": accept}, timeout, max_bytes)

    def close(self) -> None:
        """Close the kept-alive connections (a later request opens new ones)."""
        self.session.close()

    def _request(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: float,
        max_bytes: int,
    ) -> HttpAnswer:
        try:
            with self.session.request(
                method, url, data=body, headers=headers, timeout=timeout, stream=True
            ) as response:
                received = bytearray()
                for chunk in response.iter_content(READ_CHUNK):
                    received += chunk
                    if len(received) > max_bytes:
                        raise HttpFetchError(f"the answer from {url} is over {max_bytes} bytes")
                return HttpAnswer(
                    response.status_code, response.headers.get("Content-Type", ""), bytes(received)
                )
        except (requests.RequestException, OSError) as exc:
            raise HttpFetchError(f"{method} {url} failed: {type(exc).__name__}: {exc}") from exc


_shared: HttpClient | None = None
_shared_lock = threading.Lock()


def shared_client() -> HttpClient:
    """The process's HTTP client, made on first use."""
    global _shared  # noqa: PLW0603 - one client per process, by design
    with _shared_lock:
        if _shared is None:
            _shared = HttpClient()
        return _shared


def close_shared_client() -> None:
    """Close the process's client (at shutdown); the next request would make a new one."""
    global _shared
    with _shared_lock:
        client, _shared = _shared, None
    if client is not None:
        client.close()


class PooledTimeStamper(TimeStamper):
    """An RFC 3161 client (HTTP POST) sending through the shared client."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
        client: HttpClient | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.url = url
        self.timeout = timeout
        self.headers = headers or {}
        self._client = client

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return await asyncio.to_thread(self._request, req.dump())

    def _request(self, request_der: bytes) -> tsp.TimeStampResp:
        client = self._client or shared_client()
        headers: dict[str, str] = set_tsp_headers(dict(self.headers))
        content_type = headers.pop("Content-Type")
        try:
            answer = client.post(
                self.url, request_der, content_type=content_type,
                accept="application/timestamp-reply", timeout=self.timeout,
                max_bytes=MAX_TIMESTAMP_BYTES, headers=headers,
            )  # fmt: skip
        except HttpFetchError as exc:
            raise TimestampRequestError(f"Error while contacting timestamp service: {exc}") from exc
        if answer.status != 200:
            raise TimestampRequestError(f"the timestamp service answered HTTP {answer.status}")
        if answer.content_type.split(";")[0].strip() != "application/timestamp-reply":
            raise TimestampRequestError(
                "Timestamp server response is malformed: expected content type "
                f"application/timestamp-reply, but got {answer.content_type or 'none'}"
            )
        try:
            return tsp.TimeStampResp.load(answer.body)
        except ValueError as exc:
            raise TimestampRequestError("the TSA's answer cannot be parsed") from exc


class _PooledFetching:
    """pyHanko's requests-based fetchers' two HTTP calls, through the shared session.

    pyHanko's fetchers read `.content` and `.headers` of what these return and turn a
    `requests.RequestException` into their fetch errors.
    """

    per_request_timeout: float
    user_agent: str

    def _get(
        self, url: str, *, acceptable_content_types: Iterable[str]
    ) -> Awaitable[requests.Response]:
        headers = {"Accept": ",".join(acceptable_content_types), "User-Agent": self.user_agent}
        return asyncio.to_thread(self._send, "GET", url, None, headers)

    def _post(
        self,
        url: str,
        data: bytes,
        *,
        content_type: str,
        acceptable_content_types: Iterable[str],
    ) -> Awaitable[requests.Response]:
        headers = {
            "Accept": ",".join(acceptable_content_types),
            "User-Agent": self.user_agent,
            "Content-Type": content_type,
        }
        return asyncio.to_thread(self._send, "POST", url, data, headers)

    def _send(
        self, method: str, url: str, data: bytes | None, headers: dict[str, str]
    ) -> requests.Response:
        session = shared_client().session
        response = session.request(
            method, url, data=data, headers=headers, timeout=self.per_request_timeout
        )
        if response.status_code != 200:
            raise requests.RequestException(f"status code {response.status_code}")
        return response


class _OcspFetcher(_PooledFetching, RequestsOCSPFetcher):
    pass


class _CrlFetcher(_PooledFetching, RequestsCRLFetcher):
    pass


class _CertificateFetcher(_PooledFetching, RequestsCertificateFetcher):
    pass


class PooledFetcherBackend(FetcherBackend):
    """OCSP, CRL and issuer-certificate fetchers for pyHanko's validation, on the shared client."""

    def __init__(self, per_request_timeout: float = 10.0, *, limits: Any = None) -> None:
        self.per_request_timeout = per_request_timeout
        self.limits = limits if limits is not None else FetchLimits()

    def get_fetchers(self) -> Fetchers:
        timeout, budget = self.per_request_timeout, FetchBudget(self.limits)
        return Fetchers(
            ocsp_fetcher=_OcspFetcher(per_request_timeout=timeout, budget=budget),
            crl_fetcher=_CrlFetcher(per_request_timeout=timeout, budget=budget),  # type: ignore[no-untyped-call]
            cert_fetcher=_CertificateFetcher(per_request_timeout=timeout, budget=budget),
        )

    async def close(self) -> None:
        """Nothing to close: the shared client outlives every validation."""
