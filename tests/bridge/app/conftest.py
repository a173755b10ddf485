"""Fixtures of the app tests: a real service (uvicorn on loopback) per module, parties, cards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from jpkisim.pki import CardIdentity, IssuedCard, TestPki
from jpkisim.state import CardState
from tests.bridge.app.harness import AppHarness
from tests.conftest import AUTH_PIN, SIGNING_PASSWORD
from tests.webapp.conftest import make_pdf
from tests.webapp.pages.live import LiveService, serving
from webapp.services.accounts import create_api_token, sign_up

PARTY = "丙 三郎"
SENDER = "送信 太郎"
TITLE = "業務委託契約書"
HTTP_TIMEOUT = 120


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """`mynasign dev` on a loopback port for the module (rate limits off: many sessions)."""
    data_dir = tmp_path_factory.mktemp("service") / "var"
    with serving(data_dir, rate_limits_enabled=False) as live:
        yield live


@pytest.fixture(scope="module")
def api_token(service: LiveService) -> str:
    with service.context.sessions() as db:
        user = sign_up(db, "sender@example.jp", "kiri-sakura-7-tsuki", SENDER)
        token = create_api_token(db, user, "tests").token
        db.commit()
    return token


@pytest.fixture(scope="module")
def party_card(service: LiveService) -> IssuedCard:
    """The party's card, issued by the service's development PKI (once: RSA is slow)."""
    return TestPki.load(service.context.settings.data_dir / "pki").issue_card(
        CardIdentity(name=PARTY)
    )


@dataclass
class Party:
    """A party who must sign with the card, with an open card session."""

    link_token: str
    session_token: str
    bridge_url: str
    session_id: str

    def status(self, service: LiveService) -> dict[str, Any]:
        with httpx2.Client(base_url=service.url, timeout=HTTP_TIMEOUT) as client:
            response = client.get(
                f"/api/v1/r/{self.link_token}/card-session",
                headers={"Authorization": f"Bearer {self.session_token}"},
            )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


StartParty = Callable[[], Party]


@pytest.fixture
def start_party(service: LiveService, api_token: str) -> StartParty:
    """Send a new document to a card party and open a card session, as the PC page would."""
    counter = iter(range(1000))

    def start() -> Party:
        email = f"saburo-{next(counter)}-{id(start)}@example.jp"
        bearer = {"Authorization": f"Bearer {api_token}"}
        with httpx2.Client(base_url=service.url, headers=bearer, timeout=HTTP_TIMEOUT) as api:
            uploaded = api.post(
                "/api/v1/documents", data={"title": TITLE},
                files={"file": ("contract.pdf", make_pdf(), "application/pdf")},
            )  # fmt: skip
            assert uploaded.status_code == 201, uploaded.text
            document_id = uploaded.json()["id"]
            added = api.post(
                f"/api/v1/documents/{document_id}/recipients",
                json={"name": PARTY, "email": email, "require_mynumber_card": True},
            )
            assert added.status_code == 201, added.text
            sent = api.post(f"/api/v1/documents/{document_id}/send")
            assert sent.status_code == 200, sent.text
        link_token = service.mailed_link(email).rsplit("/", 1)[1]
        with httpx2.Client(base_url=service.url, timeout=HTTP_TIMEOUT) as client:
            opened = client.post(f"/api/v1/r/{link_token}/open", json={"accept_terms": True})
            assert opened.status_code == 200, opened.text
            session_token = opened.json()["session_token"]
            started = client.post(
                f"/api/v1/r/{link_token}/card-session",
                headers={"Authorization": f"Bearer {session_token}"},
            )
            assert started.status_code == 201, started.text
        body = started.json()
        return Party(link_token, session_token, body["bridge_url"], body["session_id"])

    return start


@pytest.fixture
def card_file(party_card: IssuedCard, tmp_path: Path) -> Callable[..., Path]:
    """A state file of the party's card with fresh tries (and the given knobs)."""
    counter = iter(range(1000))

    def make(**knobs: Any) -> Path:
        path = tmp_path / f"party-card-{next(counter)}.json"
        CardState.from_issued(
            party_card, signing_password=SIGNING_PASSWORD, auth_pin=AUTH_PIN, **knobs
        ).save(path)
        return path

    return make


@pytest.fixture
def harnesses() -> Iterator[Callable[..., AppHarness]]:
    """Make app harnesses; each is closed after the test."""
    made: list[AppHarness] = []

    def make(**options: Any) -> AppHarness:
        harness = AppHarness(**options)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.close()
