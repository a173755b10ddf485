"""A document timestamp made with SHA-1 is found weak: renewal treats it as due."""

from __future__ import annotations

import datetime
import io

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.signers import PdfTimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from tests.webapp.conftest import make_pdf
from webapp.archive import newest_timestamp
from webapp.archive.renewal import _is_due

NOW = datetime.datetime.now(datetime.UTC)


def timestamped(digest: str) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Old TSA")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=3650))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        override_md=digest,
    )
    out = io.BytesIO()
    PdfTimeStamper(stamper, field_name="old-timestamp").timestamp_pdf(
        IncrementalPdfFileWriter(io.BytesIO(make_pdf())), digest, output=out
    )
    return out.getvalue()


def test_sha1_timestamp_is_weak_and_due_however_far_its_end() -> None:
    found = newest_timestamp(io.BytesIO(timestamped("sha1")))
    assert found.count == 1 and found.weak_algorithm == "sha1"
    assert found.tsa_expires_at is not None and found.tsa_expires_at > NOW + datetime.timedelta(
        days=3000
    )
    assert _is_due(found, NOW, datetime.timedelta(days=365))


def test_sha256_timestamp_far_from_its_end_is_not_due() -> None:
    found = newest_timestamp(io.BytesIO(timestamped("sha256")))
    assert found.weak_algorithm is None
    assert not _is_due(found, NOW, datetime.timedelta(days=365))
    assert newest_timestamp(io.BytesIO(make_pdf())).count == 0
