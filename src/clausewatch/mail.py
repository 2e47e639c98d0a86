"""Sending email (alerts, digests, password resets) through the configured SMTP server.

One function, so every message gets the same headers: a Message-ID the caller can choose
(deliveries use a deterministic one, so a resend after a crash is recognisably the same
message) and, for alerts, ``List-Unsubscribe`` with a working link.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from clausewatch.config import Settings


def build_email(
    settings: Settings,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    *,
    message_id: str | None = None,
    unsubscribe_url: str | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id or make_msgid(domain="clausewatch")
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def send_email(settings: Settings, message: EmailMessage, *, timeout: float = 30.0) -> str:
    """Send one message; returns its Message-ID. Raises ``smtplib.SMTPException`` / ``OSError``
    on failure (callers record the error and retry)."""
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username and settings.smtp_password:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)
    return str(message["Message-ID"])
