"""Access codes cannot be ground down: locks that double, then locked until a new code.

The service's clock is moved past each lock; the 21st wrong code never gets a try (even the
right code is refused unseen), the sender gets a mail, every attempt is in the audit chain,
and the sender's new code opens the link again.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.webapp.conftest import PreparedDataDir, Service, settings_on_copy
from tests.webapp.pages.conftest import Sender, page_text, sender
from tests.webapp.test_api_flow import add_recipient, upload
from webapp.audit import events_for_document, verify_chain
from webapp.db.models import AuditEvent, Recipient
from webapp.i18n import TEXTS
from webapp.services.recipients import lock_duration
from webapp.settings import Settings

__all__ = ["sender"]  # fixture

CODE = "4821"
PARTY = "ichiro@example.jp"


def _sent_with_code(service: Service) -> tuple[str, str, str]:
    document_id = upload(service)
    recipient_id = add_recipient(
        service, document_id, name="甲 一郎", email=PARTY, access_code=CODE
    )
    sent = service.client.post(f"/api/v1/documents/{document_id}/send", headers=service.auth)
    assert sent.status_code == 200, sent.text
    return document_id, recipient_id, service.link_token(PARTY)


@pytest.fixture
def settings(prepared: PreparedDataDir, tmp_path: Path) -> Settings:
    """Rate limits off: they count real seconds, and are tested in `test_rate_limits`."""
    return settings_on_copy(prepared.path, tmp_path, rate_limits_enabled=False)


class Clock:
    """The service's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime.datetime.now(datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.now

    def forward(self, delta: datetime.timedelta) -> None:
        self.now += delta


def _try(service: Service, token: str, code: str) -> tuple[int, dict[str, object], dict[str, str]]:
    response = service.client.post(
        f"/api/v1/r/{token}/open", json={"accept_terms": True, "access_code": code}
    )
    body = response.json()
    return response.status_code, body.get("error", body), dict(response.headers)


def test_locks_double_then_the_link_waits_for_a_new_code(service: Service) -> None:
    clock = Clock()
    service.context.clock = clock
    settings = service.context.settings
    per_series, total = settings.access_code_max_attempts, settings.access_code_max_total
    assert (per_series, total) == (5, 20)  # the defaults this test walks through
    document_id, recipient_id, token = _sent_with_code(service)

    wrong_tries = refused_while_locked = 0
    expected_locks = [lock_duration(service.context, n) for n in range(3)]
    assert expected_locks == [datetime.timedelta(minutes=m) for m in (15, 30, 60)]
    for series in range(total // per_series):
        for attempt in range(per_series):
            status, error, _ = _try(service, token, "0000")
            wrong_tries += 1
            assert status == 401, (series, attempt, error)
            assert error["code"] == "access_code_wrong"
        if wrong_tries == total:
            break
        # locked: even the right code is refused, with Retry-After, and recorded
        status, error, headers = _try(service, token, CODE)
        refused_while_locked += 1
        assert status == 429 and error["code"] == "access_code_locked", error
        lock = expected_locks[series]
        assert int(headers["retry-after"]) == int(lock.total_seconds())
        assert "message_ja" in error and "message_en" in error
        clock.forward(lock - datetime.timedelta(seconds=1))
        status, error, headers = _try(service, token, CODE)  # one second before the end
        refused_while_locked += 1
        assert status == 429 and int(headers["retry-after"]) == 1
        clock.forward(datetime.timedelta(seconds=1))

    # 20 wrong codes in all: locked until the sender acts; the 21st try is never compared
    for _ in range(3):
        status, error, _ = _try(service, token, CODE)
        refused_while_locked += 1
        assert status == 403 and error["code"] == "access_code_locked_for_good", error
    clock.forward(datetime.timedelta(days=3))
    status, error, _ = _try(service, token, CODE)
    refused_while_locked += 1
    assert status == 403, error

    mails = service.mails_to("sender@example.jp")
    locked_mails = [m for m in mails if "アクセスコード" in m.subject]
    assert len(locked_mails) == 1, [m.subject for m in mails]
    body = locked_mails[0].body_text
    assert "甲 一郎" in body and PARTY in body and "20" in body
    assert f"/documents/{document_id}" in body
    assert CODE not in body  # the mail never carries a code

    with service.context.sessions() as db:
        events = events_for_document(db, document_id)
        actions = [e.action for e in events]
        assert actions.count("recipient.access_code_failed") == wrong_tries == total
        assert actions.count("recipient.access_code_refused") == refused_while_locked
        assert actions.count("recipient.access_code_locked") == total // per_series
        recipient = db.get_one(Recipient, recipient_id)
        assert recipient.code_blocked_at is not None and recipient.code_failures_total == total
        assert verify_chain(db).ok

    # the sender issues a new code: the link opens with it (and only with it)
    issued = service.client.post(
        f"/api/v1/documents/{document_id}/recipients/{recipient_id}/access-code",
        headers=service.auth, json={"access_code": "7777"},
    )  # fmt: skip
    assert issued.status_code == 200, issued.text
    assert _try(service, token, CODE)[0] == 401
    status, answer, _ = _try(service, token, "7777")
    assert status == 200, answer
    with service.context.sessions() as db:
        last = db.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(3)).all()
        assert "recipient.access_code_reset" in [e.action for e in last]
        assert verify_chain(db).ok


def test_the_sender_page_offers_a_new_code_for_a_locked_link(
    service: Service, sender: Sender
) -> None:
    document_id, recipient_id, token = _sent_with_code(service)
    with service.context.sessions() as db:
        recipient = db.get_one(Recipient, recipient_id)
        recipient.code_blocked_at = service.context.now()
        db.commit()
    response = service.client.post(
        f"/api/v1/documents/{document_id}/recipients/{recipient_id}/access-code",
        headers=service.auth, json={"access_code": "\u202e1234"},
    )  # fmt: skip
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "text_invalid_characters"
    other = service.client.post(
        f"/api/v1/documents/{document_id}/recipients/nosuchrecipient0000000/access-code",
        headers=service.auth, json={"access_code": "1234"},
    )  # fmt: skip
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "recipient_not_found"
    assert _try(service, token, CODE)[0] == 403

    page = sender.client.get(f"/documents/{document_id}")
    form = f"/documents/{document_id}/recipients/{recipient_id}/access-code"
    assert form in page.text and TEXTS["new_access_code_hint"][0] in page_text(page)
    refused = sender.post(form, {"access_code": "12\x0034"}, form_page=f"/documents/{document_id}")
    assert refused.status_code == 400
    assert TEXTS["text_invalid_characters"][0].format(field="access_code") in page_text(refused)
    issued = sender.post(form, {"access_code": "5555"}, form_page=f"/documents/{document_id}")
    assert issued.status_code == 303, issued.text
    assert form not in sender.client.get(f"/documents/{document_id}").text
    assert _try(service, token, "5555")[0] == 200
