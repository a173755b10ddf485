"""Rate limits on the open doors, counted in memory and in Redis (shared by instances).

Each refusal is a 429 with `Retry-After` and a message in Japanese and English (pages: a
page); the limits come from the settings. Redis is a private `redis-server` (conftest), and
each test uses a key prefix of its own.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.testclient import WebSocketDenialResponse

from tests.webapp.conftest import with_sender
from tests.webapp.pages.conftest import Person, page_text
from tests.webapp.test_api_flow import add_recipient, upload
from webapp.app import create_app
from webapp.audit import events_for_document, verify_chain
from webapp.db.engine import make_engine
from webapp.i18n import TEXTS
from webapp.rate_limits import RateLimits
from webapp.settings import load_settings

LINK = "A" * 43  # a link token nobody was given: the door counts before the lookup
Start = Callable[..., TestClient]


@contextlib.contextmanager
def _apps(tmp_path: Path, redis_url: str | None) -> Iterator[Start]:
    """Start apps with these limits; with Redis, every app of one test shares the counts."""
    prefix = f"mynasign-test-{secrets.token_hex(8)}"
    clients: list[TestClient] = []

    def make(**limits: Any) -> TestClient:
        redis = {"redis_url": redis_url} if redis_url else {}
        settings = load_settings(
            environment="development", data_dir=tmp_path / f"var-{len(clients)}",
            **redis, **limits,
        )  # fmt: skip
        app = create_app(settings)
        app.state.rate_limits = RateLimits(settings, key_prefix=prefix)
        assert app.state.rate_limits.storage_kind == ("redis" if redis_url else "memory")
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in clients:
            client.__exit__(None, None, None)


@pytest.fixture(params=["memory", "redis"])
def start(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Start]:
    """Apps counting in this process's memory, or in the private Redis."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    with _apps(tmp_path, redis_url) as make:
        yield make


def assert_refused_json(response: Any) -> None:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert error["code"] == "rate_limited" and error["retry_after"] == retry_after
    assert error["message_ja"] == TEXTS["rate_limited"][0].format(retry_after=retry_after)
    assert error["message_en"] == TEXTS["rate_limited"][1].format(retry_after=retry_after)


def test_recipient_open_is_limited_per_address(start: Start) -> None:
    client = start(rate_limit_recipient_open="3/minute")
    for _ in range(3):
        answer = client.post(f"/api/v1/r/{LINK}/open", json={"accept_terms": True})
        assert answer.status_code == 404  # let in: the link is unknown
    assert_refused_json(client.post(f"/api/v1/r/{LINK}/open", json={"accept_terms": True}))
    page = client.get(f"/r/{LINK}")  # the page door is the same door
    assert page.status_code == 429 and 1 <= int(page.headers["retry-after"]) <= 60
    assert "rate_limited" not in page.text
    retry = int(page.headers["retry-after"])
    assert TEXTS["rate_limited"][0].format(retry_after=retry) in page_text(page)


def test_access_codes_are_limited_per_link(start: Start) -> None:
    client = start(rate_limit_access_code="2/minute")
    other = "B" * 43
    for _ in range(2):
        assert client.post(f"/api/v1/r/{LINK}/open", json={"accept_terms": True}).status_code == 404
    assert_refused_json(client.post(f"/api/v1/r/{LINK}/open", json={"accept_terms": True}))
    assert client.post(f"/api/v1/r/{other}/open", json={"accept_terms": True}).status_code == 404


def test_login_and_sign_up_pages_answer_a_429_page(start: Start) -> None:
    client = start(rate_limit_login="2/minute", rate_limit_signup="1/hour")
    person = Person(client)
    form = {"email": "nobody@example.jp", "password": "wrong-password-123"}
    for _ in range(2):
        assert person.post("/login", form).status_code == 401
    refused = person.post("/login", form)
    assert refused.status_code == 429
    retry = int(refused.headers["retry-after"])
    assert 1 <= retry <= 60
    assert TEXTS["rate_limited"][0].format(retry_after=retry) in page_text(refused)
    account = {"email": "new@example.jp", "password": "kiri-sakura-7-tsuki", "display_name": "x"}
    assert person.post("/signup", account, form_page="/signup").status_code == 303
    again = {**account, "email": "new2@example.jp"}
    refused = person.post("/signup", again, form_page="/signup")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 60


