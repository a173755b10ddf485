"""Every view and download on record: who, what, IP address and user agent."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.webapp.pages.conftest import Sender, party
from tests.webapp.records.conftest import ACCESS_CODE, AGENT, FIRST_EMAIL, Completed
from webapp.db.models import AuditEvent, Document


def _accesses(completed: Completed, seen: int) -> list[AuditEvent]:
    with completed.service.context.sessions() as db:
        return list(
            db.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.document_id == completed.document_id,
                    AuditEvent.action.in_(
                        ("document.viewed", "document.downloaded", "certificate.downloaded")
                    ),
                    AuditEvent.seq > seen,
                )
                .order_by(AuditEvent.seq)
            )
        )


def _head(completed: Completed) -> int:
    with completed.service.context.sessions() as db:
        head = db.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    assert head is not None
    return head


def test_views_and_downloads_are_recorded_with_who_ip_and_agent(completed: Completed) -> None:
    service = completed.service
    client = service.client
    with service.context.sessions() as db:
        document = db.get_one(Document, completed.document_id)
        parties = {r.email: r.id for r in document.recipients}
    start = _head(completed)
    agent = {"User-Agent": AGENT}

    # the sender by API: the PDF and the certificate
    assert (
        client.get(
            f"/api/v1/documents/{completed.document_id}/pdf", headers=service.auth | agent
        ).status_code
        == 200
    )
    assert (
        client.get(
            f"/api/v1/documents/{completed.document_id}/certificate", headers=service.auth | agent
        ).status_code
        == 200
    )
    # a party by API, with the session of their opened link
    assert (
        client.get(
            f"/api/v1/r/{completed.first_token}/pdf",
            headers={"Authorization": f"Bearer {completed.first_session}"} | agent,
        ).status_code
        == 200
    )
    # the sender's pages
    sender = Sender(TestClient(client.app, headers=agent))
    sender.login()
    sender.detail(completed.document_id)
    assert sender.client.get(f"/documents/{completed.document_id}/pdf").status_code == 200
    # a party's pages (the link of the completion mail)
    person = party(service, FIRST_EMAIL)
    person.client.headers["User-Agent"] = AGENT
    assert person.open(ACCESS_CODE).status_code == 303
    assert person.client.get(person.link).status_code == 200
    assert person.client.get(f"{person.link}/pdf").status_code == 200
    assert person.client.get(f"{person.link}/certificate").status_code == 200

    events = _accesses(completed, start)
    seen = [
        (e.action, e.actor_kind.value, e.detail.get("recipient_id"), e.detail.get("file"))
        for e in events
    ]
    first = parties[FIRST_EMAIL]
    assert seen == [
        ("document.downloaded", "sender", None, "pdf"),
        ("certificate.downloaded", "sender", None, None),
        ("document.downloaded", "recipient", first, "pdf"),
        ("document.viewed", "sender", None, None),
        ("document.downloaded", "sender", None, "pdf"),
        ("document.viewed", "recipient", first, None),
        ("document.downloaded", "recipient", first, "pdf"),
        ("certificate.downloaded", "recipient", first, None),
    ]
    assert all(e.ip == "testclient" and e.user_agent == AGENT for e in events)
    assert all(e.actor == service.sender.id for e in events if e.actor_kind.value == "sender")
    downloads = [e for e in events if e.action == "document.downloaded"]
    assert all(e.detail["revision"] == downloads[0].detail["revision"] for e in downloads)
    assert all(len(e.detail["sha256"]) == 64 for e in downloads)
