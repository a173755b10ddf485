"""On PostgreSQL, page images fetched at once record one viewing (the check is under the
audit chain's lock: READ COMMITTED alone would let each request miss the others' event)."""

from __future__ import annotations

import threading

from sqlalchemy import select

from tests.webapp.concurrency import conftest as concurrency_fixtures
from tests.webapp.conftest import Service
from tests.webapp.db import conftest as db_fixtures
from tests.webapp.page_images.test_page_images import pdf_with_attachment, upload
from tests.webapp.pages.conftest import party
from tests.webapp.verification.flow import send_to_one_party
from webapp.audit import access, verify_chain
from webapp.db.models import AuditEvent

FETCHES = 8


# The service on a PostgreSQL database of its own (the concurrency tests' fixture).
postgres_databases = db_fixtures.postgres_databases
pg_service = concurrency_fixtures.pg_service


def test_images_fetched_at_once_record_one_viewing(pg_service: Service) -> None:
    service = pg_service
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
