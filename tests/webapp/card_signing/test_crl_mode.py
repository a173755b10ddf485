"""Cards checked against a CRL file: the CRL that let the signature in goes into the DSS.

A JPKI signing certificate names an OCSP responder and a CRL that only the operator's
line reaches. Here the card's certificate names services on a port where nothing listens,
so the closing step cannot fetch anything for it: the document completes, and validates
offline as PAdES B-LTA, only because the CRL the service judged the card with is in the
document's validation data.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore

from jpkisim.pki import CardIdentity, IssuedCard, TestPki
from tests.webapp.card_signing.conftest import (
    PARTY_NAME,
    CardParty,
    PreparedCardSigning,
    bridge_path,
    hello,
    receive,
    send,
    signature_frame,
)
from tests.webapp.pdf.checks import lta_results, passed
from webapp.db.models import CardSession, RevocationList
from webapp.settings import Settings, load_settings


@dataclass(frozen=True)
class CrlMode:
    settings: Settings
    card: IssuedCard
    crl: bytes


@pytest.fixture
def crl_mode(prepared_card_signing: PreparedCardSigning, tmp_path: Path) -> CrlMode:
    """The service on a CRL file, and a card whose certificate names unreachable services."""
    data_dir = tmp_path / "var"
    shutil.copytree(prepared_card_signing.data_dir, data_dir)
    pki = TestPki.load(data_dir / "pki")
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    served = pki.base_url
    pki.set_base_url(dead)
    try:
        card = pki.issue_card(CardIdentity(name=PARTY_NAME))
    finally:
        pki.set_base_url(served)
    crl = pki.crl_der()
    crl_file = tmp_path / "jpki-sign.crl"
    crl_file.write_bytes(crl)
    settings = load_settings(environment="development", data_dir=data_dir, revocation=str(crl_file))
    return CrlMode(settings, card, crl)


@pytest.fixture
def settings(crl_mode: CrlMode) -> Settings:
    return crl_mode.settings


def test_the_crl_that_judged_the_card_completes_the_document_and_is_in_its_dss(
    card_party: CardParty, crl_mode: CrlMode
) -> None:
    service = card_party.service
    assert service.context.settings.revocation_method == "crl"
    started = card_party.start()
    with service.client.websocket_connect(bridge_path(started)) as ws:
        _, request = hello(ws)
        send(ws, **signature_frame(crl_mode.card, request["digest"]))
        result = receive(ws)
    assert result["outcome"] == "accepted", result
    document = service.client.get(
        f"/api/v1/documents/{card_party.document_id}", headers=service.auth
    ).json()
    assert document["status"] == "completed", document

    crl_sha256 = hashlib.sha256(crl_mode.crl).hexdigest()
    with service.context.sessions() as db:
        session = db.query(CardSession).one()
        assert session.crl_sha256 == crl_sha256 and session.ocsp_response is None
        assert db.get_one(RevocationList, crl_sha256).der == crl_mode.crl

    final = service.client.get(
        f"/api/v1/documents/{card_party.document_id}/pdf", headers=service.auth
    ).content
    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(final)))
    assert crl_mode.crl in {ref.get_object().data for ref in dss.crls}
    runtime = service.client.app.state.runtime  # type: ignore[attr-defined]
    results = lta_results(final, runtime.trust_roots)
    card_field = next(name for name in results if name.startswith("mynasign-card-1-"))
    assert passed(results[card_field]), results[card_field]
    assert all(passed(result) for result in results.values()), results
