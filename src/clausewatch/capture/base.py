"""The capture stage's interface: a request, a result, and the `Fetcher` protocol."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

FetcherName = Literal["http", "browser"]


@dataclass(frozen=True)
class FetchRequest:
    url: str
    fetcher: FetcherName = "http"
    etag: str | None = None  # from the previous capture, for a conditional GET
    last_modified: str | None = None
    ignore_robots: bool = False
    # The SHA-256 of bytes this URL served before that were judged the document under the
    # current `assess.ASSESS_VERSION`: the same bytes again are not parsed to be judged again.
    known_sha256: str | None = None


@dataclass
class Redirect:
    status: int
    url: str  # the URL that answered with this redirect status


@dataclass
class FetchResult:
    """What one fetch produced. A failed fetch is a result too (``error`` set), never an exception,
    so that every attempt is recorded as a capture."""

    url: str
    final_url: str
    fetcher: FetcherName
    started_at: datetime
    elapsed_ms: float
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""
    redirect_chain: list[Redirect] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    attempts: int = 1
    error: str | None = None  # transport error, timeout, size cap, robots disallow, ...
    blocked_reason: str | None = None  # bot wall, captcha, cookie wall, login wall, error page
    not_modified: bool = False  # 304 to a conditional GET
    # The HTTP attempt this browser result replaced (blocked or needing JavaScript), if any.
    fallback_from: FetchResult | None = None

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and self.blocked_reason is None
            and (self.not_modified or (self.status is not None and 200 <= self.status < 300))
        )

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


class Fetcher(Protocol):
    name: FetcherName

    async def fetch(self, request: FetchRequest) -> FetchResult: ...

    async def aclose(self) -> None: ...