def test_card_sessions_and_bridge_hellos_are_limited(start: Start) -> None:
    client = start(rate_limit_card_session="1/minute", rate_limit_bridge_hello="2/minute")
    bearer = {"Authorization": "Bearer " + "S" * 43}
    assert client.post(f"/api/v1/r/{LINK}/card-session", headers=bearer).status_code == 404
    assert_refused_json(client.post(f"/api/v1/r/{LINK}/card-session", headers=bearer))
    bridge = "/ws/bridge/" + "C" * 43
    for _ in range(2):
        with pytest.raises(WebSocketDenialResponse) as unknown:
            client.websocket_connect(bridge).__enter__()
        assert unknown.value.status_code == 404
    with pytest.raises(WebSocketDenialResponse) as refused:
        client.websocket_connect(bridge).__enter__()
    assert refused.value.status_code == 429
    assert 1 <= int(refused.value.headers["retry-after"]) <= 60
    assert TEXTS["rate_limited"][1].split("{")[0] in refused.value.text


def test_instances_share_the_counts_in_redis(tmp_path: Path, redis_url: str) -> None:
    with _apps(tmp_path, redis_url) as start:
        first = start(rate_limit_recipient_open="2/minute")
        second = start(rate_limit_recipient_open="2/minute")
        open_body = {"accept_terms": True}
        assert first.post(f"/api/v1/r/{LINK}/open", json=open_body).status_code == 404
        assert second.post(f"/api/v1/r/{LINK}/open", json=open_body).status_code == 404
        assert_refused_json(first.post(f"/api/v1/r/{LINK}/open", json=open_body))
        assert_refused_json(second.post(f"/api/v1/r/{LINK}/open", json=open_body))


def test_a_redis_outage_lets_people_in_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings = load_settings(
        environment="development", data_dir=tmp_path / "var",
        redis_url=f"redis://127.0.0.1:{closed}/0", rate_limit_login="1/minute",
    )  # fmt: skip
    limits = RateLimits(settings)
    with caplog.at_level(logging.ERROR, logger="webapp.rate_limits"):
        for _ in range(3):
            limits.hit("login", "192.0.2.1")  # over the limit, but not refused
    assert [r for r in caplog.records if "rate limits not applied" in r.getMessage()]


def test_tries_refused_at_the_door_are_in_the_audit_log(tmp_path: Path) -> None:
    with _apps(tmp_path, None) as start:
        client = start(rate_limit_access_code="2/minute")
        service = with_sender(client)
        document_id = upload(service)
        add_recipient(service, document_id, name="甲 一郎", email="ichiro@example.jp",
                      access_code="4821")  # fmt: skip
        sent = client.post(f"/api/v1/documents/{document_id}/send", headers=service.auth)
        assert sent.status_code == 200, sent.text
        link = service.link_token("ichiro@example.jp")
        tries = [
            client.post(f"/api/v1/r/{link}/open",
                        json={"accept_terms": True, "access_code": f"000{n}"}).status_code
            for n in range(7)
        ]  # fmt: skip
        assert tries == [401, 401, 429, 429, 429, 429, 429]
        limits: RateLimits = client.app.state.rate_limits  # type: ignore[attr-defined]
        assert limits.record_refused_tries(service.context) == 5
        client.post(f"/api/v1/r/{link}/open", json={"accept_terms": True, "access_code": "1"})
        context = service.context
    # the app has stopped: the last refused try was written on the way out
    engine = make_engine(str(context.settings.database_url))
    try:
        with Session(engine) as db:
            events = events_for_document(db, document_id)
            refused = [e for e in events if e.action == "recipient.open_rate_limited"]
            failed = [e for e in events if e.action == "recipient.access_code_failed"]
            assert [e.detail["refused"] for e in refused] == [5, 1]
            assert len(failed) == 2  # every try is in the log: 2 compared, 6 refused at the door
            assert all(e.ip == "testclient" for e in refused)
            assert verify_chain(db).ok
    finally:
        engine.dispose()
