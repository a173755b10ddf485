"""Protocol v2 on the server: the certificate before the digest, `/Name` from the certificate.

The party is "試験 花子" as the sender typed it; the card says "山田 太郎". A v2 bridge's
signature carries the certificate's name in the PDF's `/Name`, a v1 bridge's the party's.
The certificate frame is checked before any digest is given (hostile frames get a clear
answer, never a 500 or a stall), and the CMS must be made with the announced certificate.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pypdf import PdfReader
from starlette.testclient import WebSocketTestSession

from bridge.cards import SimulatorCardProvider
from bridge.core import BridgeSession, SessionOptions
from bridge.protocol import Order
from bridge.url import bridge_target
from jpkisim.pki import CardIdentity, IssuedCard, TestPki
from tests.bridge.fakes import ScriptedUser
from tests.conftest import SIGNING_PASSWORD
from tests.webapp.card_signing.conftest import (
    CardParty,
    bridge_path,
    receive,
    send,
    signature_frame,
)
from tests.webapp.pages.live import LiveService, live
from tests.webapp.pages.test_card_browser import card_link
from tests.webapp.pdf.checks import lta_results, passed
from webapp.card_signing import sessions as card_sessions
from webapp.card_signing.embedding import NAME_ROOM_UNITS, name_text_string
from webapp.db.models import Document
from webapp.i18n import TEXTS
from webapp.services import revisions

__all__ = ["card_link", "live"]  # fixtures

CARD_NAME = "山田 太郎"
CARD_FIELD = re.compile(r"mynasign-card-\d+-.+")
BIN = Path(sys.executable).parent


@pytest.fixture
def named_card(dev_pki: TestPki) -> IssuedCard:
    """A card the service trusts whose certificate names someone else than the party."""
    return dev_pki.issue_card(CardIdentity(name=CARD_NAME))


def hello_v2(ws: WebSocketTestSession) -> tuple[str, dict[str, Any]]:
    send(ws, type="hello", client="tests", client_version="2", protocol_version=2,
         order="card-first")  # fmt: skip
    claim = receive(ws)
    assert claim["type"] == "claim" and claim["version"] == 2, claim
    request = receive(ws)
    assert request["type"] == "sign_request" and request["version"] == 2, request
    assert "digest" not in request, "v2: the digest comes after the certificate"
    return str(claim["claim_key"]), request


def announce(ws: WebSocketTestSession, certificate_der: bytes) -> dict[str, Any]:
    send(ws, version=2, type="certificate", certificate=base64.b64encode(certificate_der).decode())
    return receive(ws)


def final_pdf(card_party: CardParty) -> bytes:
    service = card_party.service
    response = service.client.get(
        f"/api/v1/documents/{card_party.document_id}/pdf", headers=service.auth
    )
    assert response.status_code == 200, response.text
    return response.content


def card_signature_names(pdf: bytes) -> tuple[str, str]:
    """The card signature's `/Name` as pyHanko and as pypdf read it."""
    signatures = [
        signature
        for signature in PdfFileReader(io.BytesIO(pdf)).embedded_signatures
        if CARD_FIELD.fullmatch(signature.field_name)
    ]
    assert len(signatures) == 1
    by_pyhanko = str(signatures[0].sig_object["/Name"])
    fields = PdfReader(io.BytesIO(pdf)).get_fields() or {}
    card_field = next(field for name, field in fields.items() if CARD_FIELD.fullmatch(name))
    by_pypdf = str(card_field["/V"]["/Name"])
    return by_pyhanko, by_pypdf


def test_a_v2_signature_names_the_certificate_holder_and_validates(
    card_party: CardParty, named_card: IssuedCard, tmp_path: Path
) -> None:
    started = card_party.start()
    client = card_party.service.client
    with client.websocket_connect(bridge_path(started)) as ws:
        _, request = hello_v2(ws)
        assert request["expected_signer_name"] == "試験 花子"
        send(ws, version=2, type="progress", stage="reading_certificate")
        answer = announce(ws, named_card.sign_cert_der)
        assert answer["type"] == "sign_digest" and answer["version"] == 2, answer
        assert answer["certificate_sha256"] == hashlib.sha256(named_card.sign_cert_der).hexdigest()
        assert card_party.status()["stage"] == "reading_certificate"
        again = announce(ws, named_card.sign_cert_der)  # a repeat: the same answer
        assert again == answer
        send(ws, version=2, **signature_frame(named_card, answer["digest"]))
        result = receive(ws)
    assert result == {
        "type": "result", "version": 2, "outcome": "accepted", "reason": None, "message": None,
    }  # fmt: skip
    document = client.get(
        f"/api/v1/documents/{card_party.document_id}", headers=card_party.service.auth
    ).json()
    assert document["status"] == "completed"
    assert document["recipients"][0]["card_signer_name"] == CARD_NAME
    assert document["recipients"][0]["card_signer_name_differs"] is True

    pdf = final_pdf(card_party)
    assert card_signature_names(pdf) == (CARD_NAME, CARD_NAME)
    path = tmp_path / "final.pdf"
    path.write_bytes(pdf)
    results = lta_results(path, client.app.state.runtime.trust_roots)  # type: ignore[attr-defined]
    assert len(results) == 4 and all(passed(result) for result in results.values()), results


