"""The closing step: final seal, DSS for every signature, document timestamp (PAdES B-LTA)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import ocsp, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import DocumentSecurityStore, async_validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext

from jpkisim.pki import TestPki
from tests.webapp.pdf.checks import lta_results, passed, pdfsig, revisions
from tests.webapp.pdf.conftest import card_signer_for
from tests.webapp.pdf.pdfs import contract_pdf
from tests.webapp.pdf.steps import finalize_file, seal_file, stamp_file
from webapp.pdf import (
    FileSealKey,
    Sealer,
    SealingError,
    TimestampUnavailable,
    ValidationDataUnavailable,
)
from webapp.pdf.finalize import DOCUMENT_TIMESTAMP_FIELD
from webapp.pdf.seal import FINAL_SEAL_FIELD

VALID = "Signature is Valid."


def agreed(directory: Path, sealer: Sealer, card: Sealer | None = None) -> Path:
    """Stamp, sending seal, (a card signature,) agreement seal: ready to finalize."""
    path = stamp_file(contract_pdf(directory / "contract.pdf", pages=3), directory / "1.pdf")
    path = seal_file(sealer, path, directory / "2.pdf", "sent", "送信 / Sent")
    if card is not None:
        path = seal_file(card, path, directory / "3.pdf", "card-1", "署名 / Signed")
    return seal_file(sealer, path, directory / "4.pdf", "agreed-1", "合意 / Agreed")


@pytest.fixture(scope="module")
def two_seals(tmp_path_factory: pytest.TempPathFactory, sealer: Sealer) -> tuple[Path, Path]:
    """The issue's case: two platform seals, then finalize. (before, after)"""
    directory = tmp_path_factory.mktemp("two-seals")
    before = agreed(directory, sealer)
    return before, finalize_file(sealer, before, directory / "final.pdf")


@pytest.fixture(scope="module")
def card_sealer(card_key: FileSealKey, tsa_url: str, trust_roots: list[bytes]) -> Sealer:
    return Sealer(card_key.signer, tsa_url, trust_roots)


@pytest.fixture(scope="module")
def with_card(
    tmp_path_factory: pytest.TempPathFactory, sealer: Sealer, card_sealer: Sealer
) -> tuple[Path, Path]:
    """Seals around a card-key signature whose certificate names OCSP and CRL services."""
    directory = tmp_path_factory.mktemp("with-card")
    before = agreed(directory, sealer, card_sealer)
    return before, finalize_file(sealer, before, directory / "final.pdf")


def test_every_seal_passes_lta_validation_against_the_seal_and_tsa_roots(
    two_seals: tuple[Path, Path], seal_root_der: bytes, pdf_pki: TestPki
) -> None:
    results = lta_results(two_seals[1], [seal_root_der, pdf_pki.root_der("tsa-root")])
    assert set(results) == {"sent", "agreed-1", FINAL_SEAL_FIELD}
    for field, result in results.items():
        assert passed(result), (field, result.ades_subindic, result.failure_msg)
        assert result.oldest_evidence_record_timestamp is not None  # the document timestamp
        assert result.signature_timestamp_status is not None


def test_poppler_finds_every_cms_signature_valid(two_seals: tuple[Path, Path]) -> None:
    verdicts = pdfsig(two_seals[1])
    cms_signatures = {f: v for f, v in verdicts.items() if f != DOCUMENT_TIMESTAMP_FIELD}
    assert cms_signatures == {"sent": VALID, "agreed-1": VALID, FINAL_SEAL_FIELD: VALID}
    assert DOCUMENT_TIMESTAMP_FIELD in verdicts  # poppler 22 lists it but does not check it


def test_last_revision_is_the_document_timestamp_over_the_dss(
    two_seals: tuple[Path, Path], trust_roots: list[bytes]
) -> None:
    before, after = two_seals
    assert revisions(after) == revisions(before) + 2  # final seal; DSS + document timestamp
    with after.open("rb") as stream:
        reader = PdfFileReader(stream)
        last = reader.embedded_signatures[-1]
        assert last.field_name == DOCUMENT_TIMESTAMP_FIELD
        assert last.sig_object["/Type"] == "/DocTimeStamp"
        assert last.sig_object["/SubFilter"] == "/ETSI.RFC3161"
        assert last.signed_revision == reader.total_revisions - 1
        dss = DocumentSecurityStore.read_dss(reader)
        certs = {c.dump() for c in dss.load_certs()}
        assert set(trust_roots[:2]) <= certs  # seal root and TSA root, for the record
        context = ValidationContext(trust_roots=[x509.Certificate.load(r) for r in trust_roots])
        status = asyncio.run(async_validate_pdf_timestamp(last, validation_context=context))
        assert status.intact and status.valid and status.trusted
    original = before.read_bytes()
    assert after.read_bytes()[: len(original)] == original


