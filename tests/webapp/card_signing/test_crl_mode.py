"""Cards checked against a CRL file: the CRL that let the signature in goes into the DSS,
and is kept until no open document needs it.

A JPKI signing certificate names an OCSP responder and a CRL that only the operator's
line reaches. Here the card's certificate names services on a port where nothing listens,
so the closing step cannot fetch anything for it: the document completes, and validates
offline as PAdES B-LTA, only because the CRL the service judged the card with is in the
document's validation data.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore
from sqlalchemy import select

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
from webapp.card_signing.kept_crls import KEEP_UNUSED, keep_crl, prune
from webapp.db.models import CardSession, Document, DocumentStatus, RevocationList
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


def test_kept_crls_go_once_no_open_document_needs_them_and_none_was_used_lately(
    card_party: CardParty,
) -> None:
    context = card_party.service.context
    card_party.start()
    now = context.now()
    old, recent = now - KEEP_UNUSED - datetime.timedelta(hours=1), now - datetime.timedelta(hours=1)
    with context.sessions() as db, db.begin():
        for name, used in (("needed", old), ("unused", old), ("recent", recent)):
            db.add(RevocationList(sha256=name * 8, der=name.encode(), last_used_at=used))
        db.flush()
        db.query(CardSession).one().crl_sha256 = "needed" * 8  # its document is out
    assert prune(context) == 1
    with context.sessions() as db:
        assert set(db.scalars(select(RevocationList.sha256))) == {"needed" * 8, "recent" * 8}

    with context.sessions() as db, db.begin():  # the document is no longer out
        db.get_one(Document, card_party.document_id).status = DocumentStatus.CANCELLED
    assert prune(context) == 1
    with context.sessions() as db:
        assert set(db.scalars(select(RevocationList.sha256))) == {"recent" * 8}
        assert db.query(CardSession).one().crl_sha256 is None  # the link went with it
    assert prune(context) == 0


def test_a_version_in_use_again_is_kept_and_marked_used(card_party: CardParty) -> None:
    context = card_party.service.context
    now = context.now()
    with context.sessions() as db, db.begin():
        db.add(RevocationList(sha256="a" * 64, der=b"crl", last_used_at=now - 2 * KEEP_UNUSED))
    with context.sessions() as db, db.begin():
        assert keep_crl(db, b"crl", now) == hashlib.sha256(b"crl").hexdigest()
        assert keep_crl(db, None, now) is None
    with context.sessions() as db, db.begin():
        digest = hashlib.sha256(b"crl").hexdigest()
        db.get_one(RevocationList, digest).last_used_at = now - 2 * KEEP_UNUSED
        assert keep_crl(db, b"crl", now) == digest  # an old version used again
    assert prune(context) == 1  # only the one never used again ("a" * 64)
    with context.sessions() as db:
        assert db.get_one(RevocationList, digest).last_used_at == now
