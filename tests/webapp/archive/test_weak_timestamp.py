"""A document timestamp made with SHA-1 is found weak: renewal treats it as due."""

from __future__ import annotations

import datetime
import io

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.signers import PdfTimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from jpkisim import pki_builder
from tests.webapp.conftest import make_pdf
from webapp.archive import newest_timestamp
from webapp.archive.renewal import _is_due

NOW = datetime.datetime.now(datetime.UTC)


def timestamped(digest: str) -> bytes:
    key = pki_builder.new_rsa_key()
    cert = pki_builder.issue(
        pki_builder.common_name("Old TSA"), key,
        not_before=NOW - datetime.timedelta(days=1), not_after=NOW + datetime.timedelta(days=3650),
        ca=None, extended_usage=[ExtendedKeyUsageOID.TIME_STAMPING], extended_usage_critical=True,
        key_ids=False,
    )  # fmt: skip
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(pki_builder.key_to_der(key)),
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
