"""Revocation by OCSP: the operator's responder, asked through the service's one HTTP client.

`OcspRevocationChecker(url)` makes, per validation, a pyhanko-certvalidator OCSP fetcher
that sends every request to `url` (HTTP POST, a CertID of SHA-1 as RFC 5019 expects or
SHA-256, and a nonce), whatever responder the certificate names. pyhanko-certvalidator
then judges the answer: signed by the issuer or a delegated responder it authorised,
for this certificate, current, our nonce if one is echoed. The request goes through
`webapp.http_client.shared_client()` (kept-alive connections); on a worker thread's
private event loop, where the card check runs, it is sent from that thread directly.
The signer's certificate must name an OCSP responder (JPKI signing certificates do),
or pyhanko-certvalidator does not ask for its status and the signature is refused.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from asn1crypto import ocsp
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.authority import Authority
from pyhanko_certvalidator.errors import OCSPFetchError
from pyhanko_certvalidator.fetchers.api import Fetchers, OCSPFetcher
from pyhanko_certvalidator.fetchers.common_utils import (
    format_ocsp_request,
    process_ocsp_response_data,
)
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import RevocationCheckingRule
from pyhanko_certvalidator.util import issuer_serial

from webapp.card_signing.validation.revocation import (
    AnyCertificate,
    NoCertificateFetching,
    NoCrlFetching,
    RevocationEvidence,
    RevocationMethod,
    RevocationSetup,
    ahead_of,
)
from webapp.http_client import HttpAnswer, HttpFetchError, shared_client
from webapp.offload import on_private_loop

MAX_RESPONSE_BYTES = 256 * 1024
CertIdHash = Literal["sha1", "sha256"]


class ResponderFetcher(OCSPFetcher):
    """pyhanko-certvalidator's OCSP fetcher for one responder, for one validation at `at`."""

    def __init__(
        self, url: str, *, timeout: float, cert_id_hash: CertIdHash, at: datetime.datetime
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.cert_id_hash = cert_id_hash
        self.at = at
        self._answers: dict[bytes, ocsp.OCSPResponse] = {}

    async def fetch(self, cert: AnyCertificate, authority: Authority) -> ocsp.OCSPResponse:
        key = issuer_serial(cert)
        if key in self._answers:
            return self._answers[key]
        request = format_ocsp_request(
            cert,
            authority,
            certid_hash_algo=self.cert_id_hash,
            request_nonces=True,
        )
        answer = await self._post(request.dump())
        if answer.status != 200:
            raise OCSPFetchError(f"the OCSP responder answered HTTP {answer.status}")
        response: ocsp.OCSPResponse = process_ocsp_response_data(
            answer.body, ocsp_request=request, ocsp_url=self.url
        )
        _refuse_answers_from_the_future(response, self.at)
        self._answers[key] = response
        return response

    async def _post(self, request_der: bytes) -> HttpAnswer:
        send = functools.partial(
            shared_client().post, self.url, request_der,
            content_type="application/ocsp-request", accept="application/ocsp-response",
            timeout=self.timeout, max_bytes=MAX_RESPONSE_BYTES,
        )  # fmt: skip
        try:
            if on_private_loop():  # this worker thread's own loop: nothing else waits on it
                return send()
            return await asyncio.to_thread(send)
        except HttpFetchError as exc:
            raise OCSPFetchError(f"the OCSP responder could not be reached: {exc}") from exc

    def fetched_responses(self) -> Iterable[ocsp.OCSPResponse]:
        return list(self._answers.values())

    def fetched_responses_for_cert(self, cert: AnyCertificate) -> Iterable[ocsp.OCSPResponse]:
        answer = self._answers.get(issuer_serial(cert))
        return [] if answer is None else [answer]


def _refuse_answers_from_the_future(response: ocsp.OCSPResponse, at: datetime.datetime) -> None:
    try:
        singles = response.basic_ocsp_response["tbs_response_data"]["responses"]
        updates = [single["this_update"].native for single in singles]
    except (ValueError, KeyError, TypeError) as exc:
        raise OCSPFetchError(f"the OCSP response cannot be read: {exc}") from exc
    if any(ahead_of(this_update, at) for this_update in updates):
        raise OCSPFetchError("the OCSP response's thisUpdate is in the future")


@dataclass
class _OcspSetup(RevocationSetup):
    responder: ResponderFetcher | None = None

    def evidence(self, context: ValidationContext, path: ValidationPath) -> RevocationEvidence:
        assert self.responder is not None  # noqa: S101 - set by the checker
        [answer] = self.responder.fetched_responses_for_cert(path.leaf)
        return RevocationEvidence(method="ocsp", ocsp_response=answer.dump())


class OcspRevocationChecker:
    """Asks the OCSP responder at `responder_url` about each card certificate."""

    method: RevocationMethod = "ocsp"

    def __init__(
        self,
        responder_url: str,
        *,
        timeout_seconds: float = 10.0,
        cert_id_hash: CertIdHash = "sha1",
    ) -> None:
        if not responder_url.startswith(("http://", "https://")):
            raise ValueError(f"an OCSP responder URL is http(s), not {responder_url!r}")
        if cert_id_hash not in ("sha1", "sha256"):
            raise ValueError(f"CertID hash is sha1 or sha256, not {cert_id_hash!r}")
        self.responder_url = responder_url
        self.timeout_seconds = timeout_seconds
        self.cert_id_hash: CertIdHash = cert_id_hash

    def fetcher(self, at: datetime.datetime) -> ResponderFetcher:
        """An OCSP fetcher for one validation at `at`."""
        return ResponderFetcher(
            self.responder_url, timeout=self.timeout_seconds, cert_id_hash=self.cert_id_hash, at=at
        )

    def setup(self, at: datetime.datetime) -> RevocationSetup:
        responder = self.fetcher(at)
        fetchers = Fetchers(
            ocsp_fetcher=responder,
            crl_fetcher=NoCrlFetching(),
            cert_fetcher=NoCertificateFetching(),
        )
        return _OcspSetup(
            "ocsp", RevocationCheckingRule.OCSP_REQUIRED, fetchers=fetchers, responder=responder
        )
