"""The test PKI's OCSP responder: one DER request in, one signed OCSP response out.

The responder answers for certificates of the TEST signing root only, as its delegated
responder (the `ocsp.crt` certificate, with id-pkix-ocsp-nocheck). Status comes from
`index.json` as it is on disk at the moment of the request.
"""

from __future__ import annotations

import datetime
from typing import NamedTuple

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from jpkisim.pki import TestPki
from jpkisim.pki_builder import utc_now

RESPONSE_LIFETIME = datetime.timedelta(hours=1)


class OcspAnswer(NamedTuple):
    """What to send back: HTTP status, DER OCSPResponse, and a word for the log."""

    http_status: int
    body: bytes
    outcome: str


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    response = ocsp.OCSPResponseBuilder.build_unsuccessful(status)
    return response.public_bytes(serialization.Encoding.DER)


def _issuer_hashes(root: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """CertID issuerNameHash and issuerKeyHash of `root` under `algorithm`."""
    name_hash = hashes.Hash(algorithm)
    name_hash.update(root.subject.public_bytes())
    key_hash = hashes.Hash(algorithm)
    key_hash.update(
        root.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    )
    return name_hash.finalize(), key_hash.finalize()


def answer_ocsp(pki: TestPki, request_der: bytes) -> OcspAnswer:
    """Answer one OCSP request for a certificate of the TEST signing root."""
    try:
        request = ocsp.load_der_ocsp_request(request_der)
        algorithm = request.hash_algorithm
        name_hash, key_hash = _issuer_hashes(pki.sign_root_cert, algorithm)
        extensions = request.extensions
    except (ValueError, NotImplementedError, UnsupportedAlgorithm):
        malformed = _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        return OcspAnswer(400, malformed, "malformed")
    serial = request.serial_number
    if (request.issuer_name_hash, request.issuer_key_hash) != (name_hash, key_hash):
        unauthorized = _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        return OcspAnswer(200, unauthorized, f"serial={serial:X} unauthorized (other issuer)")

    record = pki.record(serial)
    revocation_time: datetime.datetime | None = None
    reason: x509.ReasonFlags | None = None
    if record is None or record.kind != "sign":
        status = ocsp.OCSPCertStatus.UNKNOWN
    elif record.revoked_at is not None:
        status = ocsp.OCSPCertStatus.REVOKED
        revocation_time = record.revoked_at
        if record.reason not in (None, "unspecified"):
            reason = x509.ReasonFlags(record.reason)
    else:
        status = ocsp.OCSPCertStatus.GOOD

    now = utc_now()
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=name_hash,
            issuer_key_hash=key_hash,
            serial_number=serial,
            algorithm=algorithm,
            cert_status=status,
            this_update=now,
            next_update=now + RESPONSE_LIFETIME,
            revocation_time=revocation_time,
            revocation_reason=reason,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, pki.ocsp_cert)
        .certificates([pki.ocsp_cert])
    )
    try:
        nonce = extensions.get_extension_for_class(x509.OCSPNonce).value
        builder = builder.add_extension(x509.OCSPNonce(nonce.nonce), critical=False)
    except x509.ExtensionNotFound:
        pass
    response = builder.sign(pki.ocsp_key, hashes.SHA256())
    body = response.public_bytes(serialization.Encoding.DER)
    return OcspAnswer(200, body, f"serial={serial:X} {status.name.lower()}")
