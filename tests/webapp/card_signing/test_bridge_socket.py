"""The bridge's websocket against the app: claim, progress, signature, verdict, refusals."""

from __future__ import annotations

import datetime
import json

import pytest
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore
from sqlalchemy import select
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from jpkisim.pki import CardIdentity, IssuedCard, TestPki
from tests.webapp.card_signing.conftest import (
    CardParty,
    barrier,
    bridge_path,
    hello,
    receive,
    send,
    signature_frame,
    signature_frame_with_attributes,
)
from tests.webapp.conftest import Service, tsa_down
from tests.webapp.pdf.checks import lta_results, passed, pdfsig
from tests.webapp.test_api_flow import add_recipient, open_link, upload
from webapp.app import create_app
from webapp.db.models import CardSession
from webapp.settings import Settings


def test_a_card_signature_is_accepted_and_completes_the_document(
    card_party: CardParty, card: IssuedCard
) -> None:
    started = card_party.start()
    assert card_party.status()["state"] == "created"
    client = card_party.service.client
    with client.websocket_connect(bridge_path(started)) as ws:
        claim_key, request = hello(ws)
        assert request["expected_signer_name"] == "試験 花子"
        assert card_party.status()["state"] == "claimed"
        send(ws, type="progress", stage="waiting_for_card")
        barrier(ws, claim_key)
        assert receive_status_stage(card_party) == "waiting_for_card"
        send(ws, **signature_frame(card, request["digest"]))
        result = receive(ws)
    assert result == {
        "type": "result", "version": 1, "outcome": "accepted", "reason": None, "message": None,
    }  # fmt: skip
    status = card_party.status()
    assert status["state"] == "completed" and status["done"] is True
    document = client.get(
        f"/api/v1/documents/{card_party.document_id}", headers=card_party.service.auth
    ).json()
    assert document["status"] == "completed"
    assert document["recipients"][0]["card_signer_name"] == "試験 花子"
    # the upload, stamp + seal, the card's signature, the seal of the event, the closing step
    assert document["revision"] == 5

    final = client.get(
        f"/api/v1/documents/{card_party.document_id}/pdf", headers=card_party.service.auth
    )
    path = card_party.service.context.settings.data_dir / "final.pdf"
    path.write_bytes(final.content)
    verdicts = pdfsig(path)
    card_field = next(name for name in verdicts if name.startswith("mynasign-card-1-"))
    del verdicts["mynasign-archive-timestamp"]  # poppler does not check document timestamps
    assert len(verdicts) == 4 and set(verdicts.values()) == {"Signature is Valid."}, verdicts
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    results = lta_results(path, runtime.trust_roots)
    assert card_field in results and len(results) == 4
    assert all(passed(result) for result in results.values()), results
    # the OCSP answer that let the signature in is part of the validation data
    with card_party.service.context.sessions() as db:
        accepted_ocsp = db.scalars(select(CardSession.ocsp_response)).one()
    assert accepted_ocsp is not None
    with path.open("rb") as stream:
        dss = DocumentSecurityStore.read_dss(PdfFileReader(stream))
        embedded = {ref.get_object().data for ref in dss.ocsps}
    assert accepted_ocsp in embedded


def receive_status_stage(card_party: CardParty) -> str | None:
    stage = card_party.status()["stage"]
    return None if stage is None else str(stage)


def test_a_second_claim_is_refused(card_party: CardParty) -> None:
    started = card_party.start()
    client = card_party.service.client
    with client.websocket_connect(bridge_path(started)) as first:
        hello(first)
        with client.websocket_connect(bridge_path(started)) as second:
            send(second, type="hello", client="x", client_version="1", order="card-first")
            assert receive(second)["code"] == "already_claimed"


def test_an_unknown_token_is_refused_at_the_handshake(card_party: CardParty) -> None:
    with pytest.raises(WebSocketDenialResponse) as denied:
        card_party.service.client.websocket_connect("/ws/bridge/" + "A" * 30).__enter__()
    assert denied.value.status_code == 404


def test_an_expired_session_is_refused(card_party: CardParty) -> None:
    started = card_party.start()
    context = card_party.service.context
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=10, seconds=1)
    context.clock = lambda: later
    with pytest.raises(WebSocketDenialResponse) as denied:
        card_party.service.client.websocket_connect(bridge_path(started)).__enter__()
    assert denied.value.status_code == 410
    assert card_party.status()["state"] == "expired"
    assert card_party.status()["error"]["code"] == "session_expired"


def _reject_reason(card_party: CardParty, frame: dict[str, object]) -> dict[str, object]:
    """Claim a new session, send `frame` as the signature; the result."""
    started = card_party.start()
    with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
        _, request = hello(ws)
        send(ws, **{key: request["digest"] if value == "<digest>" else value
                    for key, value in frame.items()})  # fmt: skip
        return receive(ws)


def test_a_cms_for_another_sessions_digest_is_refused(
    card_party: CardParty, card: IssuedCard
) -> None:
    first = card_party.start()
    with card_party.service.client.websocket_connect(bridge_path(first)) as ws:
        _, old_request = hello(ws)
    second = card_party.start()
    with card_party.service.client.websocket_connect(bridge_path(second)) as ws:
        _, request = hello(ws)
        assert request["digest"] != old_request["digest"]
        send(ws, **signature_frame(card, old_request["digest"]))
        result = receive(ws)
    assert result["outcome"] == "rejected" and result["reason"] == "digest_mismatch"
    status = card_party.status()
    assert status["state"] == "rejected"
    assert status["error"]["code"] == "digest_mismatch"
    assert "一致しません" in status["error"]["message_ja"]


def test_a_cms_whose_message_digest_is_not_the_requested_one_is_refused(
    card_party: CardParty, card: IssuedCard
) -> None:
    started = card_party.start()
    with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
        _, request = hello(ws)
        frame = signature_frame(card, "ab" * 32)
        frame["digest"] = request["digest"]
        send(ws, **frame)
        result = receive(ws)
    assert result["reason"] == "message_digest_mismatch"


def test_a_certificate_from_another_pki_is_not_trusted(
    card_party: CardParty, issued_card: IssuedCard
) -> None:
    """`issued_card` comes from the tests' own PKI, which the service does not trust."""
    started = card_party.start()
    with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
        _, request = hello(ws)
        send(ws, **signature_frame(issued_card, request["digest"]))
        result = receive(ws)
    assert result["outcome"] == "rejected" and result["reason"] == "untrusted_certificate"
    document = card_party.service.client.get(
        f"/api/v1/documents/{card_party.document_id}", headers=card_party.service.auth
    ).json()
    assert document["status"] == "sent"
    assert document["recipients"][0]["status"] != "agreed"


def test_a_revoked_card_is_refused(
    card_party: CardParty, card: IssuedCard, dev_pki: TestPki
) -> None:
    dev_pki.revoke(dev_pki.card_serial(card))
    started = card_party.start()
    with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
        _, request = hello(ws)
        send(ws, **signature_frame(card, request["digest"]))
        result = receive(ws)
    assert result["reason"] == "certificate_revoked"
    assert card_party.status()["error"]["code"] == "certificate_revoked"


def test_the_same_signature_sent_again_gets_the_same_verdict(
    card_party: CardParty, card: IssuedCard
) -> None:
    started = card_party.start()
    client = card_party.service.client
    with client.websocket_connect(bridge_path(started)) as ws:
        claim_key, request = hello(ws)
        frame = signature_frame(card, request["digest"])
        send(ws, **frame)
        assert receive(ws)["outcome"] == "accepted"
    with client.websocket_connect(bridge_path(started)) as ws:
        send(ws, type="claim_resume", claim_key=claim_key)
        assert receive(ws)["type"] == "claim"
        assert receive(ws)["outcome"] == "accepted"  # the stored verdict, at once
    revisions = client.get(
        f"/api/v1/documents/{card_party.document_id}", headers=card_party.service.auth
    ).json()["revision"]
    with client.websocket_connect(bridge_path(started)) as ws:
        send(ws, type="claim_resume", claim_key=claim_key)
        receive(ws)
        receive(ws)
    assert (
        client.get(
            f"/api/v1/documents/{card_party.document_id}", headers=card_party.service.auth
        ).json()["revision"]
        == revisions
    )


def test_a_wrong_claim_key_is_refused(card_party: CardParty) -> None:
    started = card_party.start()
    client = card_party.service.client
    with client.websocket_connect(bridge_path(started)) as ws:
        hello(ws)
    with client.websocket_connect(bridge_path(started)) as ws:
        send(ws, type="claim_resume", claim_key="W" * 22)
        assert receive(ws)["code"] == "invalid_claim_key"


def test_a_wrong_password_is_shown_with_the_tries_left(card_party: CardParty) -> None:
    started = card_party.start()
    with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
        claim_key, _ = hello(ws)
        send(ws, type="progress", stage="verifying")
        send(ws, type="card_error", code="wrong_password", tries_left=3, message="wrong")
        send(ws, type="progress", stage="waiting_for_password")
        barrier(ws, claim_key)
        status = card_party.status()
    assert status["tries_left"] == 3
    assert status["error"]["code"] == "wrong_password"
    assert "残り3回" in status["error"]["message_ja"]
    assert "3 tries left" in status["error"]["message_en"]


def test_a_new_qr_code_ends_the_bridge_of_the_old_one(card_party: CardParty) -> None:
    first = card_party.start()
    with card_party.service.client.websocket_connect(bridge_path(first)) as ws:
        hello(ws)
        card_party.start()
        ended = receive(ws)
    assert ended["type"] == "cancelled" and ended["reason"] == "session_replaced"


def test_expiry_while_the_bridge_is_connected(card_party: CardParty) -> None:
    started = card_party.start()
    context = card_party.service.context
    with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
        hello(ws)
        later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=11)
        context.clock = lambda: later
        ended = receive(ws)  # the app's expiry round tells the connection
    assert ended["type"] == "expired"


def test_the_bridge_gives_up(card_party: CardParty) -> None:
    started = card_party.start()
    with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
        hello(ws, order="card-first")
        send(ws, type="cancelled", reason="locked", message="locked")
        with pytest.raises(WebSocketDisconnect):
            receive(ws)  # the server closes after a cancelled
    status = card_party.status()
    assert status["state"] == "cancelled" and status["order"] == "card-first"
    assert "ロック" in status["error"]["message_ja"]


@pytest.mark.parametrize(
    ("extra", "missing"),
    [(True, None), (False, "signing_certificate_v2")],
    ids=["extra", "missing"],
)
def test_a_cms_with_other_signed_attributes_is_refused(
    card_party: CardParty, card: IssuedCard, extra: bool, missing: str | None
) -> None:
    started = card_party.start()
    with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
        _, request = hello(ws)
        frame = signature_frame_with_attributes(
            card, request["digest"], add_signing_time=extra, drop=missing
        )
        send(ws, **frame)
        result = receive(ws)
    assert result["outcome"] == "rejected" and result["reason"] == "signed_attributes"


def test_the_status_feed_starts_with_the_current_status(card_party: CardParty) -> None:
    started = card_party.start()
    url = f"/api/v1/r/{card_party.link_token}/card-session/events"
    with card_party.service.client.stream("GET", url, headers=card_party.auth) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        data = next(line for line in lines if line.startswith("data:"))
    status = json.loads(data.removeprefix("data:"))
    assert status["session_id"] == started["session_id"] and status["state"] == "created"


def test_a_party_who_need_not_use_the_card_cannot_start_a_session(service: Service) -> None:
    document_id = upload(service)
    add_recipient(service, document_id, name="乙 次郎", email="jiro@example.jp")
    service.client.post(f"/api/v1/documents/{document_id}/send", headers=service.auth)
    token = service.link_token("jiro@example.jp")
    session = open_link(service, token)
    response = service.client.post(
        f"/api/v1/r/{token}/card-session", headers={"Authorization": f"Bearer {session}"}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "card_signature_not_required"


def test_a_server_restart_in_the_middle_loses_nothing(
    card_party: CardParty, card: IssuedCard, settings: Settings
) -> None:
    """Claimed on one server; the bridge resumes on a new one (same database) and signs."""
    started = card_party.start()
    with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
        claim_key, request = hello(ws)
        send(ws, type="progress", stage="waiting_for_card")
        barrier(ws, claim_key)
    with TestClient(create_app(settings)) as restarted:
        with restarted.websocket_connect(bridge_path(started)) as ws:
            send(ws, type="claim_resume", claim_key=claim_key)
            assert receive(ws)["type"] == "claim"
            again = receive(ws)
            assert again["type"] == "sign_request" and again["digest"] == request["digest"]
            send(ws, **signature_frame(card, request["digest"]))
            assert receive(ws)["outcome"] == "accepted"
        status = restarted.get(
            f"/api/v1/r/{card_party.link_token}/card-session", headers=card_party.auth
        ).json()
    assert status["state"] == "completed"


def test_a_sender_who_signs_with_the_card_does_so_before_anyone_is_told(
    service: Service, dev_pki: TestPki
) -> None:
    document_id = upload(service)
    response = service.client.post(
        f"/api/v1/documents/{document_id}/sender-signature", headers=service.auth
    )
    assert response.status_code == 201, response.text
    add_recipient(service, document_id, name="乙 次郎", email="jiro@example.jp")
    sent = service.client.post(f"/api/v1/documents/{document_id}/send", headers=service.auth)
    assert sent.status_code == 200, sent.text
    assert service.mails_to("jiro@example.jp") == []
    assert service.mails_to("sender@example.jp") == []  # the sender signs from the response
    link_token = sent.json()["sender_signing_url"].rsplit("/", 1)[1]
    party = CardParty(service, document_id, link_token, open_link(service, link_token))
    started = party.start()
    sender_card = dev_pki.issue_card(CardIdentity(name="送信 太郎"))
    with service.client.websocket_connect(bridge_path(started)) as ws:
        _, request = hello(ws)
        assert request["expected_signer_name"] == "送信 太郎"
        send(ws, **signature_frame(sender_card, request["digest"]))
        assert receive(ws)["outcome"] == "accepted"
    assert len(service.mails_to("jiro@example.jp")) == 1  # now the first recipient is told
    view = service.client.get(f"/api/v1/documents/{document_id}", headers=service.auth).json()
    sender_party = next(r for r in view["recipients"] if r["is_sender"])
    assert sender_party["status"] == "agreed"
    assert sender_party["card_signer_name"] == "送信 太郎"
    assert sender_party["card_signer_name_differs"] is False


@pytest.mark.parametrize(
    ("card_name", "differs"),
    [("試験　花　子", False), ("別人 一郎", True)],  # spacing only: the same name
    ids=["spacing", "another-person"],
)
def test_the_name_on_the_card_is_recorded_and_a_different_one_flagged_not_blocked(
    card_party: CardParty, dev_pki: TestPki, card_name: str, differs: bool
) -> None:
    other = dev_pki.issue_card(CardIdentity(name=card_name))
    started = card_party.start()
    with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
        _, request = hello(ws)
        send(ws, **signature_frame(other, request["digest"]))
        assert receive(ws)["outcome"] == "accepted"
    service = card_party.service
    view = service.client.get(
        f"/api/v1/documents/{card_party.document_id}", headers=service.auth
    ).json()
    assert view["recipients"][0]["card_signer_name"] == card_name
    assert view["recipients"][0]["card_signer_name_differs"] is differs
    signed = [e for e in view["events"] if e["action"] == "recipient.card_signed"]
    assert signed[0]["detail"]["signer_name"] == card_name
    assert signed[0]["detail"]["name_mismatch"] is differs
    assert "address" not in signed[0]["detail"] and "birth" not in str(signed[0]["detail"])


def test_cancelling_the_document_ends_its_card_session(card_party: CardParty) -> None:
    started = card_party.start()
    service = card_party.service
    with service.client.websocket_connect(bridge_path(started)) as ws:
        hello(ws)
        cancelled = service.client.post(
            f"/api/v1/documents/{card_party.document_id}/cancel", headers=service.auth
        )
        assert cancelled.status_code == 200
        ended = receive(ws)  # the app's expiry round ends the session and tells the bridge
    assert ended == {
        "type": "cancelled", "version": 1, "reason": "document_closed",
        "message": "The document is no longer out for signature.",
    }  # fmt: skip
    with pytest.raises(WebSocketDenialResponse) as denied:
        service.client.websocket_connect(bridge_path(started)).__enter__()
    assert denied.value.status_code == 410
    view = service.client.get(
        f"/api/v1/documents/{card_party.document_id}", headers=service.auth
    ).json()
    assert view["recipients"][0]["status"] == "cancelled"


def test_the_tsa_down_refuses_the_signature_and_loses_nothing(
    card_party: CardParty, card: IssuedCard
) -> None:
    """No timestamp, no embedding: the document is as it was, and a new QR code works."""
    service = card_party.service
    before = service.client.get(
        f"/api/v1/documents/{card_party.document_id}", headers=service.auth
    ).json()["revision"]
    started = card_party.start()
    with service.client.websocket_connect(bridge_path(started)) as ws:
        _, request = hello(ws)
        with tsa_down(service.context):
            send(ws, **signature_frame(card, request["digest"]))
            result = receive(ws)
    assert result["outcome"] == "rejected" and result["reason"] == "tsa_unavailable"
    error = card_party.status()["error"]
    assert error["code"] == "tsa_unavailable"
    assert "タイムスタンプ" in error["message_ja"] and "try again" in error["message_en"]
    view = service.client.get(
        f"/api/v1/documents/{card_party.document_id}", headers=service.auth
    ).json()
    assert view["revision"] == before and view["recipients"][0]["status"] != "agreed"

    again = card_party.start()
    with service.client.websocket_connect(bridge_path(again)) as ws:
        _, request = hello(ws)
        send(ws, **signature_frame(card, request["digest"]))
        assert receive(ws)["outcome"] == "accepted"


def test_a_frame_carrying_a_password_is_refused_without_repeating_it(
    card_party: CardParty, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken bridge that puts the password in a frame: neither the answer nor a log
    line of the server holds it."""
    started = card_party.start()
    secret = "PASSW0RD99"
    with card_party.service.client.websocket_connect(bridge_path(started)) as ws:
        hello(ws)
        send(ws, type="progress", stage="verifying", password=secret)
        answer = ws.receive_text()
    assert json.loads(answer)["code"] == "invalid_message"
    assert secret not in answer
    assert all(secret not in record.getMessage() for record in caplog.records)
    with card_party.service.context.sessions() as db:
        stored = db.scalars(select(CardSession.last_event)).all()
    assert secret not in json.dumps(stored)
