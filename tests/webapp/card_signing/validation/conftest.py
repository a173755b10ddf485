"""Fixtures for the acceptance check: real card CMSes, minted certificates, OCSP responders.

Nothing of the PKI is mocked: cards come from the session's `test_pki`, variants of their
certificates are signed with the test signing root's own key (read from the PKI
directory), and OCSP answers come from the test PKI's services or from a scripted
responder on loopback that signs with real keys.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from card.cms import build_signed_data
from card.token import SHA256_DIGEST_INFO_PREFIX
from jpkisim import pki_builder
from jpkisim.pki import CardIdentity, IssuedCard, TestPki
from jpkisim.pki_builder import utc_now
from jpkisim.pki_server import PkiServer
from webapp.card_signing.validation import (
    AcceptedCardSignature,
    CardSignatureRejected,
    CardSignatureValidator,
    NoRevocationChecker,
    RevocationChecker,
)

DIGEST = hashlib.sha256(b"%PDF-1.7 the ByteRange of a contract\n").digest()
_DER = serialization.Encoding.DER


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(_DER)


def rsa_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@dataclass
class KeyToken:
    """A `SigningToken` backed by a private key: signs the DigestInfo as the card does."""

    key: rsa.RSAPrivateKey
    certificate: bytes
    cas: list[bytes] = field(default_factory=list)

    def signing_certificate(self) -> bytes:
        return self.certificate

    def ca_certificates(self) -> list[bytes]:
        return list(self.cas)

    def sign_digest_info(self, digest_info: bytes) -> bytes:
        assert digest_info.startswith(SHA256_DIGEST_INFO_PREFIX)
        digest = digest_info[len(SHA256_DIGEST_INFO_PREFIX) :]
        return self.key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))


def make_cms(
    key: rsa.RSAPrivateKey, cert_der: bytes, cas: Sequence[bytes] = (), digest: bytes = DIGEST
) -> bytes:
    """A card CMS exactly as the bridge builds it."""
    return build_signed_data(KeyToken(key, cert_der, list(cas)), digest)


def card_cms(card: IssuedCard, digest: bytes = DIGEST) -> bytes:
    """The CMS a test-PKI card makes (its root embedded, as the bridge does)."""
    return make_cms(rsa_key(card.sign_key_pem), card.sign_cert_der, [card.sign_ca_der], digest)


Authority = pki_builder.Authority
"""A key and its certificate: a root, an intermediate, an OCSP responder."""


def new_key() -> rsa.RSAPrivateKey:
    return pki_builder.new_rsa_key()


def make_authority(
    common_name: str,
    issuer: Authority | None = None,
    *,
    ca: bool = True,
    path_length: int | None = None,
    cert_sign: bool | None = None,
    ocsp_signing: bool = False,
    extended_usage: Sequence[x509.ObjectIdentifier] = (),
    extensions: Sequence[x509.ExtensionType] = (),
    not_after: datetime.datetime | None = None,
) -> Authority:
    """A self-signed root (no issuer), or a certificate issued by `issuer`.

    `cert_sign` (keyCertSign, cRLSign) follows `ca` unless given; `extensions` are added
    as critical ones. No key identifiers: the chain is found by names alone.
    """
    key = new_key()
    now = utc_now()
    signs_certs = ca if cert_sign is None else cert_sign
    usages = [*extended_usage, *([ExtendedKeyUsageOID.OCSP_SIGNING] if ocsp_signing else [])]
    certificate = pki_builder.issue(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
        key,
        issuer,
        not_before=now - datetime.timedelta(days=1),
        not_after=not_after or now + datetime.timedelta(days=3650),
        ca=ca,
        path_length=path_length,
        usage=pki_builder.key_usage(digital_signature=not signs_certs, cert_sign=signs_certs),
        extended_usage=usages,
        extensions=[(extension, True) for extension in extensions],
        key_ids=False,
    )
    return Authority(key, certificate)


_KEEP = object()


def reissue(
    template: x509.Certificate,
    issuer: Authority,
    *,
    public_key: rsa.RSAPublicKey | None = None,
    key_usage: x509.KeyUsage | object | None = _KEEP,
    drop: Sequence[type[x509.ExtensionType]] = (),
    add: Sequence[tuple[x509.ExtensionType, bool]] = (),
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> bytes:
    """`template` (a card certificate) issued again by `issuer`, with the changes asked for."""
    kept: list[tuple[x509.ExtensionType, bool]] = []
    for extension in template.extensions:
        value = extension.value
        if isinstance(value, x509.KeyUsage) and key_usage is not _KEEP:
            if isinstance(key_usage, x509.KeyUsage):
                kept.append((key_usage, True))
        elif not isinstance(value, (x509.AuthorityKeyIdentifier, *drop)):
            kept.append((value, extension.critical))
    template_key = template.public_key()
    assert isinstance(template_key, rsa.RSAPublicKey)
    certificate = pki_builder.issue(
        template.subject,
        public_key or template_key,
        issuer,
        not_before=not_before or template.not_valid_before_utc,
        not_after=not_after or template.not_valid_after_utc,
        ca=None,
        extensions=[*kept, *add],
        key_ids=False,
    )
    return der(certificate)


def key_usage(*, non_repudiation: bool) -> x509.KeyUsage:
    return pki_builder.key_usage(digital_signature=True, non_repudiation=non_repudiation)


def validate(validator: CardSignatureValidator, cms_der: bytes) -> AcceptedCardSignature:
    return asyncio.run(validator.validate(cms_der, DIGEST))


def rejection(
    validator: CardSignatureValidator, cms_der: bytes, digest: bytes = DIGEST
) -> CardSignatureRejected:
    with pytest.raises(CardSignatureRejected) as caught:
        asyncio.run(validator.validate(cms_der, digest))
    return caught.value


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sign_root(test_pki: TestPki) -> Authority:
    """The test PKI's signing root with its key (read from the PKI directory)."""
    return Authority(rsa_key(test_pki.path("sign-root.key").read_bytes()), test_pki.sign_root_cert)


