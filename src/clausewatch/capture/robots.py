"""robots.txt per RFC 9309, parsed by protego and cached per origin."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

# Fetches a robots.txt URL: (status or None when unreachable, body).
RobotsFetch = Callable[[str], Awaitable[tuple[int | None, bytes]]]

ROBOTS_TTL = 24 * 3600.0  # RFC 9309 §2.4: SHOULD NOT use a cached copy for more than 24 h
ROBOTS_ERROR_TTL = 600.0  # an unreachable robots.txt is asked again soon, not after a day
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 §2.5: parse at least 500 KiB


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def product_token(user_agent: str) -> str:
    """``clausewatch/0.1 (+https://…)`` → ``clausewatch`` (what robots.txt groups match)."""
    return user_agent.split("/", 1)[0].split(" ", 1)[0] or user_agent


@dataclass
class _Entry:
    rules: Protego | None  # None: ``refusal`` decides for every URL
    refusal: str | None  # why everything is disallowed, when it is
    expires: float

    def refuses(self, url: str, agent: str) -> str | None:
        if self.rules is None:
            return self.refusal
        return None if self.rules.can_fetch(url, agent) else f"disallowed by robots.txt: {url}"


class RobotsCache:
    """Answers "may this agent fetch this URL?", fetching robots.txt once per origin per TTL.

    Status handling (RFC 9309 §2.3.1): 2xx → the rules; 4xx → allow all, except 429 which we
    treat like a server error (politer, as Google does); 5xx or unreachable → disallow all,
    cached only ``error_ttl`` so a transient outage does not block a whole day.
    """

    def __init__(
        self,
        fetch: RobotsFetch,
        *,
        ttl: float = ROBOTS_TTL,
        error_ttl: float = ROBOTS_ERROR_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.ttl = ttl
        self.error_ttl = error_ttl
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def allowed(self, url: str, user_agent: str) -> bool:
        return await self.refusal(url, user_agent) is None

    async def refusal(self, url: str, user_agent: str) -> str | None:
        """None when ``url`` may be fetched, else why not."""
        entry = await self._entry(origin_of(url))
        return entry.refuses(url, product_token(user_agent))

    def clear(self) -> None:
        self._entries.clear()

    async def _entry(self, origin: str) -> _Entry:
        async with self._locks.setdefault(origin, asyncio.Lock()):  # one fetch per origin
            entry = self._entries.get(origin)
            if entry is None or entry.expires <= self._clock():
                entry = self._entries[origin] = await self._load(origin)
            return entry

    async def _load(self, origin: str) -> _Entry:
        status, body = await self._fetch(origin + "/robots.txt")
        now = self._clock()
        if status is not None and 200 <= status < 300:
            text = body[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace")
            return _Entry(Protego.parse(text), None, now + self.ttl)
        if status is not None and 400 <= status < 500 and status != 429:
            return _Entry(None, None, now + self.ttl)
        why = "unreachable" if status is None else f"answered {status}"
        refusal = f"robots.txt {why}: everything disallowed for now (RFC 9309)"
        return _Entry(None, refusal, now + self.error_ttl)
