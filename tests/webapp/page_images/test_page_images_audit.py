"""Viewing the document as page images is on record: who, what, IP address, agent; once
per viewing of the document, not once per page image, and told in words in the history."""

from __future__ import annotations

import datetime
import html
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.webapp.conftest import Service
from tests.webapp.page_images.test_page_images import opened  # noqa: F401 - a fixture
from tests.webapp.pages.conftest import Party, Sender, sender  # noqa: F401 - a fixture
from webapp.audit import access
from webapp.db.models import AuditEvent, Document, DocumentRevision

AGENT = "phone-browser/17.0 (page images test)"
VIEWS = (access.VIEWED, access.PAGE_IMAGES_VIEWED)


def _views(service: Service, document_id: str) -> list[AuditEvent]:
    with service.context.sessions() as db:
        return list(
            db.scalars(
                select(AuditEvent)
                .where(AuditEvent.document_id == document_id, AuditEvent.action.in_(VIEWS))
                .order_by(AuditEvent.seq)
            )
        )


def _read_every_page(person: Party, pages: int = 2) -> None:
    """What a browser does with the document's page: the page, then each image (and one
    image again, as a browser may)."""
    assert person.client.get(person.link).status_code == 200
    for number in [*range(1, pages + 1), 1]:
        assert person.client.get(f"{person.link}/page/{number}").status_code == 200


@pytest.fixture
def reader(opened: tuple[Party, str]) -> tuple[Party, str]:  # noqa: F811
    person, document_id = opened
    person.client.headers["User-Agent"] = AGENT
    return person, document_id


def test_one_viewing_is_one_event_with_who_what_ip_and_agent(
    reader: tuple[Party, str], service: Service
) -> None:
    person, document_id = reader
    _read_every_page(person)
    events = _views(service, document_id)
    assert [e.action for e in events] == [access.VIEWED, access.PAGE_IMAGES_VIEWED]
    seen = events[1]
    with service.context.sessions() as db:
        document = db.get_one(Document, document_id)
        party_id = document.recipients[-1].id
        current = db.scalars(
            select(DocumentRevision).where(
                DocumentRevision.document_id == document_id,
                DocumentRevision.number == document.current_revision,
            )
        ).one()
    assert seen.actor_kind.value == "recipient" and seen.actor.startswith("link:")
    assert seen.detail == {
        "recipient_id": party_id, "revision": current.number, "sha256": current.sha256,
    }  # fmt: skip
    assert seen.ip == "testclient" and seen.user_agent == AGENT

    # a missing page and a stranger without the party's session add nothing
    assert person.client.get(f"{person.link}/page/3").status_code == 404
    stranger = TestClient(service.client.app)
    assert stranger.get(f"{person.link}/page/1", follow_redirects=False).status_code == 401
    assert len(_views(service, document_id)) == 2

    # showing the document again (a reload) is another viewing, recorded once more
    _read_every_page(person)
    actions = [e.action for e in _views(service, document_id)]
    assert actions == [access.VIEWED, access.PAGE_IMAGES_VIEWED] * 2


def test_images_alone_are_a_viewing_per_device_and_after_a_pause(
    reader: tuple[Party, str], service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page images fetched without the page (a direct link, a tab kept open) are still
    views: once, then again from another agent or after `VIEWING_GAP`."""
    person, document_id = reader
    for number in (1, 2, 2):
        assert person.client.get(f"{person.link}/page/{number}").status_code == 200
    assert [e.action for e in _views(service, document_id)] == [access.PAGE_IMAGES_VIEWED]

    person.client.headers["User-Agent"] = "another-browser/1.0"  # the same session elsewhere
    assert person.client.get(f"{person.link}/page/1").status_code == 200
    assert len(_views(service, document_id)) == 2

    later = datetime.datetime.now(datetime.UTC) + access.VIEWING_GAP + datetime.timedelta(minutes=1)
    monkeypatch.setattr(access, "utc_now", lambda: later)
    assert person.client.get(f"{person.link}/page/2").status_code == 200
    views = _views(service, document_id)
    assert len(views) == 3 and views[-1].user_agent == "another-browser/1.0"


def test_images_fetched_at_once_record_one_viewing(
    reader: tuple[Party, str], service: Service
) -> None:
    """A browser fetches the page images in parallel: one event, however they interleave."""
    person, document_id = reader
    assert person.client.get(person.link).status_code == 200
    start = threading.Barrier(4)
    answers: list[int] = []

    def fetch(number: int) -> None:
        start.wait(timeout=30)
        answers.append(person.client.get(f"{person.link}/page/{number}").status_code)

    threads = [threading.Thread(target=fetch, args=(1 + n % 2,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == [200] * 4
    assert [e.action for e in _views(service, document_id)] == [
        access.VIEWED, access.PAGE_IMAGES_VIEWED,
    ]  # fmt: skip


def test_the_history_says_it_in_words_in_both_languages(
    reader: tuple[Party, str],
    service: Service,
    sender: Sender,  # noqa: F811
) -> None:
    person, document_id = reader
    _read_every_page(person)
    revision = _views(service, document_id)[-1].detail["revision"]

    def history(language: str) -> str:
        page = sender.client.get(f"/documents/{document_id}?lang={language}")
        assert page.status_code == 200
        return " ".join(html.unescape(page.text.split('id="history-heading"', 1)[1]).split())

    english = history("en")
    assert f"乙 花子 viewed the document (page images, revision {revision})" in english
    assert "document.page_images_viewed" not in english
    japanese = history("ja")
    assert f"乙 花子 が文書を閲覧しました（ページ画像、第{revision}版）" in japanese