@pytest.fixture(scope="session")
def card_key(issued_card: IssuedCard) -> rsa.RSAPrivateKey:
    return rsa_key(issued_card.sign_key_pem)


@pytest.fixture
def fresh_card(test_pki: TestPki) -> IssuedCard:
    """A card of this test alone, so revoking it disturbs nobody."""
    return test_pki.issue_card(CardIdentity(name="失効 試験"))


@pytest.fixture
def make_validator(test_pki: TestPki) -> Callable[..., CardSignatureValidator]:
    """A validator trusting the test signing root; revocation not checked unless given."""

    def make(
        revocation: RevocationChecker | None = None,
        *,
        clock: Callable[[], datetime.datetime] | None = None,
        anchors: Sequence[bytes] | None = None,
    ) -> CardSignatureValidator:
        return CardSignatureValidator(
            list(anchors) if anchors is not None else [test_pki.sign_root_der],
            revocation or NoRevocationChecker(),
            clock=clock or (lambda: datetime.datetime.now(datetime.UTC)),
        )

    return make


@pytest.fixture(scope="session")
def pki_services(test_pki: TestPki) -> Iterator[PkiServer]:
    """The test PKI's OCSP, CRL and TSA services on a loopback port."""
    with PkiServer(test_pki.directory, port=0) as server:
        yield server


@dataclass
class ScriptedResponder:
    """An OCSP responder on loopback that answers `answer(request_der) -> (status, body)`."""

    url: str = ""
    answer: Callable[[bytes], tuple[int, bytes]] = lambda _: (500, b"")
    requests: list[tuple[str, bytes]] = field(default_factory=list)
    """Content type and body of each request received."""


@pytest.fixture
def responder() -> Iterator[ScriptedResponder]:
    scripted = ScriptedResponder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            scripted.requests.append((self.headers.get("Content-Type", ""), body))
            status, answer = scripted.answer(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    scripted.url = f"http://127.0.0.1:{server.server_address[1]}/ocsp"
    try:
        yield scripted
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def ocsp_response(
    request_der: bytes,
    signer: Authority,
    *,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    this_update: datetime.datetime | None = None,
    next_update: datetime.datetime | object | None = _KEEP,
    serial: int | None = None,
    nonce: bytes | object | None = _KEEP,
    certificates: Sequence[x509.Certificate] | None = None,
) -> bytes:
    """A signed OCSP response to `request_der`, by default a good, current, nonce-echoing one."""
    request = ocsp.load_der_ocsp_request(request_der)
    now = utc_now()
    this_update = this_update or now
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=serial if serial is not None else request.serial_number,
            algorithm=request.hash_algorithm,
            cert_status=status,
            this_update=this_update,
            next_update=this_update + datetime.timedelta(hours=1)
            if next_update is _KEEP
            else next_update,  # type: ignore[arg-type]
            revocation_time=now if status == ocsp.OCSPCertStatus.REVOKED else None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, signer.certificate)
    )
    included = [signer.certificate] if certificates is None else list(certificates)
    if included:
        builder = builder.certificates(included)
    if nonce is _KEEP:
        try:
            echoed = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
            builder = builder.add_extension(x509.OCSPNonce(echoed), critical=False)
        except x509.ExtensionNotFound:
            pass
    elif isinstance(nonce, bytes):
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    response = builder.sign(signer.key, hashes.SHA256())
    return response.public_bytes(_DER)
