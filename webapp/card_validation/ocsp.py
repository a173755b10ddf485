"""Revocation by OCSP (RFC 6960): ask the operator's responder, believe only a signed, fresh answer.

The request names the certificate by a SHA-1 CertID (what every responder understands,
RFC 5019; SHA-256 on request) and carries a nonce. The answer counts only when it is a
successful basic response for that CertID, signed either by the issuer itself or by a
delegated responder certificate included in the response, issued by the issuer, valid
now and with extended key usage OCSPSigning; when it echoes a nonce, ours; and when it
is current: thisUpdate at most `CLOCK_SKEW` ahead, nextUpdate not passed (without a
nextUpdate, thisUpdate at most `MAX_AGE_WITHOUT_NEXT_UPDATE` old).
"""

from __future__ import annotations

import asyncio
import datetime
import secrets
from typing import Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from webapp.card_validation.revocation import (
    CLOCK_SKEW,
    RevocationEvidence,
    RevocationUnavailableError,
    is_directly_issued_by,
    is_valid_at,
    verify_signature,
)
from webapp.http_client import HttpFetchError, shared_client

MAX_RESPONSE_BYTES = 256 * 1024
MAX_AGE_WITHOUT_NEXT_UPDATE = datetime.timedelta(hours=1)
NONCE_BYTES = 16
CertIdHash = Literal["sha1", "sha256"]
_CERT_ID_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,  # RFC 5019's CertID hash: it names, the signature protects
    "sha256": hashes.SHA256,
}


class OcspRevocationChecker:
    """Asks the OCSP responder at `responder_url` (HTTP POST) about each certificate."""

    def __init__(
        self,
        responder_url: str,
        *,
        timeout_seconds: float = 10.0,
        cert_id_hash: CertIdHash = "sha1",
    ) -> None:
        if not responder_url.startswith(("http://", "https://")):
            raise ValueError(f"an OCSP responder URL is http(s), not {responder_url!r}")
        if cert_id_hash not in _CERT_ID_HASHES:
            raise ValueError(f"CertID hash is sha1 or sha256, not {cert_id_hash!r}")
        self.responder_url = responder_url
        self.timeout_seconds = timeout_seconds
        self.cert_id_hash = cert_id_hash

    async def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime.datetime
    ) -> RevocationEvidence:
        nonce = secrets.token_bytes(NONCE_BYTES)
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(certificate, issuer, _CERT_ID_HASHES[self.cert_id_hash]())
            .add_extension(x509.OCSPNonce(nonce), critical=False)
            .build()
        )
        body = await self._post(request.public_bytes(Encoding.DER))
        return read_ocsp_answer(body, certificate, issuer, at, nonce)

    async def _post(self, request_der: bytes) -> bytes:
        """POST the request through the process's one HTTP client (kept-alive connections)."""
        try:
            answer = await asyncio.to_thread(
                shared_client().post, self.responder_url, request_der,
                content_type="application/ocsp-request", accept="application/ocsp-response",
                timeout=self.timeout_seconds, max_bytes=MAX_RESPONSE_BYTES,
            )  # fmt: skip
        except HttpFetchError as exc:
            raise RevocationUnavailableError(
                f"the OCSP responder could not be reached: {exc}"
            ) from exc
        if answer.status != 200:
            raise RevocationUnavailableError(f"the OCSP responder answered HTTP {answer.status}")
        return answer.body


def read_ocsp_answer(
    body: bytes,
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    at: datetime.datetime,
    nonce: bytes | None = None,
) -> RevocationEvidence:
    """What a DER OCSPResponse says about `certificate`; `RevocationUnavailableError` if nothing."""
    try:
        response = ocsp.load_der_ocsp_response(body)
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise RevocationUnavailableError(
                f"the OCSP responder answered {response.response_status.name}"
            )
        _check_signer(response, issuer, at)
        _check_nonce(response, nonce)
        single = _single_response_for(response, certificate, issuer)
        _check_current(single, at)
        status = single.certificate_status
        revoked_at = single.revocation_time_utc
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise RevocationUnavailableError(f"the OCSP response is unusable: {exc}") from exc
    if status == ocsp.OCSPCertStatus.GOOD:
        return RevocationEvidence(method="ocsp", status="good", ocsp_response=body)
    if status == ocsp.OCSPCertStatus.REVOKED:
        return RevocationEvidence(
            method="ocsp", status="revoked", ocsp_response=body, revoked_at=revoked_at
        )
    raise RevocationUnavailableError("the OCSP responder does not know the certificate")


def _check_signer(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, at: datetime.datetime
) -> None:
    for candidate in [issuer, *response.certificates]:
        if not _is_named_responder(response, candidate):
            continue
        if candidate != issuer and not _is_delegated_responder(candidate, issuer, at):
            continue
        if verify_signature(
            candidate.public_key(),
            response.signature,
            response.tbs_response_bytes,
            response.signature_hash_algorithm,
        ):
            return
    raise RevocationUnavailableError(
        "the OCSP response is not signed by the issuer or a responder the issuer authorised"
    )


def _is_named_responder(response: ocsp.OCSPResponse, candidate: x509.Certificate) -> bool:
    if response.responder_name is not None:
        return candidate.subject == response.responder_name
    key_id = x509.SubjectKeyIdentifier.from_public_key(candidate.public_key()).digest
    return response.responder_key_hash == key_id


def _is_delegated_responder(
    candidate: x509.Certificate, issuer: x509.Certificate, at: datetime.datetime
) -> bool:
    try:
        usage = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return (
        ExtendedKeyUsageOID.OCSP_SIGNING in usage
        and is_directly_issued_by(candidate, issuer)
        and is_valid_at(candidate, at)
    )


def _check_nonce(response: ocsp.OCSPResponse, nonce: bytes | None) -> None:
    try:
        echoed = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return  # many responders send cached answers: freshness is checked instead
    if nonce is not None and echoed != nonce:
        raise RevocationUnavailableError("the OCSP response answers another request (nonce)")


def _single_response_for(
    response: ocsp.OCSPResponse, certificate: x509.Certificate, issuer: x509.Certificate
) -> ocsp.OCSPSingleResponse:
    for single in response.responses:
        if single.serial_number != certificate.serial_number:
            continue
        try:
            expected = (
                ocsp.OCSPRequestBuilder()
                .add_certificate(certificate, issuer, single.hash_algorithm)
                .build()
            )
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue  # a CertID hash we do not know
        if (single.issuer_name_hash, single.issuer_key_hash) == (
            expected.issuer_name_hash,
            expected.issuer_key_hash,
        ):
            return single
    raise RevocationUnavailableError("the OCSP response is not about the signer's certificate")


def _check_current(single: ocsp.OCSPSingleResponse, at: datetime.datetime) -> None:
    if single.this_update_utc > at + CLOCK_SKEW:
        raise RevocationUnavailableError("the OCSP response's thisUpdate is in the future")
    next_update = single.next_update_utc
    if next_update is None:
        if single.this_update_utc < at - MAX_AGE_WITHOUT_NEXT_UPDATE:
            raise RevocationUnavailableError("the OCSP response without nextUpdate is too old")
    elif next_update < at:
        raise RevocationUnavailableError("the OCSP response is stale (nextUpdate has passed)")
