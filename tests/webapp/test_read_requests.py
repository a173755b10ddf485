"""Requests that only read do not queue for SQLite's one writer (issue 9: the probe's tail)."""

from __future__ import annotations

import datetime
import threading

from sqlalchemy import select, text

from tests.webapp.conftest import Service
from webapp.db.models import ApiToken
from webapp.services.accounts import API_TOKEN_USE_RESOLUTION


def last_used(service: Service) -> datetime.datetime | None:
    with service.context.sessions() as db:
        return db.scalar(select(ApiToken.last_used_at).where(ApiToken.user_id == service.sender.id))


def test_a_token_s_use_is_recorded_once_a_minute(service: Service) -> None:
    start = service.context.now()
    service.context.clock = lambda: start
    assert service.client.get("/api/v1/documents", headers=service.auth).status_code == 200
    assert last_used(service) == start
    service.context.clock = lambda: start + API_TOKEN_USE_RESOLUTION / 2
    assert service.client.get("/api/v1/documents", headers=service.auth).status_code == 200
    assert last_used(service) == start  # not written again within the minute
    later = start + API_TOKEN_USE_RESOLUTION
    service.context.clock = lambda: later
    assert service.client.get("/api/v1/documents", headers=service.auth).status_code == 200
    assert last_used(service) == later


def test_the_document_list_answers_while_a_writer_holds_the_turn(service: Service) -> None:
    assert service.client.get("/api/v1/documents", headers=service.auth).status_code == 200
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with service.context.sessions.begin() as db:  # SQLite: BEGIN IMMEDIATE, the turn
            db.execute(text("SELECT 1"))
            holding.set()
            release.wait(timeout=30)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        listed = service.client.get("/api/v1/documents?limit=1", headers=service.auth)
        exported = service.client.get("/api/v1/documents.csv", headers=service.auth)
        assert thread.is_alive()  # the writer still held its turn while both answered
    finally:
        release.set()
        thread.join(timeout=10)
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == 0
    assert exported.status_code == 200, exported.text
