"""Requests that only read do not queue for SQLite's one writer (issue 9: the probe's tail)."""

from __future__ import annotations

import datetime

from sqlalchemy import select

from tests.webapp.conftest import Service, writer_turn_held
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
    with writer_turn_held(service.context) as writer:
        listed = service.client.get("/api/v1/documents?limit=1", headers=service.auth)
        exported = service.client.get("/api/v1/documents.csv", headers=service.auth)
        assert writer.is_alive()  # the writer still held its turn while both answered
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == 0
    assert exported.status_code == 200, exported.text
