"""Tests of the test PKI's HTTP services (jpkisim.pki_server) against real clients.

OCSP and CRL through cryptography, urllib and pyhanko-certvalidator; the TSA through
pyHanko's HTTPTimeStamper and validator and through `openssl ts -verify`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import logging
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation.generic_cms import (
    validate_tst_signed_data,
)
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import RevokedError
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

from jpkisim.pki import IssuedCard, TestPki
from jpkisim.pki_server import PkiServer

TSA_POLICY = "2.25.108345518625644708202120805352488937870.3"
DER = serialization.Encoding.DER


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.init(tmp_path_factory.mktemp("pki-server") / "pki")


@pytest.fixture(scope="module")
def server(pki: TestPki) -> Iterator[PkiServer]:
    with PkiServer(pki.directory) as running:
        pki.set_base_url(running.url)  # card certificates issued from now on point here
        yield running


@pytest.fixture(scope="module")
def card(pki: TestPki, server: PkiServer) -> IssuedCard:
    return pki.issue_card()


class Reply:
    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self.status, self.content_type, self.body = status, content_type, body


def _http(url: str, body: bytes | None = None, content_type: str = "") -> Reply:
    method = "GET" if body is None else "POST"
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - loopback
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return Reply(response.status, response.headers["Content-Type"], response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers["Content-Type"], error.read())


def _ocsp_request(cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes | None) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(DER)


def _post_ocsp(server: PkiServer, request_der: bytes) -> ocsp.OCSPResponse:
    reply = _http(f"{server.url}/ocsp", request_der, "application/ocsp-request")
    assert (reply.status, reply.content_type) == (200, "application/ocsp-response")
    return ocsp.load_der_ocsp_response(reply.body)


def _check_signed_by_responder(pki: TestPki, response: ocsp.OCSPResponse) -> None:
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificates == [pki.ocsp_cert]
    responder_key = pki.ocsp_cert.public_key()
    assert isinstance(responder_key, rsa.RSAPublicKey)
    assert response.signature_hash_algorithm is not None
    responder_key.verify(
        response.signature,
        response.tbs_response_bytes,
        padding.PKCS1v15(),
        response.signature_hash_algorithm,
    )
    key_hash = x509.SubjectKeyIdentifier.from_public_key(responder_key).digest
    assert response.responder_key_hash == key_hash
    assert response.next_update_utc is not None
    assert (response.next_update_utc - response.this_update_utc).total_seconds() == 3600


# -- OCSP ----------------------------------------------------------------------------------


def test_ocsp_good_then_revoked_by_another_process(
    pki: TestPki, server: PkiServer, caplog: pytest.LogCaptureFixture
) -> None:
    card = pki.issue_card()
    cert = card.sign_cert
    nonce = os.urandom(16)
    with caplog.at_level(logging.INFO, logger="jpkisim.pki_server"):
        good = _post_ocsp(server, _ocsp_request(cert, pki.sign_root_cert, nonce))
    _check_signed_by_responder(pki, good)
    assert good.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert good.serial_number == cert.serial_number
    assert good.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    lines = [r.getMessage() for r in caplog.records if r.name == "jpkisim.pki_server"]
    assert len(lines) == 1 and "POST /ocsp 200" in lines[0] and "good" in lines[0]

    revoke = "import sys; from pathlib import Path; from jpkisim.pki import TestPki; "
    revoke += "TestPki.load(Path(sys.argv[1])).revoke(int(sys.argv[2]), 'keyCompromise')"
    subprocess.run(
        [sys.executable, "-c", revoke, str(pki.directory), str(cert.serial_number)],
        check=True,
        timeout=60,
    )
    revoked = _post_ocsp(server, _ocsp_request(cert, pki.sign_root_cert, None))
    _check_signed_by_responder(pki, revoked)
    assert revoked.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert revoked.revocation_reason == x509.ReasonFlags.key_compromise
    record = pki.record(cert.serial_number)
    assert record is not None and revoked.revocation_time_utc == record.revoked_at
    with pytest.raises(x509.ExtensionNotFound):
        revoked.extensions.get_extension_for_class(x509.OCSPNonce)


def test_ocsp_over_get(pki: TestPki, server: PkiServer, card: IssuedCard) -> None:
    request = _ocsp_request(card.sign_cert, pki.sign_root_cert, None)
    encoded = urllib.parse.quote(base64.b64encode(request).decode(), safe="")
    reply = _http(f"{server.url}/ocsp/{encoded}")
    assert reply.status == 200
    response = ocsp.load_der_ocsp_response(reply.body)
    _check_signed_by_responder(pki, response)
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD


def test_ocsp_unknown_and_unauthorized(pki: TestPki, server: PkiServer, card: IssuedCard) -> None:
    # a serial this PKI never issued, under the right issuer (CertID built by hand): "unknown"
    root = pki.sign_root_cert
    root_key = root.public_key().public_bytes(DER, serialization.PublicFormat.PKCS1)
    request = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        hashlib.sha256(root.subject.public_bytes()).digest(),
        hashlib.sha256(root_key).digest(),
        x509.random_serial_number(),
        hashes.SHA256(),
    )
    unknown = _post_ocsp(server, request.build().public_bytes(DER))
    _check_signed_by_responder(pki, unknown)
    assert unknown.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    # the authentication root is not ours to answer for
    other = _post_ocsp(server, _ocsp_request(card.auth_cert, pki.auth_root_cert, None))
    assert other.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_ocsp_garbage_is_a_bad_request(server: PkiServer) -> None:
    reply = _http(f"{server.url}/ocsp", b"\x30\x03garbage", "application/ocsp-request")
    assert reply.status == 400
    response = ocsp.load_der_ocsp_response(reply.body)
    assert response.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert _http(f"{server.url}/ocsp/%%%not-base64").status == 400


# -- CRL and certificates ------------------------------------------------------------------


def test_crl_and_ca_issuers_downloads(pki: TestPki, server: PkiServer) -> None:
    card = pki.issue_card()
    crl_url = card.sign_cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    url = crl_url.value[0].full_name[0].value
    before = _http(url)
    assert (before.status, before.content_type) == (200, "application/pkix-crl")
    serial = card.sign_cert.serial_number
    assert (
        x509.load_der_x509_crl(before.body).get_revoked_certificate_by_serial_number(serial) is None
    )
    pki.revoke(serial)
    after = x509.load_der_x509_crl(_http(url).body)
    assert after.is_signature_valid(pki.sign_root_cert.public_key())  # type: ignore[arg-type]
    assert after.get_revoked_certificate_by_serial_number(serial) is not None

    aia = card.sign_cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    ca_issuers = [
        d.access_location.value
        for d in aia.value
        if d.access_method.dotted_string == "1.3.6.1.5.5.7.48.2"
    ]
    reply = _http(ca_issuers[0])
    assert (reply.status, reply.content_type) == (200, "application/pkix-cert")
    assert reply.body == pki.sign_root_der
    assert _http(f"{server.url}/certs/tsa-root.crt").body == pki.root_der("tsa-root")


def test_unknown_paths_and_methods(server: PkiServer) -> None:
    assert _http(f"{server.url}/nothing-here").status == 404
    assert _http(f"{server.url}/certs/sign-root.key").status == 404
    assert _http(f"{server.url}/nothing-here", b"x", "text/plain").status == 404
    assert _http(f"{server.url}/tsa").status == 405
    too_big = _http(f"{server.url}/tsa", b"\0" * (64 * 1024 + 1), "application/timestamp-query")
    assert too_big.status == 413


def test_server_lifecycle(pki: TestPki) -> None:
    server = PkiServer(pki.directory)
    with pytest.raises(RuntimeError):
        _ = server.url
    with server:
        url = server.url
        assert _http(f"{url}/certs/sign-root.crt").status == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/certs/sign-root.crt", timeout=5)  # noqa: S310


def test_a_stopped_server_no_longer_answers_on_kept_alive_connections(pki: TestPki) -> None:
    server = PkiServer(pki.directory).start()
    parts = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("GET", "/certs/sign-root.crt")
        first = connection.getresponse()
        assert first.status == 200 and first.read() and not first.will_close
        server.stop()  # the next server on this port may serve another directory
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            connection.request("GET", "/certs/sign-root.crt")
            connection.getresponse()
    finally:
        connection.close()
        server.stop()


# -- TSA -----------------------------------------------------------------------------------


def _timestamp_with_pyhanko(server: PkiServer, data: bytes) -> cms.ContentInfo:
    stamper = HTTPTimeStamper(f"{server.url}/tsa")
    token: cms.ContentInfo = asyncio.run(
        stamper.async_timestamp(hashlib.sha256(data).digest(), "sha256")
    )
    return token


def test_tsa_token_validates_with_pyhanko(pki: TestPki, server: PkiServer) -> None:
    data = b"contract revision 3"
    token = _timestamp_with_pyhanko(server, data)  # pyHanko checks the nonce echo itself
    root = asn1_x509.Certificate.load(pki.root_der("tsa-root"))

    async def validate(expected: bytes) -> dict[str, Any]:
        context = ValidationContext(trust_roots=[root])
        status: dict[str, Any] = await validate_tst_signed_data(
            token["content"], context, lambda algorithm: expected
        )
        return status

    status = asyncio.run(validate(hashlib.sha256(data).digest()))
    assert status["intact"] and status["valid"]
    assert status["trust_problem_indic"] is None
    assert status["signing_cert"].dump() == pki.tsa_cert.public_bytes(DER)
    tampered = asyncio.run(validate(hashlib.sha256(b"another contract").digest()))
    assert not tampered["intact"]


def test_tsa_token_structure(pki: TestPki, server: PkiServer) -> None:
    token = _timestamp_with_pyhanko(server, b"structure")
    signed_data = token["content"]
    assert signed_data["version"].native == "v3"
    tst_info = signed_data["encap_content_info"]["content"].parsed
    assert signed_data["encap_content_info"]["content_type"].native == "tst_info"
    assert tst_info["policy"].native == TSA_POLICY
    assert tst_info["accuracy"]["seconds"].native == 1
    assert tst_info["serial_number"].native.bit_length() >= 64
    assert [c.chosen.dump() for c in signed_data["certificates"]] == [
        pki.tsa_cert.public_bytes(DER)
    ]
    signer = signed_data["signer_infos"][0]
    attributes = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
    assert set(attributes) == {"content_type", "message_digest", "signing_certificate_v2"}
    assert attributes["content_type"].native == "tst_info"
    encap = signed_data["encap_content_info"]["content"].contents
    assert attributes["message_digest"].native == hashlib.sha256(encap).digest()
    ess = attributes["signing_certificate_v2"]["certs"][0]
    assert ess["cert_hash"].native == hashlib.sha256(pki.tsa_cert.public_bytes(DER)).digest()
    assert ess["hash_algorithm"]["algorithm"].native == "sha256"
    assert ess["issuer_serial"]["serial_number"].native == pki.tsa_cert.serial_number
    assert b"\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01" not in ess.dump()  # DEFAULT left out


def _tsa_request(algorithm: str, digest: bytes, *, cert_req: bool, nonce: int | None) -> bytes:
    fields: dict[str, Any] = {
        "version": 1,
        "message_imprint": {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
            "hashed_message": digest,
        },
        "cert_req": cert_req,
    }
    if nonce is not None:
        fields["nonce"] = nonce
    request: bytes = tsp.TimeStampReq(fields).dump()
    return request


class TimeStampResp(core.Sequence):  # type: ignore[misc]
    """RFC 3161's TimeStampResp, whose token asn1crypto forgets is OPTIONAL."""

    _fields = [  # noqa: RUF012
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def _post_tsa(server: PkiServer, body: bytes) -> tuple[int, TimeStampResp]:
    reply = _http(f"{server.url}/tsa", body, "application/timestamp-query")
    assert reply.content_type == "application/timestamp-reply"
    return reply.status, TimeStampResp.load(reply.body, strict=True)


def test_tsa_without_cert_request_or_nonce(server: PkiServer) -> None:
    status, response = _post_tsa(
        server, _tsa_request("sha512", bytes(64), cert_req=False, nonce=None)
    )
    assert status == 200 and response["status"]["status"].native == "granted"
    signed_data = response["time_stamp_token"]["content"]
    assert signed_data["certificates"].native is None
    tst_info = signed_data["encap_content_info"]["content"].parsed
    assert tst_info["nonce"].native is None
    assert tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha512"


@pytest.mark.parametrize(
    ("algorithm", "digest", "fail_info"),
    [
        ("1.2.3.4.5", bytes(32), "bad_alg"),
        ("md5", bytes(16), "bad_alg"),
        ("sha256", bytes(20), "bad_data_format"),
    ],
)
def test_tsa_rejects_what_it_cannot_stamp(
    server: PkiServer, algorithm: str, digest: bytes, fail_info: str
) -> None:
    status, response = _post_tsa(server, _tsa_request(algorithm, digest, cert_req=True, nonce=7))
    assert status == 200
    assert response["status"]["status"].native == "rejection"
    assert response["status"]["fail_info"].native == {fail_info}
    assert response["time_stamp_token"].native is None


def test_tsa_garbage_is_a_bad_request(server: PkiServer) -> None:
    status, response = _post_tsa(server, b"this is not DER")
    assert status == 400
    assert response["status"]["status"].native == "rejection"
    assert response["status"]["fail_info"].native == {"bad_data_format"}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tsa_answer_verifies_with_openssl(pki: TestPki, server: PkiServer, tmp_path: Path) -> None:
    data = tmp_path / "contract.pdf"
    data.write_bytes(b"%PDF-1.7 pretend contract")
    query, reply_file = tmp_path / "request.tsq", tmp_path / "reply.tsr"
    subprocess.run(
        ["openssl", "ts", "-query", "-data", data, "-sha256", "-cert", "-out", query],
        check=True,
        capture_output=True,
        timeout=60,
    )
    status, _ = _post_tsa(server, query.read_bytes())
    assert status == 200
    reply_file.write_bytes(_http(f"{server.url}/tsa", query.read_bytes(), "x").body)
    ca_file = pki.path("tsa-root.crt")
    verify: list[str | Path] = ["openssl", "ts", "-verify", "-in", reply_file, "-CAfile", ca_file]
    good = subprocess.run(
        [*verify, "-data", data], check=False, capture_output=True, text=True, timeout=60
    )
    assert "Verification: OK" in good.stdout, good.stderr
    data.write_bytes(b"%PDF-1.7 another contract")
    bad = subprocess.run(
        [*verify, "-data", data], check=False, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode != 0 and "Verification: OK" not in bad.stdout


# -- pyhanko-certvalidator fetching from the running services ------------------------------


def _validate_card(pki: TestPki, card: IssuedCard, rule: RevocationCheckingRule) -> Any:
    root = asn1_x509.Certificate.load(pki.sign_root_der)
    policy = CertRevTrustPolicy(
        RevocationCheckingPolicy(
            ee_certificate_rule=rule, intermediate_ca_cert_rule=RevocationCheckingRule.NO_CHECK
        )
    )

    async def validate() -> Any:
        async with aiohttp.ClientSession() as session:  # closed here, not left to the GC
            context = ValidationContext(
                trust_roots=[root],
                allow_fetching=True,
                revinfo_policy=policy,
                fetcher_backend=AIOHttpFetcherBackend(session),
            )
            validator = CertificateValidator(
                asn1_x509.Certificate.load(card.sign_cert_der), validation_context=context
            )
            return await validator.async_validate_usage({"non_repudiation"})

    return asyncio.run(validate())


@pytest.mark.parametrize(
    "rule", [RevocationCheckingRule.OCSP_REQUIRED, RevocationCheckingRule.CRL_REQUIRED]
)
def test_certvalidator_checks_revocation_through_the_services(
    pki: TestPki, server: PkiServer, rule: RevocationCheckingRule
) -> None:
    card = pki.issue_card()
    path = _validate_card(pki, card, rule)
    assert path.first.dump() == pki.sign_root_der
    assert path.leaf.dump() == card.sign_cert_der
    pki.revoke(card.sign_cert.serial_number)
    with pytest.raises(RevokedError):
        _validate_card(pki, card, rule)
