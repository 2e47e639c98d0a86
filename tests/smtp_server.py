"""A real SMTP server's mailbox for the email tests (the `smtp` fixture in conftest.py)."""

from __future__ import annotations

import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any


class Mailbox:
    """aiosmtpd handler keeping every message it receives, parsed as `EmailMessage`."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def wait(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """The messages once `count` have arrived (or after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages
