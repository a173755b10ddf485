"""The agreement certificate (締結証明書): made at completion, sealed, downloadable, on page 1."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.webapp.card_signing.conftest import PARTY_NAME
from tests.webapp.conftest import Service
from tests.webapp.pages.conftest import Sender, page_text, party
from tests.webapp.pdf.checks import basic_statuses
from tests.webapp.records.conftest import (
    ACCESS_CODE,
    BRIDGE_AGENT,
    BRIDGE_IP,
    FIRST,
    FIRST_EMAIL,
    TITLE,
    Completed,
    pdffonts,
    pdftotext,
)
from tests.webapp.test_api_flow import add_recipient, open_link, upload
from webapp.certificate import CERTIFICATE_SEAL_FIELD, render
from webapp.db.models import AgreementCertificate, AuditEvent, Recipient
from webapp.errors import UnavailableError
from webapp.mail.messages import JST
from webapp.services.completion_retry import complete_pending
from webapp.services.recipients import complete_if_ready

SECONDS = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} JST")


def _certificate(completed: Completed, path: Path) -> Path:
    service = completed.service
    response = service.client.get(
        f"/api/v1/documents/{completed.document_id}/certificate", headers=service.auth
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "attachment" in response.headers["content-disposition"]
    path.write_bytes(response.content)
    return path


def _jst(event: AuditEvent) -> str:
    return event.occurred_at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST")


def test_the_certificate_states_every_party_step_with_ids_times_and_card(
    completed: Completed, tmp_path: Path
) -> None:
    service = completed.service
    path = _certificate(completed, tmp_path / "certificate.pdf")

    fonts = pdffonts(path)
    cjk = [line for line in fonts.splitlines() if "Noto-Sans-CJK-JP" in line]
    assert cjk, fonts
    assert all(line.split()[-5:-3] == ["yes", "yes"] for line in cjk), fonts  # embedded, subset

    text = pdftotext(path)
    final = service.client.get(
        f"/api/v1/documents/{completed.document_id}/pdf", headers=service.auth
    ).content
    with service.context.sessions() as db:
        row = db.scalars(select(AgreementCertificate)).one()
        events = list(
            db.scalars(
                select(AuditEvent)
                .where(AuditEvent.document_id == completed.document_id)
                .order_by(AuditEvent.seq)
            )
        )
    assert row.id in text and completed.document_id in text
    assert "締結証明書" in text and "Certificate of Agreement" in text
    assert TITLE in text
    assert hashlib.sha256(final).hexdigest() in text
    assert "送信 太郎" in text and "sender@example.jp" in text  # the sender
    assert FIRST in text and FIRST_EMAIL in text and PARTY_NAME in text
    for label in ("開封", "アクセスコード認証", "Access code passed", "同意", "カード署名",
                  "マイナンバーカード", "Mail link"):  # fmt: skip
        assert label in text, label
    by_action = {e.action: e for e in events}
    for action in ("recipient.opened", "recipient.agreed", "recipient.card_signed"):
        assert _jst(by_action[action]) in text, action  # JST, to the second
    assert "testclient" in text  # the IP address the steps came from (Starlette's test client)
    # the card: the name in its certificate, its serial and its issuer; never address or birth
    signer = asn1_x509.Certificate.load(completed.card.sign_cert_der)
    assert format(signer.serial_number, "X") in text
    flat = " ".join(text.split())
    assert "mynasign test PKI" in signer.issuer.human_friendly  # the test PKI's issuer name
    assert "mynasign test PKI" in flat
    assert "霞が関" not in text and "千代田" not in text and "1990" not in text
    # the closing timestamp's time
    completed_event = by_action["document.completed"]
    assert "締結日時" in text and len(SECONDS.findall(text)) >= 5
    closing = SECONDS.findall(text.split("締結日時", 1)[1])[0]
    assert closing[:13] == _jst(completed_event)[:13]

    # sealed by the platform, timestamped, intact and trusted
    runtime = service.client.app.state.runtime  # type: ignore[attr-defined]
    statuses = basic_statuses(path, runtime.trust_roots)
    assert list(statuses) == [CERTIFICATE_SEAL_FIELD]
    status = statuses[CERTIFICATE_SEAL_FIELD]
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted

    # the certificate ID is printed on the document next to the document ID
    final_path = tmp_path / "final.pdf"
    final_path.write_bytes(final)
    stamp = " ".join(pdftotext(final_path).split())
    assert f"Document ID: {completed.document_id} Certificate ID: {row.id}" in stamp


def test_card_rows_carry_the_address_of_the_bridge_that_signed(
    completed: Completed, tmp_path: Path
) -> None:
    """The card signature's rows name the IP address it came from (the bridge's, not the
    page's), as every other row does; the audit events keep the bridge's user agent too."""
    text = pdftotext(_certificate(completed, tmp_path / "certificate.pdf"))
    with completed.service.context.sessions() as db:
        card_party = db.scalars(
            select(Recipient).where(
                Recipient.document_id == completed.document_id, Recipient.require_card
            )
        ).one()
        events = [
            e for e in db.scalars(select(AuditEvent).order_by(AuditEvent.seq))
            if e.detail.get("recipient_id") == card_party.id
        ]  # fmt: skip
    signed = [e for e in events if e.action in ("recipient.card_signed", "recipient.agreed")]
    assert [e.action for e in signed] == ["recipient.card_signed", "recipient.agreed"]
    assert all(e.ip == BRIDGE_IP and e.user_agent == BRIDGE_AGENT for e in signed), signed
    claimed = [e for e in events if e.action == "card_session.claimed"]  # the bridge's events
    assert claimed and all(e.ip == BRIDGE_IP and e.user_agent == BRIDGE_AGENT for e in claimed)
    lines = text.splitlines()
    card_rows = [line for line in lines if "カード署名" in line and SECONDS.search(line)]
    assert len(card_rows) == 1 and BRIDGE_IP in card_rows[0], card_rows
    party_section = text.split(PARTY_NAME, 1)[1].split("証明書の氏名", 1)[0]
    assert party_section.count(BRIDGE_IP) == 2  # card-signed and agreed
    assert "—" not in party_section  # no row without an address
    assert text.count(BRIDGE_IP) == 2  # nowhere else: the pages' rows keep their own
    assert "霞が関" not in text and "千代田" not in text and "1990" not in text


def test_parties_and_the_sender_download_it_from_their_pages_and_mails_link_it(
    completed: Completed, tmp_path: Path
) -> None:
    service = completed.service
    api_copy = _certificate(completed, tmp_path / "api.pdf").read_bytes()
    # the completion mail links the certificate: the party's own link, the sender's page
    mail = service.mails_to(FIRST_EMAIL)[-1]
    link = "/r/" + service.link_token(FIRST_EMAIL)
    assert f"{link}/certificate" in mail.body_text and "締結証明書" in mail.body_text
    assert "agreement certificate" in mail.body_text
    assert mail.body_html is not None and f"{link}/certificate" in mail.body_html
    owner_mail = service.mails_to("sender@example.jp")[-1]
    assert f"/documents/{completed.document_id}/certificate" in owner_mail.body_text

    person = party(service, FIRST_EMAIL)
    before = person.client.get(f"{link}/certificate", follow_redirects=False)
    assert before.status_code == 303 and before.headers["location"] == link  # terms first
    assert person.open(ACCESS_CODE).status_code == 303
    page = person.client.get(link)
    assert f'href="{link}/certificate"' in page.text
    assert "締結証明書をダウンロード" in page_text(page)
    downloaded = person.client.get(f"{link}/certificate")
    assert downloaded.status_code == 200 and downloaded.content == api_copy

    sender = Sender(TestClient(service.client.app))
    sender.login()
    detail = sender.detail(completed.document_id)
    assert f'href="/documents/{completed.document_id}/certificate"' in detail.text
    own = sender.client.get(f"/documents/{completed.document_id}/certificate")
    assert own.status_code == 200 and own.content == api_copy
    assert own.headers["cache-control"] == "no-store"


def test_before_completion_the_certificate_is_not_ready(service: Service) -> None:
    document_id = upload(service)
    add_recipient(service, document_id, name="丁 四郎", email="shiro@example.jp")
    service.client.post(f"/api/v1/documents/{document_id}/send", headers=service.auth)
    response = service.client.get(
        f"/api/v1/documents/{document_id}/certificate", headers=service.auth
    )
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "certificate_not_ready"
    assert "締結証明書" in error["message_ja"] and "certificate" in error["message_en"]
    token = service.link_token("shiro@example.jp")
    open_link(service, token)
    other = service.client.get("/api/v1/documents/NOSUCHDOCUMENT/certificate", headers=service.auth)
    assert other.status_code == 404 and other.json()["error"]["code"] == "document_not_found"


def test_without_the_japanese_font_completion_waits_and_says_why(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No certificate with empty boxes for Japanese: the closing step waits for the font."""
    document_id = upload(service)
    add_recipient(service, document_id, name="丁 四郎", email="shiro@example.jp")
    service.client.post(f"/api/v1/documents/{document_id}/send", headers=service.auth)
    token = service.link_token("shiro@example.jp")
    session = open_link(service, token)
    monkeypatch.setattr(render, "cjk_font_available", lambda: False)  # as if not installed
    agreed = service.client.post(
        f"/api/v1/r/{token}/agree", headers={"Authorization": f"Bearer {session}"}
    )
    assert agreed.status_code == 200  # the agreement is kept; completion is tried again later
    with pytest.raises(UnavailableError) as refused:
        complete_if_ready(service.context, document_id)  # what the retry round is told
    assert refused.value.code == "certificate_font_missing"
    assert "Noto Sans CJK JP" in refused.value.text("ja")
    assert "Noto Sans CJK JP" in refused.value.text("en")
    status = service.client.get(f"/api/v1/documents/{document_id}", headers=service.auth)
    assert status.json()["status"] == "sent"
    assert (
        service.client.get(
            f"/api/v1/documents/{document_id}/certificate", headers=service.auth
        ).status_code
        == 404
    )

    monkeypatch.undo()
    assert complete_pending(service.context) == 1
    status = service.client.get(f"/api/v1/documents/{document_id}", headers=service.auth)
    assert status.json()["status"] == "completed"
    assert (
        service.client.get(
            f"/api/v1/documents/{document_id}/certificate", headers=service.auth
        ).status_code
        == 200
    )
