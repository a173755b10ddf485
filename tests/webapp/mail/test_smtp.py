"""Sending through a real SMTP server: plain, STARTTLS, TLS, login, attachments, failures."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.webapp.mail.conftest import RunningServer
from tests.webapp.mail.smtp_server import (
    PASSWORD,
    REFUSED_CONTENT,
    REFUSED_FOR_NOW,
    REFUSED_FOREVER,
    USERNAME,
    ServerCertificate,
)
from webapp.mail.messages import MailMessage, render_completion, render_invitation
from webapp.mail.smtp import MailDeliveryError, SmtpConfig, send_mail
from webapp.settings import Settings

LINK = "https://sign.example.jp/r/Zx9"
FROM = "mynasign <no-reply@sign.example.jp>"
TO = "taro@example.jp"


def invitation() -> MailMessage:
    return render_invitation(
        recipient_name="山田 太郎",
        sender_name="佐藤 花子",
        document_title="業務委託契約書",
        message="ご確認ください。",
        link=LINK,
        expires_at=datetime(2030, 4, 1, 3, 0, tzinfo=UTC),
    )


def config_for(server: RunningServer, **options: object) -> SmtpConfig:
    controller, _ = server
    fields: dict[str, object] = {"security": "none", "timeout": 10.0} | options
    return SmtpConfig(host="127.0.0.1", port=controller.port, mail_from=FROM, **fields)  # type: ignore[arg-type]


def send(config: SmtpConfig, message: MailMessage, to: str = TO, attachment=None) -> None:
    asyncio.run(send_mail(config, message, to, attachment))


def test_plain_delivery_arrives_with_both_parts(plain_server: RunningServer) -> None:
    message = invitation()
    send(config_for(plain_server), message)

    [received] = plain_server[1].received
    assert received.rcpt_tos == [TO]
    assert received.mail_from == "no-reply@sign.example.jp"
    assert not received.tls
    mail = received.parsed()
    assert mail["Subject"] == message.subject
    assert mail["To"] == TO
    assert mail["Message-ID"].endswith("@sign.example.jp>")
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    assert LINK in text.get_content() and "山田 太郎 様" in text.get_content()
    assert f'href="{LINK}"' in html.get_content()


@pytest.mark.parametrize("offered", ["PLAIN", "LOGIN"])
def test_starttls_and_login(
    start_server, server_certificate: ServerCertificate, ca_file: Path, offered: str
) -> None:
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[offered]
    server = start_server(
        tls_context=server_certificate.server_context(),
        require_starttls=True,
        with_auth=True,
        auth_required=True,
        auth_exclude_mechanism=[other],
    )
    config = config_for(
        server,
        security="starttls",
        ca_file=ca_file,
        username=USERNAME,
        password=SecretStr(PASSWORD),
    )
    send(config, invitation())

    collector = server[1]
    assert collector.mechanisms == [offered]
    [received] = collector.received
    assert received.tls and received.authenticated


def test_wrong_password_is_retryable(starttls_server: RunningServer, ca_file: Path) -> None:
    config = config_for(
        starttls_server,
        security="starttls",
        ca_file=ca_file,
        username=USERNAME,
        password=SecretStr("wrong"),
    )
    with pytest.raises(MailDeliveryError) as raised:
        send(config, invitation())
    assert raised.value.retryable
    assert "wrong" not in str(raised.value)
    assert starttls_server[1].received == []


def test_untrusted_server_certificate_is_refused(starttls_server: RunningServer) -> None:
    """Without the test CA the self-signed certificate must fail verification."""
    config = config_for(
        starttls_server, security="starttls", username=USERNAME, password=SecretStr(PASSWORD)
    )
    with pytest.raises(MailDeliveryError) as raised:
        send(config, invitation())
    assert raised.value.retryable
    assert "certificate" in str(raised.value).lower()
    assert starttls_server[1].received == []


def test_no_tls_against_a_server_that_requires_it(starttls_server: RunningServer) -> None:
    with pytest.raises(MailDeliveryError) as raised:
        send(config_for(starttls_server, security="none"), invitation())
    assert raised.value.retryable
    assert starttls_server[1].received == []


def test_implicit_tls(start_server, server_certificate: ServerCertificate, ca_file: Path) -> None:
    server = start_server(ssl_context=server_certificate.server_context())
    send(config_for(server, security="tls", ca_file=ca_file), invitation())
    [received] = server[1].received
    assert received.tls


def test_attachment_arrives_intact(plain_server: RunningServer) -> None:
    data = b"%PDF-1.7\n" + os.urandom(300_000) + b"\n%%EOF\n"
    name = "業務委託契約書_署名済み.pdf"
    message = render_completion(
        recipient_name="山田 太郎",
        document_title="業務委託契約書",
        link=LINK,
        completed_at=datetime(2030, 4, 1, tzinfo=UTC),
        attachment_name=name,
    )
    send(config_for(plain_server), message, attachment=(name, data))

    [received] = plain_server[1].received
    [part] = list(received.parsed().iter_attachments())
    assert part.get_filename() == name
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == data


def test_server_down_is_retryable(closed_port: int) -> None:
    config = SmtpConfig(host="127.0.0.1", port=closed_port, mail_from=FROM, security="none")
    with pytest.raises(MailDeliveryError) as raised:
        send(config, invitation())
    assert raised.value.retryable


def test_silent_server_times_out_retryably() -> None:
    async def scenario() -> None:
        async def never_greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # until the client gives up and closes
            writer.close()

        server = await asyncio.start_server(never_greet, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        config = SmtpConfig(
            host="127.0.0.1", port=port, mail_from=FROM, security="none", timeout=0.5
        )
        async with server:
            with pytest.raises(MailDeliveryError) as raised:
                await send_mail(config, invitation(), TO)
        assert raised.value.retryable
        assert "Timeout" in str(raised.value)

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("recipient", "retryable"), [(REFUSED_FOREVER, False), (REFUSED_FOR_NOW, True)]
)
def test_refused_recipient(plain_server: RunningServer, recipient: str, retryable: bool) -> None:
    with pytest.raises(MailDeliveryError) as raised:
        send(config_for(plain_server), invitation(), to=recipient)
    assert raised.value.retryable is retryable
    assert plain_server[1].received == []


def test_refused_message_is_permanent(plain_server: RunningServer) -> None:
    message = MailMessage(f"subject {REFUSED_CONTENT}", "text")
    with pytest.raises(MailDeliveryError) as raised:
        send(config_for(plain_server), message)
    assert not raised.value.retryable
    assert "554" in str(raised.value)
    assert plain_server[1].received == []


def test_starttls_is_required_when_configured(plain_server: RunningServer) -> None:
    """A server that does not offer STARTTLS gets nothing, rather than mail in the clear."""
    with pytest.raises(MailDeliveryError) as raised:
        send(config_for(plain_server, security="starttls"), invitation())
    assert raised.value.retryable
    assert "STARTTLS" in str(raised.value)
    assert plain_server[1].received == []


@pytest.mark.parametrize("to", ["not an address", "a@example.jp\r\nBcc: b@example.jp", ""])
def test_bad_recipient_address_is_permanent(plain_server: RunningServer, to: str) -> None:
    with pytest.raises(MailDeliveryError) as raised:
        send(config_for(plain_server), invitation(), to=to)
    assert not raised.value.retryable
    assert plain_server[1].received == []


def test_config_from_settings(tmp_path: Path) -> None:
    assert SmtpConfig.from_settings(Settings(data_dir=tmp_path)) is None
    settings = Settings(
        data_dir=tmp_path,
        smtp_host="mail.example.jp",
        smtp_port=465,
        smtp_security="tls",
        smtp_username="u",
        smtp_password=SecretStr("p"),
        mail_from=FROM,
    )
    config = SmtpConfig.from_settings(settings)
    assert config is not None
    assert (config.host, config.port, config.security, config.username) == (
        "mail.example.jp",
        465,
        "tls",
        "u",
    )
    assert config.password is not None and config.password.get_secret_value() == "p"
    assert config.mail_from == FROM
    assert "'p'" not in repr(config)
