"""Mail of the service: rendering (`messages`), sending over SMTP (`smtp`), the outbox (`outbox`).

The outbox imports the database models; import it as `webapp.mail.outbox` where needed.
"""

from __future__ import annotations

from webapp.mail.messages import (
    MailMessage,
    render_completion,
    render_forwarded_notice,
    render_invitation,
    render_rejection_notice,
)
from webapp.mail.smtp import MailDeliveryError, SmtpConfig, send_mail

__all__ = [
    "MailDeliveryError",
    "MailMessage",
    "SmtpConfig",
    "render_completion",
    "render_forwarded_notice",
    "render_invitation",
    "render_rejection_notice",
    "send_mail",
]
