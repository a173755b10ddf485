"""A PDF signed with a (simulated) My Number Card's key: reported as a card signature with the
holder's name, and never the address or birth date the certificate also holds."""

from __future__ import annotations

import io
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.signers.pdf_cms import SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from jpkisim.pki import TestPki
from jpkisim.pki_profile import CardIdentity
from tests.webapp.conftest import Service, make_pdf


def test_a_card_signature_names_the_holder_only(service: Service) -> None:
    pki = TestPki.load(Path(service.context.settings.data_dir) / "pki")
    card = pki.issue_card(CardIdentity(name="検証 太郎", address="大阪府大阪市北区中之島1-3-20"))
    key = serialization.load_pem_private_key(card.sign_key_pem, password=None)
    signer = SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(card.sign_cert_der),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(card.sign_ca_der)]
        ),
    )
    out = io.BytesIO()
    PdfSigner(PdfSignatureMetadata(field_name="Card"), signer=signer).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(make_pdf())), output=out
    )
    response = service.client.post(
        "/api/v1/verify", files={"file": ("card.pdf", out.getvalue(), "application/pdf")}
    )
    assert response.status_code == 200, response.text
    [signature] = response.json()["signatures"]
    assert signature["signer_kind"] == "card" and signature["signer"] == "検証 太郎"
    assert signature["intact"] is True and signature["trusted"] is True
    assert "大阪" not in response.text and "1990" not in response.text
