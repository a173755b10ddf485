"""Helpers for the page tests: browsers as TestClients, forms with CSRF, the flow's steps.

A person's browser is a TestClient with its own cookies; forms go out with that browser's
CSRF token; the steps are those a sender and a recipient take on the pages.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest
from fastapi.testclient import TestClient

from tests.webapp.conftest import Service, make_pdf

SENDER_EMAIL = "sender@example.jp"
SENDER_PASSWORD = "kiri-sakura-7-tsuki"  # the `service` fixture's sender
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_DOCUMENT = re.compile(r"^/documents/([A-Z2-7]{26})$")


def page_text(response: httpx2.Response) -> str:
    """The page's text with tags removed and entities decoded, for plain assertions."""
    without_tags = re.sub(r"<[^>]+>", " ", response.text)
    return " ".join(html.unescape(without_tags).split())


@dataclass
class Person:
    """One browser: its own cookies, and the forms it fills in."""

    client: TestClient

    def csrf(self, path: str = "/login") -> str:
        """The form token of this browser, read off a page the way a form carries it."""
        response = self.client.get(path)
        found = _CSRF.search(response.text)
        assert found, response.text
        return found.group(1)

    def post(
        self,
        path: str,
        data: dict[str, str] | None = None,
        *,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        form_page: str = "/login",
    ) -> httpx2.Response:
        """Submit a form as the page would: with this browser's CSRF token."""
        fields = {"csrf_token": self.csrf(form_page), **(data or {})}
        return self.client.post(path, data=fields, files=files, follow_redirects=False)


@dataclass
class Sender(Person):
    def login(self, email: str = SENDER_EMAIL, password: str = SENDER_PASSWORD) -> None:
        response = self.post("/login", {"email": email, "password": password})
        assert response.status_code == 303, page_text(response)

    def upload(self, title: str = "業務委託契約書", pdf: bytes | None = None, **fields: str) -> str:
        response = self.post(
            "/documents", {"title": title, **fields},
            files={"file": ("contract.pdf", pdf or make_pdf(), "application/pdf")},
        )  # fmt: skip
        assert response.status_code == 303, page_text(response)
        found = _DOCUMENT.match(response.headers["location"])
        assert found, response.headers["location"]
        return found.group(1)

    def add_recipient(
        self, document_id: str, name: str, email: str, *, code: str = "", card: bool = False
    ) -> None:
        data = {"name": name, "email": email, "access_code": code}
        if card:
            data["require_card"] = "1"
        response = self.post(f"/documents/{document_id}/recipients", data)
        assert response.status_code == 303, page_text(response)

    def send(self, document_id: str) -> None:
        response = self.post(f"/documents/{document_id}/send")
        assert response.status_code == 303, page_text(response)

    def detail(self, document_id: str) -> httpx2.Response:
        response = self.client.get(f"/documents/{document_id}")
        assert response.status_code == 200, page_text(response)
        return response


@dataclass
class Party(Person):
    """A recipient: no account, only the link from the mail."""

    link: str

    def open(self, code: str = "") -> httpx2.Response:
        return self.post(f"{self.link}/open", {"accept_terms": "1", "access_code": code})

    def agree(self) -> httpx2.Response:
        return self.post(f"{self.link}/agree")


@pytest.fixture
def sender(service: Service) -> Sender:
    person = Sender(service.client)
    person.login()
    return person


@pytest.fixture
def stranger(service: Service) -> Iterator[TestClient]:
    """Another browser on the same running app (its lifespan is the `service` client's)."""
    yield TestClient(service.client.app)


def party(service: Service, email: str) -> Party:
    """The recipient at `email`, in a browser of their own, with the newest mailed link."""
    return Party(TestClient(service.client.app), f"/r/{service.link_token(email)}")


def sent_document(sender: Sender, *recipients: tuple[str, str, str], card: bool = False) -> str:
    """A document sent to (name, email, access code) parties, in that order."""
    document_id = sender.upload()
    for name, email, code in recipients:
        sender.add_recipient(document_id, name, email, code=code, card=card)
    sender.send(document_id)
    return document_id
