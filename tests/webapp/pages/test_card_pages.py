"""The card signing pages: the card button, consent, requirements, the QR session, its feed."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from bridge.protocol import Order
from tests.webapp.conftest import Service
from tests.webapp.pages.conftest import Party, Sender, page_text, party, sent_document
from webapp.card_signing import sessions as card_sessions
from webapp.card_signing.pages import CARD_COOKIE
from webapp.db.models import AuditEvent, CardSession, CardSessionState, Recipient, RecipientStatus
from webapp.i18n import TEXTS

CONSENT = {"consent_document": "1", "consent_certificate": "1", "consent_terms": "1"}
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile"


def card_party(service: Service, sender: Sender) -> Party:
    """A party who must sign with the card, with the link opened in their browser."""
    sent_document(sender, ("丙 三郎", "saburo@example.jp", ""), card=True)
    recipient = party(service, "saburo@example.jp")
    assert recipient.open().status_code == 303
    return recipient


def consented(recipient: Party) -> Party:
    response = recipient.post(f"{recipient.link}/card/consent", CONSENT)
    assert response.status_code == 303, page_text(response)
    return recipient


def start(recipient: Party) -> str:
    """The new session's token after "Next" (or "Refresh QR code"), from the cookie."""
    response = recipient.post(f"{recipient.link}/card/session")
    assert response.status_code == 303, page_text(response)
    assert response.headers["location"] == f"{recipient.link}/card/session"
    cookie = next(c for c in response.headers.get_list("set-cookie") if CARD_COOKIE in c)
    assert f"Path={recipient.link}/card" in cookie and "HttpOnly" in cookie
    token = recipient.client.cookies.get(CARD_COOKIE)
    assert token and token not in response.headers["location"]
    return token


def newest(service: Service, recipient_email: str) -> CardSession:
    with service.context.sessions() as db:
        recipient = db.scalars(select(Recipient).where(Recipient.email == recipient_email)).one()
        session = card_sessions.latest_session(db, recipient)
        assert session is not None
        return session


def test_a_card_party_consents_and_gets_a_qr_code(service: Service, sender: Sender) -> None:
    recipient = card_party(service, sender)
    link = recipient.link
    document = recipient.client.get(link)
    assert f">{TEXTS['card_page_sign_button'][0]}</a>" in document.text
    assert f'href="{link}/card/consent" data-dialog="card-dialog"' in document.text
    assert 'id="card-dialog"' in document.text and 'data-dialog="agree-dialog"' not in document.text
    assert f'href="{link}/agree"' not in document.text
    assert recipient.client.get(f"{link}/card", follow_redirects=False).headers["location"] == (
        f"{link}/card/consent"  # the requirements come after the consent
    )

    partial = recipient.post(
        f"{link}/card/consent", {"consent_document": "1", "consent_terms": "1"}
    )
    assert partial.status_code == 400
    assert TEXTS["card_page_consent_required"][0] in page_text(partial)
    assert 'name="consent_certificate" type="checkbox" value="1" required' in partial.text
    assert recipient.client.get(f"{link}/card", follow_redirects=False).status_code == 303
    accepted = recipient.post(f"{link}/card/consent", CONSENT)
    assert accepted.status_code == 303 and accepted.headers["location"] == f"{link}/card"
    with service.context.sessions() as db:
        consents = db.scalars(
            select(AuditEvent).where(AuditEvent.action == "recipient.card_consented")
        ).all()
    assert consents and consents[0].detail["consents"] == ["document", "certificate", "terms"]

    requirements = recipient.client.get(f"{link}/card")
    assert requirements.status_code == 200
    for key in ("card_page_need_password", "card_page_need_password_lock", "card_page_next"):
        assert TEXTS[key][0] in page_text(requirements), key
    no_session = recipient.client.get(f"{link}/card/session", follow_redirects=False)
    assert no_session.headers["location"] == f"{link}/card"

    token = start(recipient)
    session = newest(service, "saburo@example.jp")
    assert session.state is CardSessionState.CREATED
    page = recipient.client.get(f"{link}/card/session")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    bridge_url = f"{service.context.settings.base_url.rstrip('/')}/b/{token}"
    assert "<svg " in page.text and 'class="qr__code" role="img"' in page.text
    assert bridge_url in page_text(page) and f"jpki-bridge sign {bridge_url}" in page_text(page)
    assert f'datetime="{session.expires_at.isoformat()}"' in page.text
    assert ">10:00<" in page.text or ">09:59<" in page.text
    assert 'id="card-texts">{' in page.text and 'src="/static/card.js"' in page.text
    assert "style=" not in page.text and "<script>" not in page.text  # CSP: no inline code
    assert TEXTS["card_page_open_app"][0] not in page_text(page)  # a PC: the QR code only
    assert recipient.client.get(f"{link}/card/session").text.count(token) >= 2  # a reload


