"""Fixtures for card signing in the web service: a party who must sign, and a card for them."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms as cms_module
from starlette.testclient import WebSocketTestSession

from card.cms import build_signed_data
from card.token import sha256_digest_info
from jpkisim.pki import CardIdentity, IssuedCard, TestPki
from tests.software_token import token_of
from tests.webapp.conftest import Service, settings_on_copy
from tests.webapp.test_api_flow import add_recipient, open_link, upload
from webapp.settings import Settings

PARTY_NAME = "試験 花子"


@dataclass
class CardParty:
    """A sent document whose one party must sign with the card, with the link opened."""

    service: Service
    document_id: str
    link_token: str
    session_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session_token}"}

    def start(self) -> dict[str, Any]:
        """`POST …/card-session`: the new session's JSON."""
        response = self.service.client.post(
            f"/api/v1/r/{self.link_token}/card-session", headers=self.auth
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def status(self) -> dict[str, Any]:
        response = self.service.client.get(
            f"/api/v1/r/{self.link_token}/card-session", headers=self.auth
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def bridge_path(started: dict[str, Any]) -> str:
    return "/ws/bridge/" + str(started["bridge_url"]).rsplit("/", 1)[1]


def send(ws: WebSocketTestSession, **frame: Any) -> None:
    ws.send_text(json.dumps({"version": 1, **frame}))


def receive(ws: WebSocketTestSession) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(ws.receive_text())
    return frame


def hello(ws: WebSocketTestSession, order: str = "password-first") -> tuple[str, dict[str, Any]]:
    """Say hello; the claim key and the sign request."""
    send(ws, type="hello", client="tests", client_version="1", protocol_version=1, order=order)
    claim = receive(ws)
    assert claim["type"] == "claim", claim
    request = receive(ws)
    assert request["type"] == "sign_request", request
    return str(claim["claim_key"]), request


def barrier(ws: WebSocketTestSession, claim_key: str) -> None:
    """Return once the server has handled every frame sent before (a resume is answered)."""
    send(ws, type="claim_resume", claim_key=claim_key)
    assert receive(ws)["type"] == "claim"
    assert receive(ws)["type"] in ("sign_request", "result")


def signature_frame(card: IssuedCard, digest_hex: str) -> dict[str, Any]:
    cms = build_signed_data(token_of(card), bytes.fromhex(digest_hex))
    return {"type": "signature", "digest": digest_hex, "cms": base64.b64encode(cms).decode()}


@dataclass(frozen=True)
class PreparedCardSigning:
    """The prepared data directory (`tests/webapp/conftest.py`) with a card of the party
    issued by its PKI; made once for these tests, copied for each."""

    data_dir: Path
    card: IssuedCard


@pytest.fixture(scope="session")
def prepared_card_signing(
    prepared_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> PreparedCardSigning:
    data_dir = tmp_path_factory.mktemp("card-signing") / "var"
    shutil.copytree(prepared_data_dir, data_dir)
    card = TestPki.load(data_dir / "pki").issue_card(CardIdentity(name=PARTY_NAME))
    return PreparedCardSigning(data_dir, card)


@pytest.fixture
def settings(prepared_card_signing: PreparedCardSigning, tmp_path: Path) -> Settings:
    """Each test on its own copy of the prepared data directory (the `service` fixture
    finds the prepared sender there)."""
    return settings_on_copy(prepared_card_signing.data_dir, tmp_path)


@pytest.fixture
def dev_pki(service: Service) -> TestPki:
    """The development PKI the service trusts (`<data dir>/pki`)."""
    return TestPki.load(service.context.settings.data_dir / "pki")


@pytest.fixture
def card(prepared_card_signing: PreparedCardSigning) -> IssuedCard:
    """A card of the party, issued (once) by the PKI the service trusts."""
    return prepared_card_signing.card


@pytest.fixture
def card_party(service: Service) -> Iterator[CardParty]:
    document_id = upload(service)
    add_recipient(
        service, document_id, name=PARTY_NAME, email="hanako@example.jp",
        require_mynumber_card=True,
    )  # fmt: skip
    response = service.client.post(f"/api/v1/documents/{document_id}/send", headers=service.auth)
    assert response.status_code == 200, response.text
    token = service.link_token("hanako@example.jp")
    yield CardParty(service, document_id, token, open_link(service, token))


def signature_frame_with_attributes(
    card: IssuedCard, digest_hex: str, *, add_signing_time: bool = False, drop: str | None = None
) -> dict[str, Any]:
    """A correctly signed CMS whose signed attributes are not exactly the PAdES three."""
    token = token_of(card)
    cms = cms_module.ContentInfo.load(build_signed_data(token, bytes.fromhex(digest_hex)))
    signer = cms["content"]["signer_infos"][0]
    attributes = [a for a in signer["signed_attrs"] if a["type"].native != drop]
    if add_signing_time:
        attributes.append(
            cms_module.CMSAttribute(
                {"type": "signing_time", "values": [cms_module.Time({"utc_time": _now()})]}
            )
        )
    signed_attrs = cms_module.CMSAttributes(attributes)
    as_set = b"\x31" + signed_attrs.dump()[1:]
    digest_info = sha256_digest_info(hashlib.sha256(as_set).digest())
    signature = token.sign_digest_info(digest_info)
    rebuilt = cms_module.ContentInfo.load(_replace_signer(cms.dump(), signed_attrs, signature))
    return {
        "type": "signature",
        "digest": digest_hex,
        "cms": base64.b64encode(rebuilt.dump()).decode(),
    }


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def _replace_signer(cms_der: bytes, attrs: cms_module.CMSAttributes, signature: bytes) -> bytes:
    info = cms_module.ContentInfo.load(cms_der)
    signed_data = info["content"]
    old = signed_data["signer_infos"][0]
    signer = cms_module.SignerInfo(
        {
            "version": old["version"].native,
            "sid": old["sid"],
            "digest_algorithm": old["digest_algorithm"],
            "signed_attrs": attrs,
            "signature_algorithm": old["signature_algorithm"],
            "signature": signature,
        }
    )
    new_signed_data = cms_module.SignedData(
        {
            "version": signed_data["version"].native,
            "digest_algorithms": signed_data["digest_algorithms"],
            "encap_content_info": signed_data["encap_content_info"],
            "certificates": signed_data["certificates"],
            "signer_infos": [signer],
        }
    )
    info = cms_module.ContentInfo({"content_type": "signed_data", "content": new_signed_data})
    rebuilt: bytes = info.dump()
    return rebuilt
