"""Sending email (alerts, digests, password resets) through the configured SMTP server.

One function, so every message gets the same headers: a Message-ID the caller can choose
(deliveries use a deterministic one, so a resend after a crash is recognisably the same
message) and, for alerts, ``List-Unsubscribe`` with a working link.
"""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from clausewatch.config import Settings

# C0 and C1 control characters, DEL, and the Unicode line and paragraph separators
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def header_value(value: str) -> str:
    """`value` fit for a header: control characters (CR and LF above all) become one space, so
    a platform name with a line break in it cannot end, split or add a header."""
    return " ".join(_CONTROL.sub(" ", value).split())


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
    # every value put in a header is cleaned: the subject carries archive data (platform names)
    message["From"] = header_value(settings.smtp_from)
    message["To"] = header_value(to)
    message["Subject"] = header_value(subject)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = header_value(message_id or make_msgid(domain="clausewatch"))
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{header_value(unsubscribe_url)}>"
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
