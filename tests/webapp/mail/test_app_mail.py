"""The running service mails parties through a real SMTP server when one is configured."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from tests.webapp.conftest import LINK, make_pdf
from tests.webapp.mail.conftest import RunningServer
from webapp.app import create_app
from webapp.services.accounts import create_api_token, sign_up
from webapp.services.context import ServiceContext
from webapp.settings import load_settings


def test_invitation_arrives_over_smtp_and_its_link_opens(
    start_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    controller, collector = start_server()
    settings = load_settings(
        environment="development", data_dir=tmp_path / "var", smtp_host="127.0.0.1",
        smtp_port=controller.port, smtp_security="none",
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:
        context: ServiceContext = client.app.state.context  # type: ignore[attr-defined]
        with context.sessions() as db:
            user = sign_up(db, "sender@example.jp", "kiri-sakura-7-tsuki", "送信 太郎")
            auth = {"Authorization": f"Bearer {create_api_token(db, user, 'tests').token}"}
            db.commit()
        created = client.post(
            "/api/v1/documents", headers=auth, data={"title": "見積書"},
            files={"file": ("q.pdf", make_pdf(), "application/pdf")},
        )  # fmt: skip
        document_id = created.json()["id"]
        client.post(
            f"/api/v1/documents/{document_id}/recipients", headers=auth,
            json={"name": "甲 一郎", "email": "ichiro@example.jp"},
        )  # fmt: skip
        assert client.post(f"/api/v1/documents/{document_id}/send", headers=auth).status_code == 200
        assert collector.arrived.wait(15), "no mail reached the SMTP server"
        mail = collector.received[0]
        assert mail.rcpt_tos == ["ichiro@example.jp"]
        body = mail.parsed().get_body(("plain",))
        assert body is not None
        token = LINK.findall(body.get_content())[-1]
        opened = client.post(f"/api/v1/r/{token}/open", json={"accept_terms": True})
        assert opened.status_code == 200, opened.text
