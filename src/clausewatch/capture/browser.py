"""Fetching through headless Chromium (playwright), for pages that need JavaScript or that
wall off plain HTTP clients. Playwright is the optional ``browser`` extra: imported lazily."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from clausewatch.capture.assess import assess_response
from clausewatch.capture.base import FetcherName, FetchRequest, FetchResult, Redirect
from clausewatch.capture.body import body_problem, too_large
from clausewatch.capture.pacing import HostGate
from clausewatch.capture.robots import RobotsCache
from clausewatch.config import DEFAULT_USER_AGENT

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, Playwright, Response, Route

    from clausewatch.config import Settings

LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
BLOCKED_RESOURCES = frozenset({"image", "font", "media"})
RENDERED_CONTENT_TYPE = "text/html; charset=utf-8"
# Headers of the main response that no longer describe the serialised DOM we store.
_STALE_HEADERS = ("content-type", "content-length", "content-encoding", "transfer-encoding")


class BrowserUnavailable(RuntimeError):
    """Playwright or the Chromium executable is missing."""


def _async_playwright() -> Any:
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:
        raise BrowserUnavailable(
            "browser fetcher unavailable: playwright is not installed "
            "(pip install 'clausewatch[browser]')"
        ) from exc
    return async_playwright


class BrowserFetcher:
    """One Chromium per fetcher, one fresh context (no cookies, no cache) per fetch.

    Images, fonts and media are not downloaded. After the ``load`` event it waits for network
    idle (no request in flight for ``network_idle_quiet`` seconds), at most
    ``network_idle_timeout`` seconds, then serialises the DOM: ``content`` is that
    HTML in UTF-8 with content-type ``text/html; charset=utf-8`` (the main response's own
    content-type and length are kept as ``x-original-content-type`` / ``-length``). A
    response that is not HTML (a PDF...) is fetched again through the context to record its
    bytes. Status and headers are the main response's; ``final_url`` is the page's URL.
    ``user_agent`` None keeps Chromium's own. Share ``gate`` and ``robots`` with the
    `HttpFetcher` (``CaptureClient`` does) so that a fallback is paced and obeys robots.txt.
    """

    name: FetcherName = "browser"

    def __init__(
        self,
        *,
        executable_path: Path | str = Path("/usr/bin/chromium"),
        user_agent: str | None = None,
        timeout: float = 30.0,
        network_idle_timeout: float = 5.0,
        network_idle_quiet: float = 0.5,
        max_body_bytes: int = 20_000_000,
        concurrency: int = 2,
        block_resources: Iterable[str] = BLOCKED_RESOURCES,
        gate: HostGate | None = None,
        robots: RobotsCache | None = None,
        robots_agent: str = DEFAULT_USER_AGENT,
        launch_args: Iterable[str] = LAUNCH_ARGS,
    ) -> None:
        self.executable_path = Path(executable_path)
        self.user_agent = user_agent
        self.timeout = timeout
        self.network_idle_timeout = network_idle_timeout
        self.network_idle_quiet = network_idle_quiet
        self.max_body_bytes = max_body_bytes
        self.block_resources = frozenset(block_resources)
        self.gate = gate or HostGate(0.0)
        self.robots = robots
        self.robots_agent = robots_agent
        self.launch_args = tuple(launch_args)
        self._semaphore = asyncio.Semaphore(concurrency)
        self._launch_lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> BrowserFetcher:
        if settings is None:
            from clausewatch.config import get_settings

            settings = get_settings()
        params: dict[str, Any] = {
            "executable_path": settings.browser_executable,
            "timeout": settings.fetch_timeout,
            "max_body_bytes": settings.max_body_bytes,
            "robots_agent": settings.user_agent,
        }
        return cls(**(params | overrides))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        if browser is not None:
            await browser.close()
        if playwright is not None:
            await playwright.stop()

    async def fetch(self, request: FetchRequest) -> FetchResult:
        result = FetchResult(
            url=request.url,
            final_url=request.url,
            fetcher=self.name,
            started_at=datetime.now(UTC),
            elapsed_ms=0.0,
        )
        t0 = time.monotonic()
        try:
            await self._fetch_into(request, result)
            if result.error is None:
                result.blocked_reason = assess_response(
                    result.status, result.headers, result.content, result.final_url
                )
        except BrowserUnavailable as exc:
            result.error = str(exc)
        except Exception as exc:  # playwright errors, crashes: recorded, never raised
            result.error = _describe(exc, self.timeout)
        result.elapsed_ms = (time.monotonic() - t0) * 1000
        return result

    async def _fetch_into(self, request: FetchRequest, result: FetchResult) -> None:
        if self.robots is not None and not request.ignore_robots:
            result.error = await self.robots.refusal(request.url, self.robots_agent)
            if result.error:
                return
        async with self._semaphore:
            browser = await self._ensure_browser()
            context = await browser.new_context(user_agent=self.user_agent, service_workers="block")
            try:
                page = await context.new_page()
                await page.route("**/*", self._filter)
                watch = _NetworkWatch(page)
                t0 = time.monotonic()
                async with self.gate.slot(request.url):
                    response = await page.goto(
                        request.url, wait_until="load", timeout=self.timeout * 1000
                    )
                result.timings["load_ms"] = (time.monotonic() - t0) * 1000
                await self._settle(watch)
                result.timings["total_ms"] = (time.monotonic() - t0) * 1000
                if response is None:
                    result.error = "browser error: navigation produced no response"
                    return
                await self._record(result, response, page)
            finally:
                await context.close()

    async def _record(self, result: FetchResult, response: Response, page: Page) -> None:
        headers = {k.lower(): v for k, v in (await response.all_headers()).items()}
        result.status = response.status
        result.final_url = page.url
        result.redirect_chain = await _redirect_chain(response)
        if _is_html(headers.get("content-type", "")):
            content = (await page.content()).encode("utf-8")
            result.headers = _rendered_headers(headers)
        else:  # a PDF...: Chromium's viewer replaced it, so ask again, with the page's cookies
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                result.error = too_large(self.max_body_bytes, declared)
                return
            async with self.gate.slot(response.url):
                again = await page.context.request.get(
                    response.url, timeout=self.timeout * 1000, fail_on_status_code=False
                )
            content = await again.body()
            result.headers = headers
        if len(content) > self.max_body_bytes:
            result.error = too_large(self.max_body_bytes)
        else:
            result.content = content
            if 200 <= (result.status or 0) < 300:
                result.error = body_problem(result.headers.get("content-type", ""), content)

    async def _settle(self, watch: _NetworkWatch) -> None:
        """Wait for network idle (nothing in flight for ``network_idle_quiet`` seconds), but
        never longer than ``network_idle_timeout``: some pages poll forever."""
        deadline = time.monotonic() + self.network_idle_timeout
        while time.monotonic() < deadline and not watch.quiet_for(self.network_idle_quiet):
            await asyncio.sleep(0.02)

    async def _filter(self, route: Route) -> None:
        if route.request.resource_type in self.block_resources:
            await route.abort()
        else:
            await route.continue_()

    async def _ensure_browser(self) -> Browser:
        async with self._launch_lock:
            if self._browser is not None and not self._browser.is_connected():
                await self.aclose()  # crashed: start afresh
            if self._browser is None:
                if not self.executable_path.exists():
                    raise BrowserUnavailable(
                        f"browser fetcher unavailable: no Chromium at {self.executable_path} "
                        "(set browser_executable)"
                    )
                self._playwright = await _async_playwright()().start()
                self._browser = await self._playwright.chromium.launch(
                    executable_path=str(self.executable_path),
                    args=list(self.launch_args),
                    timeout=self.timeout * 1000,
                )
            return self._browser


class _NetworkWatch:
    """Counts the page's requests in flight, like playwright's "networkidle" but with a
    configurable quiet period (its own is fixed at 500 ms)."""

    def __init__(self, page: Page) -> None:
        self.in_flight = 0
        self.changed_at = time.monotonic()
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _started(self, _request: object) -> None:
        self.in_flight += 1
        self.changed_at = time.monotonic()

    def _ended(self, _request: object) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.changed_at = time.monotonic()

    def quiet_for(self, seconds: float) -> bool:
        return self.in_flight == 0 and time.monotonic() - self.changed_at >= seconds


async def _redirect_chain(response: Response) -> list[Redirect]:
    chain: list[Redirect] = []
    request = response.request.redirected_from
    while request is not None:
        hop = await request.response()
        chain.append(Redirect(hop.status if hop else 0, request.url))
        request = request.redirected_from
    return chain[::-1]


def _is_html(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime in {"", "text/html", "application/xhtml+xml"}


def _rendered_headers(headers: dict[str, str]) -> dict[str, str]:
    rendered = {k.lower(): v for k, v in headers.items()}
    for name in _STALE_HEADERS:
        if name in rendered:
            rendered[f"x-original-{name}"] = rendered.pop(name)
    rendered["content-type"] = RENDERED_CONTENT_TYPE
    return rendered


def _describe(exc: Exception, timeout: float) -> str:
    message = getattr(exc, "message", None) or str(exc)
    first_line = message.strip().splitlines()[0] if message.strip() else repr(exc)
    if type(exc).__name__ == "TimeoutError":
        return f"timeout: browser navigation exceeded {timeout:g}s ({first_line})"
    return f"browser error: {first_line}"
