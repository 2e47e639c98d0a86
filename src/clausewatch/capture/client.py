"""HTTP first, the browser when the document needs it or plain HTTP was walled off."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Self

from clausewatch.capture.assess import BlockedReason
from clausewatch.capture.base import FetchRequest, FetchResult
from clausewatch.capture.browser import BrowserFetcher
from clausewatch.capture.http import HttpFetcher, fetch_all

if TYPE_CHECKING:
    from clausewatch.config import Settings

# Blocked reasons a real browser may get past. Not: not found, 5xx, rate limited, login wall,
# empty body, not html/pdf, error page — a browser would see the same thing.
FALLBACK_REASONS = frozenset(
    {
        BlockedReason.BOT_WALL,
        BlockedReason.CAPTCHA,
        BlockedReason.COOKIE_WALL,
        BlockedReason.NEEDS_JAVASCRIPT,
        BlockedReason.HTTP_4XX,  # a bare 403 is most often a user-agent filter
    }
)


def needs_fallback(result: FetchResult) -> bool:
    return result.error is None and result.blocked_reason in FALLBACK_REASONS


class CaptureClient:
    """Fetches a `FetchRequest`: in the browser when it is declared ``fetcher="browser"``,
    otherwise over HTTP, retried in the browser when the HTTP response looks blocked and
    ``fallback`` is on. A browser result that replaced an HTTP one keeps it in
    ``fallback_from``. Both fetchers share the per-host gate and the robots.txt cache."""

    def __init__(
        self, http: HttpFetcher, browser: BrowserFetcher | None = None, *, fallback: bool = True
    ) -> None:
        self.http = http
        self.browser = browser
        self.fallback = fallback
        if browser is not None:
            browser.gate = http.gate
            browser.robots = browser.robots or http.robots
            browser.robots_agent = http.user_agent

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> CaptureClient:
        if settings is None:
            from clausewatch.config import get_settings

            settings = get_settings()
        http = HttpFetcher.from_settings(settings)
        browser = BrowserFetcher.from_settings(settings)
        return cls(http, browser, fallback=settings.browser_fallback)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()
        if self.browser is not None:
            await self.browser.aclose()

    async def fetch(self, request: FetchRequest) -> FetchResult:
        if request.fetcher == "browser":
            return await self._browser_fetch(request)
        result = await self.http.fetch(request)
        if self.fallback and self.browser is not None and needs_fallback(result):
            browser_result = await self.browser.fetch(request)
            browser_result.fallback_from = result
            return browser_result
        return result

    async def fetch_all(self, requests: Iterable[FetchRequest]) -> list[FetchResult]:
        return await fetch_all(self, requests)

    async def _browser_fetch(self, request: FetchRequest) -> FetchResult:
        if self.browser is not None:
            return await self.browser.fetch(request)
        result = await self.http.fetch(request)  # still worth a record
        result.error = result.error or "document needs the browser, but no browser is configured"
        return result


async def capture(request: FetchRequest | str, settings: Settings | None = None) -> FetchResult:
    """Fetch one document with a short-lived client (scripts, the CLI); batch jobs should keep
    one `CaptureClient` open instead."""
    if isinstance(request, str):
        request = FetchRequest(request)
    async with CaptureClient.from_settings(settings) as client:
        return await client.fetch(request)