def test_dss_holds_the_revocation_answers_for_a_card_certificate(
    with_card: tuple[Path, Path], trust_roots: list[bytes], card_key: FileSealKey
) -> None:
    with with_card[1].open("rb") as stream:
        dss = DocumentSecurityStore.read_dss(PdfFileReader(stream))
        card_cert = card_key.signer.signing_cert
        assert card_cert is not None
        assert card_cert.dump() in {c.dump() for c in dss.load_certs()}
        responses = [ocsp.OCSPResponse.load(r.get_object().data) for r in dss.ocsps]
        serials = {
            single["cert_id"]["serial_number"].native
            for response in responses
            for single in response.basic_ocsp_response["tbs_response_data"]["responses"]
        }
        assert card_cert.serial_number in serials or dss.crls


def test_with_a_card_signature_everything_passes_lta_validation(
    with_card: tuple[Path, Path], trust_roots: list[bytes]
) -> None:
    results = lta_results(with_card[1], trust_roots)
    assert set(results) == {"sent", "card-1", "agreed-1", FINAL_SEAL_FIELD}
    assert all(passed(r) for r in results.values()), {
        f: (r.ades_subindic, r.failure_msg) for f, r in results.items()
    }
    verdicts = pdfsig(with_card[1])
    assert [f for f, v in verdicts.items() if v != VALID] == [DOCUMENT_TIMESTAMP_FIELD]


def test_without_finalize_the_card_signature_lacks_its_validation_data(
    with_card: tuple[Path, Path], trust_roots: list[bytes]
) -> None:
    """The same offline LTA check on the unfinished file fails: the DSS is what makes it pass."""
    results = lta_results(with_card[0], trust_roots)
    assert not passed(results["card-1"])


def test_revoked_card_certificate_stops_completion(
    tmp_path: Path, sealer: Sealer, pdf_pki: TestPki, tsa_url: str, trust_roots: list[bytes]
) -> None:
    card = pdf_pki.issue_card()
    for key in card_signer_for(card, tmp_path):
        before = agreed(tmp_path, sealer, Sealer(key.signer, tsa_url, trust_roots))
    pdf_pki.revoke(card.sign_cert.serial_number)
    output = io.BytesIO()
    with pytest.raises(SealingError) as caught:
        asyncio.run(sealer.finalize(io.BytesIO(before.read_bytes()), output))
    assert caught.value.code == "certificate_revoked"
    assert not caught.value.retryable  # trying again later cannot help
    assert "失効" in caught.value.message_ja and "revoked" in caught.value.message_en
    assert output.getvalue() == b""


def test_unreachable_revocation_services_lose_nothing(
    tmp_path: Path, sealer: Sealer, pdf_pki: TestPki, tsa_url: str, trust_roots: list[bytes],
    dead_url: str,
) -> None:  # fmt: skip
    for key in _card_whose_services_are_at(pdf_pki, dead_url, tmp_path):
        before = agreed(tmp_path, sealer, Sealer(key.signer, tsa_url, trust_roots))
    target = tmp_path / "never.pdf"
    with pytest.raises(ValidationDataUnavailable) as caught:
        finalize_file(sealer, before, target)
    assert caught.value.code == "validation_data_unavailable"
    assert caught.value.retryable
    assert target.stat().st_size == 0


def test_signature_from_an_unknown_root_stops_completion(
    two_seals: tuple[Path, Path], seal_key: FileSealKey, tsa_url: str, pdf_pki: TestPki
) -> None:
    blind = Sealer(seal_key.signer, tsa_url, [pdf_pki.root_der("tsa-root")])  # no seal root
    output = io.BytesIO()
    with pytest.raises(SealingError) as caught:
        asyncio.run(blind.finalize(io.BytesIO(two_seals[0].read_bytes()), output))
    assert caught.value.code == "certificate_untrusted"
    assert not caught.value.retryable
    assert output.getvalue() == b""


def test_tsa_down_at_completion_loses_nothing(
    two_seals: tuple[Path, Path], seal_key: FileSealKey, trust_roots: list[bytes], dead_url: str
) -> None:
    down = Sealer(seal_key.signer, f"{dead_url}/tsa", trust_roots, timeout_seconds=2)
    output = io.BytesIO()
    with pytest.raises(TimestampUnavailable) as caught:
        asyncio.run(down.finalize(io.BytesIO(two_seals[0].read_bytes()), output))
    assert caught.value.retryable
    assert output.getvalue() == b""


def _card_whose_services_are_at(
    pki: TestPki, base_url: str, directory: Path
) -> Iterator[FileSealKey]:
    """A card whose certificate names OCSP and CRL services at `base_url`."""
    running = pki.base_url
    pki.set_base_url(base_url)
    try:
        card = pki.issue_card()
    finally:
        pki.set_base_url(running)
    return card_signer_for(card, directory)
