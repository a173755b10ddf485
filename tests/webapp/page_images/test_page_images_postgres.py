"""On PostgreSQL, page images fetched at once record one viewing (the check is under the
audit chain's lock: READ COMMITTED alone would let each request miss the others' event)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.webapp.conftest import Service, with_sender
from tests.webapp.db.databases import PostgresDatabases, postgres_admin_url
from tests.webapp.page_images.test_page_images import pdf_with_attachment, upload
from tests.webapp.pages.conftest import party
from tests.webapp.verification.flow import send_to_one_party
from webapp.app import create_app
from webapp.audit import access, verify_chain
from webapp.db.models import AuditEvent
from webapp.settings import load_settings

FETCHES = 8


@pytest.fixture
def postgres_service(tmp_path: Path) -> Iterator[Service]:
    databases = PostgresDatabases(postgres_admin_url())
    try:
        url = databases.create(migrated=True)
        settings = load_settings(
            environment="development", data_dir=tmp_path / "var", database_url=url
        )
        with TestClient(create_app(settings)) as client:
            yield with_sender(client)
    finally:
        databases.close()


def test_images_fetched_at_once_record_one_viewing(postgres_service: Service) -> None:
    service = postgres_service
    document_id = upload(service, pdf_with_attachment(2))
    send_to_one_party(service, document_id)
    person = party(service, "hanako@example.jp")
    assert person.open().status_code == 303
    assert person.client.get(person.link).status_code == 200
    start = threading.Barrier(FETCHES)
    answers: list[int] = []

    def fetch(number: int) -> None:
        start.wait(timeout=30)
        answers.append(person.client.get(f"{person.link}/page/{number}").status_code)

    for _ in range(3):  # three viewings, each a burst of parallel fetches after the page
        threads = [threading.Thread(target=fetch, args=(1 + n % 2,)) for n in range(FETCHES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert person.client.get(person.link).status_code == 200
    assert answers == [200] * FETCHES * 3
    with service.context.sessions() as db:
        actions = db.scalars(
            select(AuditEvent.action)
            .where(
                AuditEvent.document_id == document_id,
                AuditEvent.action.in_((access.VIEWED, access.PAGE_IMAGES_VIEWED)),
            )
            .order_by(AuditEvent.seq)
        ).all()
        assert verify_chain(db).ok
    assert actions == [access.VIEWED, access.PAGE_IMAGES_VIEWED] * 3 + [access.VIEWED]
