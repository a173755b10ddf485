"""A real SMTP server for the tests (aiosmtpd) on a loopback port the kernel picks."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USERNAME = "mailer"
PASSWORD = "correct horse battery staple"
REFUSED_FOREVER = "nobody@example.jp"  # answered 550
REFUSED_FOR_NOW = "later@example.jp"  # answered 450
REFUSED_CONTENT = "REFUSE-THIS-MESSAGE"  # a message whose subject has it is answered 554


@dataclass
class Received:
    """One mail the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    authenticated: bool

    def parsed(self) -> EmailMessage:
        message = message_from_bytes(self.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class Collector:
    """The handler: keeps every accepted mail; refuses two special recipients."""

    received: list[Received] = field(default_factory=list)
    mechanisms: list[str] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address == REFUSED_FOREVER:
            return "550 5.1.1 no such user"
        if address == REFUSED_FOR_NOW:
            return "450 4.2.1 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        assert isinstance(envelope.original_content, bytes)
        if REFUSED_CONTENT.encode() in envelope.original_content:
            return "554 5.6.0 message refused"
        self.received.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                content=envelope.original_content,
                tls=session.ssl is not None or _over_tls(server),
                authenticated=bool(session.authenticated),
            )
        )
        self.arrived.set()
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        self.mechanisms.append(mechanism)
        good = isinstance(data, LoginPassword) and data == (USERNAME.encode(), PASSWORD.encode())
        return AuthResult(success=good, handled=False)


def _over_tls(server: SMTP) -> bool:
    """Implicit TLS: the connection itself is wrapped (STARTTLS shows in `session.ssl`)."""
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class LoopbackController(Controller):
    """Controller on 127.0.0.1, port 0: the port is read back once the server listens."""

    def __init__(self, handler: Collector, **smtp_parameters: Any) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=0, **smtp_parameters)

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass(frozen=True)
class ServerCertificate:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key, as PEM files."""

    cert_file: Path
    key_file: Path

    @classmethod
    def make(cls, directory: Path) -> ServerCertificate:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mynasign test SMTP")])
        now = datetime.datetime.now(datetime.UTC)
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        cert_file, key_file = directory / "smtp-cert.pem", directory / "smtp-key.pem"
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cls(cert_file, key_file)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context