def test_a_v1_bridge_still_signs_with_the_partys_name(
    card_party: CardParty, named_card: IssuedCard
) -> None:
    started = card_party.start()
    with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
        send(ws, type="hello", client="old-app", client_version="1", protocol_version=1,
             order="card-first")  # fmt: skip
        claim, request = receive(ws), receive(ws)
        assert claim["version"] == 1 and request["version"] == 1 and len(request["digest"]) == 64
        send(ws, type="certificate", certificate="MIIB")  # not a v1 message
        assert receive(ws)["code"] == "unknown_type"
    started = card_party.start()
    with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
        send(ws, type="hello", client="old-app", client_version="1", order="card-first")
        claim, request = receive(ws), receive(ws)  # no protocol_version: v1
        assert claim["version"] == 1 and request["version"] == 1
        send(ws, version=2, type="certificate", certificate="MIIB")  # v2 on a v1 connection
        assert receive(ws)["code"] == "unsupported_version"
    started = card_party.start()
    with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
        send(ws, type="hello", client="old-app", client_version="1", order="password-first")
        receive(ws)
        request = receive(ws)
        send(ws, **signature_frame(named_card, request["digest"]))
        result = receive(ws)
    assert result["outcome"] == "accepted" and result["version"] == 1, result
    assert card_signature_names(final_pdf(card_party))[0] == "試験 花子"


def test_a_signature_with_another_certificate_than_announced_is_refused(
    card_party: CardParty, card: IssuedCard, named_card: IssuedCard
) -> None:
    started = card_party.start()
    with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
        hello_v2(ws)
        answer = announce(ws, named_card.sign_cert_der)
        send(ws, version=2, **signature_frame(card, answer["digest"]))  # another trusted card
        result = receive(ws)
    assert result["outcome"] == "rejected" and result["reason"] == "certificate_mismatch"
    status = card_party.status()
    assert status["state"] == "rejected" and status["error"]["code"] == "certificate_mismatch"
    ja, en = TEXTS["card_certificate_mismatch"]
    assert (status["error"]["message_ja"], status["error"]["message_en"]) == (ja, en)
    assert result["message"] == en


def test_hostile_certificate_frames_get_clear_answers(
    card_party: CardParty, card: IssuedCard, issued_card: IssuedCard
) -> None:
    """`issued_card` comes from the tests' own PKI, which the service does not trust."""
    refused = {
        "certificate_unreadable": b"\x30\x03\x02\x01\x00",
        "key_usage": card.auth_cert_der,  # the card's other certificate, for logging in
        "untrusted_certificate": issued_card.sign_cert_der,
    }
    for reason, der in refused.items():
        started = card_party.start()
        with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
            hello_v2(ws)
            result = announce(ws, der)
            assert result["type"] == "result" and result["reason"] == reason, result
            assert result["version"] == 2
        status = card_party.status()
        assert status["state"] == "rejected" and status["error"]["code"] == reason
        assert status["error"]["message_ja"] and status["error"]["message_en"]
    protocol_errors = {
        "invalid_message": [
            {"type": "certificate", "certificate": "not base64!"},
            {"type": "certificate", "certificate": "A" * (17 * 1024)},
            {"type": "certificate", "certificate": "MIIB", "name": "someone"},
            {"type": "certificate"},
        ],
        "unexpected_message": [  # the signature before the certificate
            signature_frame(card, "ab" * 32),
        ],
    }
    for code, frames in protocol_errors.items():
        for frame in frames:
            started = card_party.start()
            with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
                hello_v2(ws)
                send(ws, version=2, **frame)
                answer = receive(ws)
                assert answer["type"] == "error" and answer["code"] == code, (frame, answer)
    assert card_party.status()["state"] == "claimed", "a refused frame leaves the session be"


def test_a_resumed_v2_session_gets_the_digest_again(
    card_party: CardParty, named_card: IssuedCard
) -> None:
    started = card_party.start()
    client = card_party.service.client
    with client.websocket_connect(bridge_path(started)) as ws:
        claim_key, _ = hello_v2(ws)
        answer = announce(ws, named_card.sign_cert_der)
    with client.websocket_connect(bridge_path(started)) as ws:  # v1 resume of a v2 claim
        send(ws, type="claim_resume", claim_key=claim_key)
        assert receive(ws)["code"] == "unsupported_version"
    with client.websocket_connect(bridge_path(started)) as ws:
        send(ws, version=2, type="claim_resume", claim_key=claim_key)
        claim, request, digest = receive(ws), receive(ws), receive(ws)
        assert claim["type"] == "claim" and claim["version"] == 2
        assert request["type"] == "sign_request" and "digest" not in request
        assert digest == answer
        send(ws, version=2, **signature_frame(named_card, answer["digest"]))
        assert receive(ws)["outcome"] == "accepted"


