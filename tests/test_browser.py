"""The browser fetcher and the HTTP → browser fallback, with Debian's Chromium, on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from loopback import EXTRACTION_DIR, LoopbackServer, Response, html_page, policy_page

from clausewatch.capture import (
    BlockedReason,
    BrowserFetcher,
    CaptureClient,
    FetchRequest,
    FetchResult,
    HttpFetcher,
)

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]

T = TypeVar("T")


class Session:
    """One event loop and one Chromium for the whole module: launching costs ~1 s."""

    def __init__(self) -> None:
        self.runner = asyncio.Runner()
        self.browser = make_browser()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    def browse(self, url: str) -> FetchResult:
        self.browser.robots = None  # no robots cache of an earlier (closed) client
        return self.run(self.browser.fetch(FetchRequest(url)))

    def client(self, **http_overrides: Any) -> CaptureClient:
        params: dict[str, Any] = {
            "user_agent": "clausewatch-test/1.0",
            "per_host_delay": 0.0,
            "retries": 0,
            "timeout": 2.0,
        }
        self.browser.robots = None  # the client wires in its HTTP fetcher's cache
        return CaptureClient(HttpFetcher(**(params | http_overrides)), self.browser)

    def close(self) -> None:
        self.run(self.browser.aclose())
        self.runner.close()


def make_browser(**overrides: Any) -> BrowserFetcher:
    params: dict[str, Any] = {
        "timeout": 10.0,
        "network_idle_timeout": 2.0,
        "network_idle_quiet": 0.1,
    }
    return BrowserFetcher(**(params | overrides))


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    session = Session()
    yield session
    session.close()


async def _use(client: CaptureClient, *requests: FetchRequest) -> list[FetchResult]:
    try:
        return [await client.fetch(r) for r in requests]
    finally:
        await client.http.aclose()  # the shared browser stays open


def test_browser_renders_script_inserted_text(session: Session, loopback: LoopbackServer) -> None:
    result = session.browse(loopback.url("/js-page"))
    assert result.ok, (result.error, result.blocked_reason)
    assert result.fetcher == "browser" and result.status == 200
    assert b"These terms were inserted by JavaScript." in result.content
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    assert result.headers["x-original-content-type"] == "text/html; charset=utf-8"
    assert result.final_url == loopback.url("/js-page")


def test_browser_records_redirects_and_blocks_images(
    session: Session, loopback: LoopbackServer
) -> None:
    loopback.route(
        "/ok",
        Response(
            body=policy_page(extra='<img src="/pixel.png"><link rel="stylesheet" href="/s.css">')
        ),
    )
    loopback.route("/s.css", Response(body="p{color:black}", content_type="text/css"))
    result = session.browse(loopback.url("/redirect/chain"))
    assert result.ok and result.final_url == loopback.url("/ok")
    assert [(r.status, r.url) for r in result.redirect_chain] == [
        (301, loopback.url("/redirect/chain")),
        (302, loopback.url("/redirect/chain/2")),
        (307, loopback.url("/redirect/chain/3")),
    ]
    assert not loopback.requests_for("/pixel.png")  # images are not downloaded
    assert loopback.requests_for("/s.css")  # stylesheets are


def test_browser_records_the_bytes_of_a_pdf(session: Session, loopback: LoopbackServer) -> None:
    result = session.browse(loopback.url("/pdf"))
    pdf = EXTRACTION_DIR / "ChatGPT/Law Enforcement Guidelines/source-0.pdf"
    assert result.ok and result.content == pdf.read_bytes()
    assert result.content_type == "application/pdf"


def test_browser_flags_walls_too(session: Session, loopback: LoopbackServer) -> None:
    result = session.browse(loopback.url("/bot-wall"))
    assert result.status == 403 and result.blocked_reason == BlockedReason.BOT_WALL


def test_browser_errors_are_results(session: Session, loopback: LoopbackServer) -> None:
    closed = LoopbackServer().start()
    url = closed.url("/ok")
    closed.stop()
    result = session.browse(url)
    assert result.error is not None and "ERR_CONNECTION_REFUSED" in result.error

    async def slow() -> FetchResult:
        async with make_browser(timeout=0.5) as browser:
            return await browser.fetch(FetchRequest(loopback.url("/slow?delay=3")))

    result = session.run(slow())
    assert result.error is not None and result.error.startswith("timeout")


def test_fallback_from_a_javascript_shell(session: Session, loopback: LoopbackServer) -> None:
    [result] = session.run(_use(session.client(), FetchRequest(loopback.url("/js-page"))))
    assert result.fetcher == "browser" and result.ok
    assert b"Terms rendered by script" in result.content
    assert result.fallback_from is not None
    assert result.fallback_from.fetcher == "http"
    assert result.fallback_from.blocked_reason == BlockedReason.NEEDS_JAVASCRIPT


def test_fallback_from_a_bot_wall(session: Session, loopback: LoopbackServer) -> None:
    [result] = session.run(_use(session.client(), FetchRequest(loopback.url("/ua-wall"))))
    assert result.fetcher == "browser" and result.ok and result.status == 200
    assert b"Terms behind a bot wall" in result.content
    assert result.fallback_from is not None and result.fallback_from.status == 403
    assert result.fallback_from.blocked_reason == BlockedReason.BOT_WALL
    user_agents = [r.headers["user-agent"] for r in loopback.requests_for("/ua-wall")]
    assert user_agents[0] == "clausewatch-test/1.0" and "Chrome" in user_agents[1]


def test_no_fallback_for_plain_errors(session: Session, loopback: LoopbackServer) -> None:
    [result] = session.run(_use(session.client(), FetchRequest(loopback.url("/status/404"))))
    assert result.fetcher == "http" and result.fallback_from is None
    assert len(loopback.requests_for("/status/404")) == 1


def test_declared_browser_documents_skip_http_and_obey_robots(
    session: Session, loopback: LoopbackServer
) -> None:
    loopback.route("/app", Response(body=html_page("App", "<main>" + policy_page() + "</main>")))
    app, private = session.run(
        _use(
            session.client(),
            FetchRequest(loopback.url("/app"), fetcher="browser"),
            FetchRequest(loopback.url("/private/doc"), fetcher="browser"),
        )
    )
    assert app.fetcher == "browser" and app.ok and app.fallback_from is None
    assert all("Chrome" in r.headers["user-agent"] for r in loopback.requests_for("/app"))
    assert private.error == f"disallowed by robots.txt: {loopback.url('/private/doc')}"
    assert not loopback.requests_for("/private/doc")
    robots = loopback.requests_for("/robots.txt")
    assert len(robots) == 1 and robots[0].headers["user-agent"] == "clausewatch-test/1.0"
