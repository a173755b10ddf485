"""Verification of this service's PDFs, of a PDF signed elsewhere, and of hostile files."""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.signers.pdf_cms import SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from jpkisim import pki_builder
from tests.webapp.conftest import Service, make_pdf, with_sender
from tests.webapp.pages.conftest import Person, page_text
from tests.webapp.verification.flow import completed_document
from webapp.app import create_app
from webapp.settings import load_settings

TRAILER = b"trailer\n<< /Root 1 0 R >>\n%%EOF"


def verify(service: Service, data: bytes, **params: str) -> dict:  # type: ignore[type-arg]
    response = service.client.post(
        "/api/v1/verify", files={"file": ("x.pdf", data, "application/pdf")}, params=params
    )
    assert response.status_code == 200, response.text
    body: dict = response.json()  # type: ignore[type-arg]
    return body


def signed_elsewhere(pdf: bytes) -> bytes:
    """A PDF signed with pyHanko and a throwaway self-signed key: nothing this service trusts."""
    key = pki_builder.new_ec_key()
    now = datetime.datetime.now(datetime.UTC)
    cert = pki_builder.issue(
        pki_builder.common_name("Elsewhere Signer"), key,
        not_before=now - datetime.timedelta(days=1), not_after=now + datetime.timedelta(days=30),
        ca=None, key_ids=False,
    )  # fmt: skip
    signer = SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(pki_builder.key_to_der(key)),
        cert_registry=SimpleCertificateStore(),
    )
    out = io.BytesIO()
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    PdfSigner(PdfSignatureMetadata(field_name="Elsewhere"), signer=signer).sign_pdf(
        writer, output=out
    )
    return out.getvalue()


def test_a_finished_document_is_lta_trusted_and_final_on_record(service: Service) -> None:
    document_id, sent_pdf, final_pdf = completed_document(service)
    report = verify(service, final_pdf)
    assert report["all_valid"] is True
    kinds = [(s["kind"], s["signer_kind"]) for s in report["signatures"]]
    assert kinds[-1] == ("document_timestamp", "tsa")
    seals = [s for s in report["signatures"] if s["kind"] == "signature"]
    assert len(seals) == 3 and {s["signer_kind"] for s in seals} == {"platform"}
    assert all(s["intact"] and s["trusted"] for s in report["signatures"])
    assert [s["level"] for s in seals] == ["B-LTA"] * 3
    assert all(s["time_source"] == "timestamp" and s["signed_at"] for s in seals)
    assert report["signatures"][-1]["covers_whole_file"] is True
    assert report["record"]["is_final"] is True
    assert report["record"]["document_id"] == document_id
    assert "最終版" in report["record"]["message_ja"]

    earlier = verify(service, sent_pdf)
    assert earlier["record"]["found"] is True and earlier["record"]["is_final"] is False
    assert [s["level"] for s in earlier["signatures"]] == ["B-T"]
    assert "not the final one" in earlier["record"]["message_en"]


def test_a_pdf_signed_elsewhere_is_intact_but_not_trusted(service: Service) -> None:
    report = verify(service, signed_elsewhere(make_pdf()))
    [signature] = report["signatures"]
    assert signature["intact"] is True and signature["trusted"] is False
    assert signature["signer"] == "Elsewhere Signer" and signature["signer_kind"] == "other"
    assert signature["level"] == "B-B" and signature["time_source"] == "claimed"
    assert [p["code"] for p in signature["problems"]] == ["untrusted"]
    assert report["all_valid"] is False and report["record"]["found"] is False
    assert "問題" in report["summary_ja"]


def test_a_changed_byte_breaks_the_signature(service: Service) -> None:
    signed = bytearray(signed_elsewhere(make_pdf()))
    where = signed.index(b"/MediaBox")
    signed[where + 1 : where + 2] = b"N"  # inside the signed byte range
    report = verify(service, bytes(signed))
    assert report["signatures"] and report["signatures"][0]["intact"] is False
    codes = {p["code"] for p in report["signatures"][0]["problems"]}
    assert "modified" in codes or "malformed" in codes
    assert all(p["message_ja"] and p["message_en"] for p in report["signatures"][0]["problems"])
    assert report["all_valid"] is False


def test_an_unsigned_pdf_says_so(service: Service) -> None:
    report = verify(service, make_pdf(), lang="en")
    assert report["signatures"] == [] and report["all_valid"] is False
    assert report["summary_en"] == "This PDF holds no signatures."


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"hello, not a PDF", "verify_not_pdf"),
        (b"%PDF-1.7\n" + b"\x00" * 500 + b"%%EOF", "verify_not_pdf"),
        (
            b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 1 0 R >>\nendobj\n" + TRAILER,
            "verify_not_pdf",
        ),
        (b"", "verify_file_required"),
    ],
)
def test_hostile_files_answer_a_clear_400(service: Service, data: bytes, code: str) -> None:
    response = service.client.post(
        "/api/v1/verify", files={"file": ("x.pdf", data, "application/pdf")}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message_ja"] and error["message_en"]


@pytest.fixture
def small_limit_service(tmp_path: Path) -> Iterator[Service]:
    settings = load_settings(
        environment="development", data_dir=tmp_path / "small", max_upload_bytes=2000
    )
    with TestClient(create_app(settings)) as client:
        yield with_sender(client)


def test_a_file_over_the_limit_is_refused(small_limit_service: Service) -> None:
    response = small_limit_service.client.post(
        "/api/v1/verify", files={"file": ("x.pdf", make_pdf(30), "application/pdf")}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "verify_too_large"


def test_the_page_reports_in_japanese_and_english(service: Service) -> None:
    person = Person(service.client)
    signed = signed_elsewhere(make_pdf())
    page = person.post(
        "/verify", files={"file": ("x.pdf", signed, "application/pdf")}, form_page="/verify"
    )
    assert page.status_code == 200, page.text
    text = page_text(page)
    assert "Elsewhere Signer" in text and "信頼できない証明書" in text and "PAdES B-B" in text
    english = person.post(
        "/verify?lang=en", files={"file": ("x.pdf", signed, "application/pdf")},
        form_page="/verify",
    )  # fmt: skip
    assert "Untrusted certificate" in page_text(english)
    refused = person.post(
        "/verify?lang=ja", files={"file": ("x.txt", b"text", "text/plain")}, form_page="/verify"
    )
    assert refused.status_code == 400 and "PDFとして読めない" in page_text(refused)
