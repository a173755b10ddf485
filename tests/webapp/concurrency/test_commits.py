"""A 2xx means committed; a write that cannot happen answers 503 and loses nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.webapp.conftest import Service, make_pdf, with_sender
from webapp.app import create_app
from webapp.db.models import Recipient
from webapp.settings import load_settings


@pytest.fixture
def quick_busy_service(tmp_path: Path) -> Iterator[Service]:
    """A service whose SQLite writes wait at most half a second for their turn."""
    settings = load_settings(
        environment="development", data_dir=tmp_path / "var", database_write_wait_seconds=0.5
    )
    with TestClient(create_app(settings)) as client:
        yield with_sender(client)


def upload(service: Service, title: str = "契約書") -> str:
    answer = service.client.post(
        "/api/v1/documents", headers=service.auth, data={"title": title},
        files={"file": ("c.pdf", make_pdf(), "application/pdf")},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_what_a_2xx_answered_is_read_back_at_once(service: Service) -> None:
    document_id = upload(service)
    for n in range(25):
        added = service.client.post(
            f"/api/v1/documents/{document_id}/recipients", headers=service.auth,
            json={"name": f"相手 {n}", "email": f"party{n}@example.jp"},
        )  # fmt: skip
        assert added.status_code == 201, added.text
        # another connection, at once: the row is committed, not merely answered
        with service.context.sessions() as db:
            assert db.get(Recipient, added.json()["id"]) is not None
        shown = service.client.get(f"/api/v1/documents/{document_id}", headers=service.auth)
        assert shown.status_code == 200
        assert len(shown.json()["recipients"]) == n + 1


def test_a_commit_that_fails_is_never_answered_with_a_2xx(service: Service) -> None:
    document_id = upload(service)
    failing = threading.Event()

    def fail_commit(session: Session) -> None:
        if failing.is_set():
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    event.listen(service.context.sessions, "before_commit", fail_commit)
    failing.set()
    try:
        added = service.client.post(
            f"/api/v1/documents/{document_id}/recipients", headers=service.auth,
            json={"name": "相手", "email": "party@example.jp"},
        )  # fmt: skip
    finally:
        failing.clear()
        event.remove(service.context.sessions, "before_commit", fail_commit)
    assert added.status_code == 503, added.text
    assert added.headers["Retry-After"]
    error = added.json()["error"]
    assert error["code"] == "database_busy"
    assert error["message_ja"] and error["message_en"]
    with service.context.sessions() as db:
        assert db.scalars(select(Recipient).where(Recipient.document_id == document_id)).all() == []


def test_a_write_that_cannot_get_its_turn_answers_503_and_loses_nothing(
    quick_busy_service: Service,
) -> None:
    service = quick_busy_service
    document_id = upload(service)
    holding, release = threading.Event(), threading.Event()

    def hold_the_write_turn() -> None:
        with service.context.sessions() as db:
            db.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: this thread has the turn
            holding.set()
            release.wait(30)

    with ThreadPoolExecutor(1) as other:
        held = other.submit(hold_the_write_turn)
        assert holding.wait(10)
        try:
            busy = service.client.post(
                f"/api/v1/documents/{document_id}/recipients", headers=service.auth,
                json={"name": "相手", "email": "party@example.jp"},
            )  # fmt: skip
        finally:
            release.set()
        held.result(10)
    assert busy.status_code == 503, busy.text
    assert busy.headers["Retry-After"] == "5"
    assert busy.json()["error"]["code"] == "database_busy"
    again = service.client.post(
        f"/api/v1/documents/{document_id}/recipients", headers=service.auth,
        json={"name": "相手", "email": "party@example.jp"},
    )  # fmt: skip
    assert again.status_code == 201, again.text


def test_many_writers_at_once_never_see_database_is_locked(service: Service) -> None:
    document_ids = [upload(service, f"文書 {n}") for n in range(4)]

    def add_parties(document_id: str) -> list[int]:
        codes = []
        for n in range(15):
            answer = service.client.post(
                f"/api/v1/documents/{document_id}/recipients", headers=service.auth,
                json={"name": f"相手 {n}", "email": f"p{n}-{document_id[:6]}@example.jp"},
            )  # fmt: skip
            codes.append(answer.status_code)
        return codes

    with ThreadPoolExecutor(8) as clients:
        results = list(clients.map(add_parties, document_ids * 2))
    assert all(code == 201 for codes in results for code in codes), results
    with service.context.sessions() as db:
        assert len(db.scalars(select(Recipient)).all()) == 4 * 2 * 15
