"""Fixtures for timestamp renewal: a test TSA whose certificate ends soon and names a CRL.

The short-lived TSA is the test PKI's own (`TestPki.reissue_tsa`, under the same TSA
root); its certificate is then issued again for the same key with a CRL distribution
point, served here on a loopback port: a real TSA's certificate says where its status is,
and without that status in the DSS nobody can validate the timestamp once the
certificate has ended (ETSI EN 319 102-1's past validation needs it).
"""

from __future__ import annotations

import datetime
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from jpkisim.pki import TestPki
from jpkisim.pki_files import TSA, TSA_ROOT, load_key
from tests.webapp.conftest import Service

YEAR = datetime.timedelta(days=365)
SHORT_TSA_LIFETIME = 2 * YEAR
CRL_LIFETIME = datetime.timedelta(days=30)
CRL_PATH = "/tsa-root.crl"


@dataclass(frozen=True)
class ShortLivedTsa:
    """The service's test PKI, whose TSA certificate now ends in `SHORT_TSA_LIFETIME`."""

    pki: TestPki
    certificate: x509.Certificate
    crl_fetches: list[str]
    """The paths the CRL server was asked for (each a fetch by the service)."""

    @property
    def ends(self) -> datetime.datetime:
        return self.certificate.not_valid_after_utc


class _CrlServer(ThreadingHTTPServer):
    crl: bytes
    fetches: list[str]


class _CrlHandler(BaseHTTPRequestHandler):
    server: _CrlServer

    def do_GET(self) -> None:
        self.server.fetches.append(self.path)
        found = self.path == CRL_PATH
        body = self.server.crl if found else b""
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/pkix-crl")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _with_crl_point(pki: TestPki, cert: x509.Certificate, url: str) -> x509.Certificate:
    """`cert` issued again by the TSA root, the same in all but a CRL distribution point."""
    root_key = load_key(pki.path(f"{TSA_ROOT}.key"))
    point = x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)
    builder = (
        x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.issuer)
        .public_key(cert.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(cert.not_valid_before_utc).not_valid_after(cert.not_valid_after_utc)
        .add_extension(x509.CRLDistributionPoints([point]), critical=False)
    )  # fmt: skip
    for extension in cert.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    return builder.sign(root_key, hashes.SHA256())


def _empty_crl(pki: TestPki) -> bytes:
    now = datetime.datetime.now(datetime.UTC)
    crl = (
        x509.CertificateRevocationListBuilder().issuer_name(pki.tsa_root_cert.subject)
        .last_update(now - datetime.timedelta(minutes=1)).next_update(now + CRL_LIFETIME)
        .sign(load_key(pki.path(f"{TSA_ROOT}.key")), hashes.SHA256())
    )  # fmt: skip
    return crl.public_bytes(serialization.Encoding.DER)


@pytest.fixture
def short_lived_tsa(service: Service) -> Iterator[ShortLivedTsa]:
    """The development TSA reissued to end in two years, its certificate naming a CRL:
    the documents completed afterwards carry timestamps that run out."""
    pki = TestPki.load(Path(service.context.settings.data_dir) / "pki")
    server = _CrlServer(("127.0.0.1", 0), _CrlHandler)
    server.crl, server.fetches = _empty_crl(pki), []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        reissued = pki.reissue_tsa(lifetime=SHORT_TSA_LIFETIME)
        url = f"http://127.0.0.1:{server.server_address[1]}{CRL_PATH}"
        certificate = _with_crl_point(pki, reissued, url)
        path = pki.path(f"{TSA}.crt")
        scratch = path.with_suffix(".new")
        scratch.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        os.replace(scratch, path)  # the PKI's server answers with it from its next request
        yield ShortLivedTsa(TestPki.load(pki.directory), certificate, server.fetches)
    finally:
        server.shutdown()
        server.server_close()
