"""Per-host politeness: one request at a time per host, with a minimum delay between them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit


def host_key(url: str) -> str:
    """The pacing key: host and port, lower-cased (``example.com:8443``)."""
    return urlsplit(url).netloc.lower().rsplit("@", 1)[-1]


class HostGate:
    """Serialises requests per host and spaces them ``delay`` seconds apart (end of one to start
    of the next). Shared by the HTTP and browser fetchers so that a fallback is paced too.
    Bound to one event loop, like every asyncio primitive."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_done: dict[str, float] = {}

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        key = host_key(url)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            last = self._last_done.get(key)
            if last is not None:
                wait = last + self.delay - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                yield
            finally:
                self._last_done[key] = time.monotonic()