def test_another_card_replaces_the_announced_one_up_to_a_limit(
    card_party: CardParty,
    card: IssuedCard,
    named_card: IssuedCard,
    dev_pki: TestPki,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(card_sessions, "MAX_CERTIFICATES", 2)
    third = dev_pki.issue_card(CardIdentity(name="佐藤 次郎"))
    started = card_party.start()
    client = card_party.service.client
    with client.websocket_connect(bridge_path(started)) as ws:
        claim_key, _ = hello_v2(ws)
        first = announce(ws, named_card.sign_cert_der)
        second = announce(ws, card.sign_cert_der)  # the card put back was another one
        assert second["type"] == "sign_digest" and second["digest"] != first["digest"]
        refused = announce(ws, third.sign_cert_der)
        assert refused["type"] == "error" and refused["code"] == "unexpected_message"
    with client.websocket_connect(bridge_path(started)) as ws:
        send(ws, version=2, type="claim_resume", claim_key=claim_key)
        assert [receive(ws)["type"] for _ in range(2)] == ["claim", "sign_request"]
        assert receive(ws) == second
        send(ws, version=2, **signature_frame(named_card, first["digest"]))  # the old answer
        result = receive(ws)
    assert result["outcome"] == "rejected" and result["reason"] == "digest_mismatch"


def test_the_name_is_a_utf16_text_string_cut_at_a_character_boundary() -> None:
    room = name_text_string("山田 太郎")
    assert room.rstrip(b" ") == b"<FEFF5C7175300020592A90CE>"
    long_name = "𠮷" * NAME_ROOM_UNITS  # surrogate pairs: two units each
    cut = name_text_string(long_name)
    assert len(cut) == len(room)
    text = bytes.fromhex(cut.strip(b" <>").decode()).decode("utf-16")
    assert text == "𠮷" * (NAME_ROOM_UNITS // 2)
    odd = name_text_string("a" + "𠮷" * NAME_ROOM_UNITS)  # the last pair does not fit
    assert bytes.fromhex(odd.strip(b" <>").decode()).decode("utf-16") == "a" + "𠮷" * (
        NAME_ROOM_UNITS // 2 - 1
    )
    assert name_text_string("") == b"<FEFF>".ljust(len(room))


@pytest.mark.parametrize("order", list(Order))
def test_the_real_bridge_signs_with_the_certificates_name(
    live: LiveService, card_link: str, tmp_path: Path, order: Order
) -> None:
    """`jpki-bridge`'s session (in this process, a simulated card) against the service."""
    token = card_link.rsplit("/", 1)[1]
    with httpx2.Client(base_url=live.url, timeout=120) as client:
        opened = client.post(f"/api/v1/r/{token}/open", json={"accept_terms": True})
        assert opened.status_code == 200, opened.text
        auth = {"Authorization": f"Bearer {opened.json()['session_token']}"}
        started = client.post(f"/api/v1/r/{token}/card-session", headers=auth)
        assert started.status_code == 201, started.text
    state = tmp_path / "card.json"
    subprocess.run(
        [str(BIN / "jpki-sim"), "card", "new", "--pki", str(live.context.settings.data_dir / "pki"),
         "--password", SIGNING_PASSWORD, "--name", CARD_NAME, "--out", str(state)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    provider = SimulatorCardProvider(state)
    user = ScriptedUser([SIGNING_PASSWORD])
    session = BridgeSession(
        bridge_target(started.json()["bridge_url"]).websocket_url, provider, user,
        SessionOptions(order=order),
    )  # fmt: skip
    signed = asyncio.run(asyncio.wait_for(session.run(), 120))
    assert signed.result.outcome == "accepted" and session.version == 2
    assert provider.card.signature_count == 1
    assert user.requests[0].digest is None and user.requests[0].expected_signer_name == "丙 三郎"

    with live.context.sessions() as db:
        document = db.query(Document).one()
        assert document.status.value == "completed"
        blob = revisions.current_revision(db, document).blob_name
        with revisions.decrypted_copy(live.context, document, blob) as plain:
            pdf = plain.read()
    assert card_signature_names(pdf) == (CARD_NAME, CARD_NAME)
    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)
    with ThreadPoolExecutor(1) as worker:  # Playwright's fixtures may hold this thread's loop
        results = worker.submit(lta_results, path, live.app.state.runtime.trust_roots).result()
    assert results and all(passed(result) for result in results.values()), results
