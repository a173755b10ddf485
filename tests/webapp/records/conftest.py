"""Fixtures for issue 12's records: a completed document (access code + My Number Card)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jpkisim.pki import IssuedCard, TestPki
from tests.webapp.card_signing import conftest as card_signing_fixtures
from tests.webapp.card_signing.conftest import (
    PARTY_NAME,
    bridge_path,
    card,  # noqa: F401 - fixtures used by the tests here
    dev_pki,  # noqa: F401
    hello,
    receive,
    send,
    signature_frame,
)
from tests.webapp.conftest import Service
from tests.webapp.pages.conftest import sender  # noqa: F401 - a fixture of the tests here
from tests.webapp.test_api_flow import add_recipient, open_link, upload

# The card signing tests' service: a copy per test of their prepared data directory, whose
# PKI issued the party's card (so the service trusts it).
prepared_card_signing = card_signing_fixtures.prepared_card_signing
settings = card_signing_fixtures.settings

TITLE = "業務委託契約書（記録テスト）"
FIRST = "甲 一郎"
FIRST_EMAIL = "ichiro@example.jp"
CARD_EMAIL = "hanako@example.jp"
ACCESS_CODE = "4821"
AGENT = "records-test-agent/1.0"
BRIDGE_IP = "203.0.113.45"
"""The card bridge's address (TEST-NET-3), unlike the pages' `testclient`."""
BRIDGE_AGENT = "jpki-bridge-test/2.0 (records)"


@dataclass
class Completed:
    """A document two parties finished: one by link + access code, one with the card."""

    service: Service
    document_id: str
    first_token: str
    first_session: str
    card_token: str
    card_session: str
    card: IssuedCard


def complete_document(service: Service, issued: IssuedCard) -> Completed:
    client = service.client
    document_id = upload(service, TITLE)
    add_recipient(service, document_id, name=FIRST, email=FIRST_EMAIL, access_code=ACCESS_CODE)
    add_recipient(
        service, document_id, name=PARTY_NAME, email=CARD_EMAIL, require_mynumber_card=True
    )
    sent = client.post(f"/api/v1/documents/{document_id}/send", headers=service.auth)
    assert sent.status_code == 200, sent.text
    first = service.link_token(FIRST_EMAIL)
    first_session = open_link(service, first, ACCESS_CODE)
    agreed = client.post(
        f"/api/v1/r/{first}/agree",
        headers={"Authorization": f"Bearer {first_session}", "User-Agent": AGENT},
    )
    assert agreed.status_code == 200, agreed.text
    second = service.link_token(CARD_EMAIL)
    second_session = open_link(service, second)
    started = client.post(
        f"/api/v1/r/{second}/card-session", headers={"Authorization": f"Bearer {second_session}"}
    )
    assert started.status_code == 201, started.text
    bridge = TestClient(client.app, client=(BRIDGE_IP, 40123))  # the phone, elsewhere
    path = bridge_path(started.json())
    with bridge.websocket_connect(path, headers={"User-Agent": BRIDGE_AGENT}) as ws:
        _, request = hello(ws)
        send(ws, **signature_frame(issued, request["digest"]))
        assert receive(ws)["outcome"] == "accepted"
    status = client.get(f"/api/v1/documents/{document_id}", headers=service.auth).json()
    assert status["status"] == "completed", status
    return Completed(service, document_id, first, first_session, second, second_session, issued)


@pytest.fixture
def completed(service: Service, card: IssuedCard) -> Completed:  # noqa: F811
    return complete_document(service, card)


def tsa_root_pem(service: Service, directory: Path) -> Path:
    """The development TSA's root certificate as a PEM file (what an auditor is given)."""
    from cryptography.hazmat.primitives.serialization import Encoding  # noqa: PLC0415

    pki = TestPki.load(service.context.settings.data_dir / "pki")
    path = directory / "tsa-root.pem"
    path.write_bytes(pki.tsa_root_cert.public_bytes(Encoding.PEM))
    return path


def pdftotext(path: Path) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return done.stdout


def pdffonts(path: Path) -> str:
    done = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    return done.stdout
