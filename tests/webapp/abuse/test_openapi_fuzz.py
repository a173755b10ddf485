"""schemathesis against the OpenAPI description: no server error, every answer as described.

Every operation is called with cases generated from the description, valid ones and
invalid ones (schemathesis' negative mode), half of them with real document and recipient
IDs, real link tokens and valid bearer tokens put in, so that the calls reach the service
code and not only the validation. Every answer is checked against the description: its
status is one the operation declares, its content type too, and its body validates against
the declared model (the `response_model`s, and the bilingual error of `webapp.api_models`).
The service runs under uvicorn on loopback, on SQLite and on PostgreSQL; rate limits are off
so the generated calls get past the doors. Bounded: a few examples per operation and mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode
from sqlalchemy import select

from tests.webapp.abuse.conftest import StartLive
from tests.webapp.conftest import make_pdf
from tests.webapp.db.conftest import postgres_databases
from tests.webapp.db.databases import PostgresDatabases
from tests.webapp.pages.live import LiveService
from webapp.db.models import OutgoingMail
from webapp.services.accounts import create_api_token, sign_up

__all__ = ["postgres_databases"]  # fixture

EXAMPLES_PER_OPERATION = 6
STREAMS = {"/api/v1/r/{token}/card-session/events"}
"""Server-sent events run until the session ends: not a request/answer to fuzz."""
TIMEOUT = 60
AS_DESCRIBED = [status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class Real:
    """Real values to put into generated cases."""

    api_token: str
    document_id: str
    recipient_id: str
    link_token: str
    session_token: str

    def path(self, name: str) -> str | None:
        return {"document_id": self.document_id, "recipient_id": self.recipient_id,
                "token": self.link_token}.get(name)  # fmt: skip


def _real_values(live: LiveService) -> Real:
    with live.context.sessions() as db:
        user = sign_up(db, "fuzz@example.jp", "kiri-sakura-7-tsuki", "送信 太郎")
        token = create_api_token(db, user, "fuzz").token
        db.commit()
    auth = {"Authorization": f"Bearer {token}"}
    with httpx2.Client(base_url=live.url, timeout=TIMEOUT) as client:
        made = client.post(
            "/api/v1/documents", headers=auth, data={"title": "契約書"},
            files={"file": ("c.pdf", make_pdf(), "application/pdf")},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        document_id = made.json()["id"]
        added = client.post(
            f"/api/v1/documents/{document_id}/recipients", headers=auth,
            json={"name": "甲 一郎", "email": "ichiro@example.jp", "access_code": "4821"},
        )  # fmt: skip
        assert added.status_code == 201, added.text
        sent = client.post(f"/api/v1/documents/{document_id}/send", headers=auth)
        assert sent.status_code == 200, sent.text
        with live.context.sessions() as db:
            mail = db.scalars(select(OutgoingMail).where(OutgoingMail.to == "ichiro@example.jp"))
            body = next(iter(mail)).body_text
        link_token = body.split("/r/", 1)[1].split()[0]
        opened = client.post(
            f"/api/v1/r/{link_token}/open", json={"accept_terms": True, "access_code": "4821"}
        )
        assert opened.status_code == 200, opened.text
    return Real(token, document_id, added.json()["id"], link_token, opened.json()["session_token"])


def _fill(case: Any, real: Real) -> None:
    """Put real IDs, tokens and credentials into a generated case."""
    for name in list(case.path_parameters or {}):
        value = real.path(name)
        if value is not None:
            case.path_parameters[name] = value
    bearer = real.session_token if case.path.startswith("/api/v1/r/") else real.api_token
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {bearer}"}


@dataclass
class Tally:
    """What the generated calls got."""

    called: int = 0
    reached: int = 0
    """Calls with real IDs and tokens that got past the validation (answered, or refused
    by the service itself: 404 another's document, 409 a wrong state, ...)."""
    failures: list[str] = field(default_factory=list)
    """Server errors, and answers other than the description says."""


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    live: LiveService,
    real: Real,
    tally: Tally,
    *,
    use_real: bool,
) -> None:
    """Call one operation with generated cases of one mode, with real IDs and tokens or
    with the generated ones (half the calls each, not left to chance: a run that happened
    to draw few real ones would reach little past the validation); server errors go to
    the tally."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION // 2, deadline=None, database=None,
        phases=[Phase.generate], suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case: Any) -> None:
        if use_real:
            _fill(case, real)
        response = case.call(base_url=live.url, timeout=TIMEOUT)
        tally.called += 1
        tally.reached += use_real and response.status_code not in (400, 401, 422)
        where = f"{case.method} {case.formatted_path} ({mode}): {response.status_code}"
        if response.status_code >= 500:
            tally.failures.append(f"{where} {response.text[:300]}")
        try:
            case.validate_response(response, checks=AS_DESCRIBED)
        except (AssertionError, FailureGroup) as unlike:
            tally.failures.append(f"{where} not as described: {str(unlike)[:600]}")

    try:
        call()
    except Unsatisfiable:  # nothing in this operation can be made invalid
        assert mode is GenerationMode.NEGATIVE, operation.path


@pytest.mark.timeout(400)  # a fixed number of calls (about 60 s alone); more on a busy machine
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_no_generated_request_gets_a_server_error(
    start_live: StartLive, database: str, request: pytest.FixtureRequest
) -> None:
    overrides: dict[str, Any] = {"rate_limits_enabled": False}
    if database == "postgresql":  # NUL bytes and integer ranges fail there, not in SQLite
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        overrides["database_url"] = databases.create(migrated=True)
    live = start_live(**overrides)
    real = _real_values(live)
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    tally = Tally()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the description itself is valid
        operation = result.ok()
        if operation.path not in STREAMS:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                for use_real in (True, False):
                    _fuzz(operation, mode, live, real, tally, use_real=use_real)
    assert tally.called > 100, tally.called
    assert tally.reached > 30, tally
    assert not tally.failures, "\n".join(tally.failures[:20])