def test_refresh_replaces_the_session_and_the_feed_follows(
    service: Service, sender: Sender
) -> None:
    recipient = consented(card_party(service, sender))
    link = recipient.link
    first_token = start(recipient)
    first = newest(service, "saburo@example.jp")
    assert recipient.client.get(f"/b/{first_token}").status_code == 200

    second_token = start(recipient)  # "Refresh QR code"
    second = newest(service, "saburo@example.jp")
    assert second_token != first_token and second.id != first.id
    with service.context.sessions() as db:
        old = db.get_one(CardSession, first.id)
        assert old.state is CardSessionState.CANCELLED and old.reject_reason == "replaced"
    stale = recipient.client.get(f"/b/{first_token}")
    assert stale.status_code == 404
    assert TEXTS["bridge_page_unknown"][0] in page_text(stale)
    page = recipient.client.get(f"{link}/card/session")
    assert second_token in page.text and first_token not in page.text
    assert f'data-session-id="{second.id}"' in page.text

    with recipient.client.stream("GET", f"{link}/card/events") as feed:
        assert feed.status_code == 200
        assert feed.headers["content-type"].startswith("text/event-stream")
        first_event = next(line for line in feed.iter_lines() if line.startswith("data:"))
    status = json.loads(first_event.removeprefix("data:"))
    assert status["session_id"] == second.id and status["state"] == "created"
    assert status["done"] is False and status["recipient_status"] == "opened"

    card_sessions.claim(service.context, second.id, Order.CARD_FIRST)
    card_sessions.record_bridge_cancel(service.context, second.id, "locked")
    gone = recipient.client.get(f"{link}/card/session", follow_redirects=False)
    assert gone.headers["location"] == f"{link}/card"
    assert CARD_COOKIE in gone.headers["set-cookie"]  # the ended session's token is forgotten
    requirements = page_text(recipient.client.get(f"{link}/card"))
    assert TEXTS["card_cancelled_locked"][0] in requirements  # what happened last time


def test_the_flow_without_javascript_and_in_english(service: Service, sender: Sender) -> None:
    recipient = card_party(service, sender)
    link = recipient.link
    agree = recipient.client.get(f"{link}/agree", follow_redirects=False)
    assert agree.headers["location"] == f"{link}/card/consent"
    consent = recipient.client.get(f"{link}/card/consent?lang=en")
    assert consent.status_code == 200 and consent.text.count('type="checkbox"') == 3
    assert TEXTS["card_page_consent_certificate_hint"][1] in page_text(consent)
    consented(recipient)
    start(recipient)
    page = recipient.client.get(f"{link}/card/session", headers={"User-Agent": IPHONE})
    assert TEXTS["card_page_open_app"][1] in page_text(page)  # the language cookie stuck
    token = recipient.client.cookies.get(CARD_COOKIE)
    assert f'href="{service.context.settings.base_url.rstrip("/")}/b/{token}"' in page.text
    texts = page.text.split('id="card-texts">', 1)[1].split("</script>", 1)[0]
    assert json.loads(texts)["reconnecting"] == TEXTS["card_page_reconnecting"][1]


def test_the_qr_link_in_a_browser(service: Service, sender: Sender, stranger: TestClient) -> None:
    recipient = consented(card_party(service, sender))
    token = start(recipient)
    phone = stranger  # no cookie of the party's
    opened = phone.get(f"/b/{token}", headers={"User-Agent": IPHONE})
    assert opened.status_code == 200
    text = page_text(opened)
    assert TEXTS["bridge_page_intro"][0] in text and TEXTS["bridge_page_phone"][0] in text
    assert f"jpki-bridge sign {service.context.settings.base_url.rstrip('/')}/b/{token}" in text
    assert "業務委託契約書" not in text and "丙 三郎" not in text  # nothing of the document
    assert opened.headers["referrer-policy"] == "no-referrer"
    assert opened.headers["cache-control"] == "no-store"
    for unknown in ("x" * 43, "short"):
        response = phone.get(f"/b/{unknown}")
        assert response.status_code == 404
        assert TEXTS["bridge_page_unknown"][0] in page_text(response)
    assert newest(service, "saburo@example.jp").state is CardSessionState.CREATED  # only looked


def test_others_are_sent_back_and_a_signed_party_sees_it(service: Service, sender: Sender) -> None:
    sent_document(sender, ("甲 一郎", "ichiro@example.jp", ""))
    plain = party(service, "ichiro@example.jp")
    plain.open()
    for path in ("/card", "/card/consent", "/card/session"):
        response = plain.client.get(f"{plain.link}{path}", follow_redirects=False)
        assert response.headers["location"] == plain.link, path
    assert plain.post(f"{plain.link}/card/session").headers["location"] == plain.link
    assert plain.client.get(f"{plain.link}/card/events").status_code == 404  # nothing to follow

    recipient = consented(card_party(service, sender))
    start(recipient)
    with service.context.sessions() as db:
        signed = db.scalars(select(Recipient).where(Recipient.email == "saburo@example.jp")).one()
        signed.status = RecipientStatus.AGREED  # as card_sessions records an accepted CMS
        signed.card_signer_name = "丙 三郎"
        db.commit()
    page = recipient.client.get(f"{recipient.link}/card/session", follow_redirects=False)
    assert page.headers["location"] == recipient.link
    document = recipient.client.get(recipient.link)
    assert TEXTS["card_page_signed_with_card"][0] in page_text(document)
    assert f'href="{recipient.link}/card/consent"' not in document.text
