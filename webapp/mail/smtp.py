"""Sending one mail over SMTP (aiosmtplib): STARTTLS, implicit TLS or plain, optional login.

Every failure is a `MailDeliveryError`. `retryable` says whether sending the same mail
later may work: a server that is down, slow, refusing our login or our TLS, or answering
4xx is worth another try (the outbox keeps the mail); a permanent (5xx) refusal of this
recipient or this message is not.
"""

from __future__ import annotations

import asyncio
import mimetypes
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING

import aiosmtplib
from pydantic import SecretStr

from webapp.mail.messages import MailMessage

if TYPE_CHECKING:
    from webapp.settings import Settings, SmtpSecurity

PERMANENT_SIZE_REFUSAL = 552  # "exceeded storage allocation": this message is too big


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send mail."""

    host: str
    mail_from: str
    port: int = 587
    security: SmtpSecurity = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    timeout: float = 30.0
    ca_file: Path | None = None
    """Trust this CA bundle for the server's certificate instead of the system's."""
    local_hostname: str | None = None
    """The name given in EHLO; the machine's host name by default (no DNS look-up)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig | None:
        """The SMTP configuration, or None when mail stays in the local outbox."""
        if settings.smtp_host is None:
            return None
        return cls(
            host=settings.smtp_host,
            mail_from=settings.mail_from,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout_seconds,
            ca_file=settings.smtp_ca_file,
        )

    def tls_context(self) -> ssl.SSLContext | None:
        if self.security == "none":
            return None
        cafile = str(self.ca_file) if self.ca_file is not None else None
        return ssl.create_default_context(cafile=cafile)


class MailDeliveryError(Exception):
    """The mail was not delivered to the server; `retryable` if a later try may work."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def build_email(
    config: SmtpConfig,
    message: MailMessage,
    to: str,
    attachment: tuple[str, bytes] | None = None,
) -> EmailMessage:
    """The MIME message: text, HTML alternative, then the attachment if any."""
    if not _is_address(to):
        raise MailDeliveryError(f"not a mail address: {to!r}", retryable=False)
    email = EmailMessage()
    email["From"] = config.mail_from
    email["To"] = to
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False, usegmt=True)
    email["Message-ID"] = make_msgid(domain=_domain(config.mail_from))
    email.set_content(message.text, charset="utf-8")
    if message.html is not None:
        email.add_alternative(message.html, subtype="html", charset="utf-8")
    if attachment is not None:
        name, data = attachment
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        maintype, subtype = content_type.split("/", 1)
        email.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return email


async def send_mail(
    config: SmtpConfig,
    message: MailMessage,
    to: str,
    attachment: tuple[str, bytes] | None = None,
) -> None:
    """Hand one mail to the configured server, or raise `MailDeliveryError`.

    The message is built and flattened to bytes, and the TLS context (the CA bundle) made,
    in a worker thread: a PDF attachment takes the interpreter for tens of milliseconds,
    which the event loop must not wait for.
    """
    raw, tls_context, local_hostname = await asyncio.to_thread(
        _prepare, config, message, to, attachment
    )
    password = config.password.get_secret_value() if config.password is not None else None
    try:
        await aiosmtplib.send(
            raw,
            sender=parseaddr(config.mail_from)[1],
            recipients=[to],
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=password,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            tls_context=tls_context,
            timeout=config.timeout,
            local_hostname=local_hostname,
        )
    except aiosmtplib.SMTPRecipientsRefused as error:
        permanent = all(refusal.code >= 500 for refusal in error.recipients)
        raise MailDeliveryError(_describe(error), retryable=not permanent) from error
    except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as error:
        raise MailDeliveryError(_describe(error), retryable=error.code < 500) from error
    except aiosmtplib.SMTPResponseException as error:
        permanent = error.code == PERMANENT_SIZE_REFUSAL
        raise MailDeliveryError(_describe(error), retryable=not permanent) from error
    except (aiosmtplib.SMTPException, OSError) as error:  # down, timeouts, TLS, login
        raise MailDeliveryError(_describe(error), retryable=True) from error


def _prepare(
    config: SmtpConfig, message: MailMessage, to: str, attachment: tuple[str, bytes] | None
) -> tuple[bytes, ssl.SSLContext | None, str]:
    """The mail as SMTP bytes (CRLF lines), the TLS context and this host's name."""
    email = build_email(config, message, to, attachment)
    raw = email.as_bytes(policy=SMTP_POLICY)
    return raw, config.tls_context(), config.local_hostname or socket.gethostname()


def _describe(error: Exception) -> str:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return "; ".join(_describe(refusal) for refusal in error.recipients)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return f"{type(error).__name__}: {error.code} {error.message}"
    return f"{type(error).__name__}: {error}"


def _is_address(value: str) -> bool:
    address = parseaddr(value)[1]
    return "@" in address and address == value.strip() and "\n" not in value


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"
