"""The capture stage over plain HTTP, against the loopback server (never the public web)."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import sys
import time
import urllib.request
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import httpx2
import pytest
import stamina
from loopback import (
    EXTRACTION_DIR,
    LAST_MODIFIED,
    RECAPTCHA_PAGE,
    LoopbackServer,
    Request,
    Response,
    alternate,
    fail_then,
    policy_page,
    real_page_paths,
    redirect,
    sequence,
    slow,
)

from clausewatch.capture import (
    BlockedReason,
    BrowserFetcher,
    CaptureClient,
    FetchRequest,
    FetchResult,
    HttpFetcher,
    RobotsCache,
    assess_response,
    fetch_all,
    parse_retry_after,
)
from clausewatch.capture import assess as assess_module
from clausewatch.capture.body import body_problem
from clausewatch.capture.pool import PerHostTransport
from clausewatch.config import Settings

UA = "clausewatch-test/1.0 (+https://example.org/bot)"


T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def make_fetcher(**overrides: Any) -> HttpFetcher:
    params: dict[str, Any] = {
        "user_agent": UA,
        "per_host_delay": 0.0,
        "timeout": 2.0,
        "retries": 2,
        "backoff_base": 0.01,
        "max_body_bytes": 1_000_000,
    }
    return HttpFetcher(**(params | overrides))


async def _get(url: str, request_kw: dict[str, Any], fetcher_kw: dict[str, Any]) -> FetchResult:
    async with make_fetcher(**fetcher_kw) as fetcher:
        return await fetcher.fetch(FetchRequest(url, **request_kw))


def get(server: LoopbackServer, path: str, **fetcher_kw: Any) -> FetchResult:
    request_fields = ("etag", "last_modified", "ignore_robots", "known_sha256")
    request_kw: dict[str, Any] = {k: fetcher_kw.pop(k) for k in request_fields if k in fetcher_kw}
    return run(_get(server.url(path), request_kw, fetcher_kw))


# --- the loopback server itself -------------------------------------------------------------


def test_loopback_routes_are_composable(loopback: LoopbackServer) -> None:
    loopback.route("/seq", sequence(Response(body="one"), Response(body="two")))
    loopback.route("/alt", alternate(Response(body="a"), Response(body="b")))
    bodies = [get(loopback, p).content for p in ("/seq", "/seq", "/seq", "/alt", "/alt", "/alt")]
    assert bodies == [b"one", b"two", b"two", b"a", b"b", b"a"]
    assert [r.path for r in loopback.requests if r.path != "/robots.txt"][:2] == ["/seq", "/seq"]
    assert loopback.requests_for("/alt")[0].headers["user-agent"] == UA


def test_loopback_serves_every_real_page_with_its_bytes(loopback: LoopbackServer) -> None:
    paths = real_page_paths()
    assert len(paths) >= 40

    async def go() -> list[FetchResult]:
        async with make_fetcher(concurrency=8) as fetcher:
            return await fetch_all(fetcher, [FetchRequest(loopback.url(p)) for p in paths])

    results = run(go())
    for path, result in zip(paths, results, strict=True):
        source = EXTRACTION_DIR / unquote(path.removeprefix("/pages/"))
        assert result.ok, (path, result.error, result.blocked_reason)
        assert result.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
        expected = "application/pdf" if source.suffix == ".pdf" else "text/html; charset=utf-8"
        assert result.content_type == expected


# --- blocked detection ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", sorted(EXTRACTION_DIR.glob("*/*/source-*.*")), ids=lambda p: str(Path(*p.parts[-3:]))
)
def test_no_real_page_is_flagged(path: Path) -> None:
    ctype = "application/pdf" if path.suffix == ".pdf" else "text/html; charset=utf-8"
    headers = {"Content-Type": ctype}
    assert assess_response(200, headers, path.read_bytes(), "https://example.com/legal") is None
    assert body_problem(ctype, path.read_bytes()) is None


def test_body_problem_keeps_text_in_any_encoding() -> None:
    page = policy_page("Conditions générales d'utilisation — 利用規約")
    for codec in ("utf-8", "utf-16", "utf-16-le", "utf-16-be", "gb18030", "shift_jis"):
        encoded = page.encode(codec, errors="ignore")
        assert body_problem("text/html", encoded) is None, codec
    iso2022 = ("利用規約 " * 200 + "<p>Terms</p>").encode("iso2022_jp")
    assert body_problem("text/html", iso2022) is None
    assert body_problem("text/plain", b"a\tb\r\n\x0cc") is None
    assert body_problem("image/png", b"\x89PNG\r\n\x1a\n" + bytes(300)) is None  # left to assess


def test_body_problem_refuses_compressed_and_binary_bodies() -> None:
    import gzip
    import random
    import zlib

    page = policy_page().encode()
    noise = random.Random(5).randbytes(20_000)
    assert body_problem("", gzip.compress(page)) == (
        "compressed body served as a response without a type (gzip)"
    )
    assert body_problem("text/html", zlib.compress(page)) == (
        "compressed body served as text/html (deflate)"
    )
    assert body_problem("text/html; charset=utf-8", noise) == "binary content, not a web page"
    png = b"\x89PNG\r\n\x1a\n" + bytes(300) + noise
    assert body_problem("text/html", png) == "binary content, not a web page"


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/bot-wall", 403, BlockedReason.BOT_WALL),
        ("/bot-wall/challenge", 503, BlockedReason.BOT_WALL),
        ("/bot-wall/challenge-200", 200, BlockedReason.BOT_WALL),
        ("/bot-wall/akamai", 403, BlockedReason.BOT_WALL),
        ("/bot-wall/datadome", 403, BlockedReason.BOT_WALL),
        ("/captcha", 200, BlockedReason.CAPTCHA),
        ("/captcha/hcaptcha", 200, BlockedReason.CAPTCHA),
        ("/cookie-wall", 200, BlockedReason.COOKIE_WALL),
        ("/login-redirect", 200, BlockedReason.LOGIN_WALL),
        ("/empty", 200, BlockedReason.EMPTY_BODY),
        ("/soft-404", 200, BlockedReason.ERROR_PAGE),
        ("/js-page", 200, BlockedReason.NEEDS_JAVASCRIPT),
        ("/json", 200, BlockedReason.NOT_DOCUMENT),
        ("/status/500", 500, BlockedReason.HTTP_5XX),
        ("/status/502", 502, BlockedReason.HTTP_5XX),
        ("/status/404", 404, BlockedReason.NOT_FOUND),
        ("/status/403", 403, BlockedReason.HTTP_4XX),
        ("/status/401", 401, BlockedReason.LOGIN_WALL),
        ("/status/429", 429, BlockedReason.RATE_LIMITED),
    ],
)
def test_fault_pages_are_flagged(
    loopback: LoopbackServer, path: str, status: int, reason: str
) -> None:
    result = get(loopback, path, retries=0)
    assert (result.status, result.blocked_reason, result.error) == (status, reason, None)
    assert not result.ok


def test_bot_challenge_is_not_retried(loopback: LoopbackServer) -> None:
    result = get(loopback, "/bot-wall/challenge", retries=3)
    assert result.attempts == 1 and len(loopback.requests_for("/bot-wall/challenge")) == 1


LONG_POLICY = policy_page("Privacy Policy")


@pytest.mark.parametrize(
    "body",
    [
        policy_page(
            "Privacy Policy",
            "<p>We use Google reCAPTCHA to verify you are human when you sign up. "
            'It loads <script src="https://www.google.com/recaptcha/api.js"></script></p>',
        ),
        policy_page(
            "Cookie Policy",
            '<div id="onetrust-banner-sdk" role="dialog"><p>We value your privacy. We use '
            "cookies.</p><button>Accept all</button><button>Reject all</button></div>",
        ),
        policy_page(
            "Terms",
            '<header><form><input name="u"><input type="password" name="p">'
            "<button>Log in</button></form></header>",
        ),
        (
            '<html><head><title>Cookie Policy</title></head><body><div class="cookie-policy">'
            "<h1>Cookie Policy</h1>"
            + "<p>Cookies are small files. You can accept all cookies or reject all cookies in "
            "the cookie settings, and withdraw consent at any time.</p>"
            * 12
            + "</div></body></html>"
        ),
        policy_page("Terms", "<p>Just a moment: the Cloudflare Ray ID is logged for security.</p>"),
        policy_page("Error handling 404 policy"),
    ],
    ids=[
        "mentions-captcha",
        "consent-banner",
        "login-in-header",
        "cookie-policy-div",
        "mentions-cloudflare",
        "title-404",
    ],
)
def test_real_looking_documents_are_not_flagged(body: str) -> None:
    assert assess_response(200, {"content-type": "text/html"}, body, "https://x.test/legal") is None


def test_assess_other_kinds() -> None:
    pdf, text = b"%PDF-1.7\n...", b"Terms of service\n\n1. You agree.\n"
    assert assess_response(200, {"content-type": "application/pdf"}, pdf, "https://x/t.pdf") is None
    assert assess_response(200, {}, pdf, "https://x/t") is None  # sniffed
    assert assess_response(200, {"content-type": "text/plain"}, text, "https://x/t.txt") is None
    assert assess_response(200, {"content-type": "image/png"}, b"\x89PNG..", "https://x/t") == (
        BlockedReason.NOT_DOCUMENT
    )
    not_a_pdf = {"content-type": "application/pdf"}
    assert assess_response(200, not_a_pdf, RECAPTCHA_PAGE.encode(), "https://x/t.pdf") == (
        BlockedReason.CAPTCHA
    )
    assert assess_response(304, {}, b"", "https://x/t") is None
    assert assess_response(None, {}, b"", "https://x/t") is None
    assert assess_response(200, {"content-type": "text/html"}, "<html></html>", "https://x/") == (
        BlockedReason.EMPTY_BODY
    )
    login_url = "https://accounts.example.com/signin?continue=/terms"
    assert assess_response(200, {}, LONG_POLICY, login_url) == BlockedReason.LOGIN_WALL
    cjk = "<html><body>" + "<p>本服务条款适用于您对本服务的使用。</p>" * 30 + "</body></html>"
    assert assess_response(200, {"content-type": "text/html"}, cjk, "https://x/") is None


# --- retries and Retry-After ------------------------------------------------------------------


def test_retries_then_success(loopback: LoopbackServer) -> None:
    result = get(loopback, "/flaky/2", retries=3)
    assert result.ok and result.status == 200 and result.attempts == 3
    assert len(loopback.requests_for("/flaky/2")) == 3


def test_retries_are_bounded(loopback: LoopbackServer) -> None:
    result = get(loopback, "/status/503", retries=2)
    assert result.attempts == 3 and result.status == 503 and result.error is None
    assert result.blocked_reason == BlockedReason.HTTP_5XX
    assert len(loopback.requests_for("/status/503")) == 3


def test_client_errors_are_not_retried(loopback: LoopbackServer) -> None:
    assert get(loopback, "/status/404", retries=3).attempts == 1


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(loopback: LoopbackServer, status: int) -> None:
    loopback.route(
        "/busy",
        fail_then(1, Response(status=status, headers={"retry-after": "1"}), Response(body="ok")),
    )
    result = get(loopback, "/busy", retries=2, backoff_base=0.01)
    first, second = loopback.requests_for("/busy")
    assert result.status == 200 and result.attempts == 2
    assert 0.9 <= second.received_at - first.received_at < 3


def test_retry_after_beyond_the_cap_ends_retries(loopback: LoopbackServer) -> None:
    result = get(loopback, "/status/503?retry_after=3600", retries=3, max_retry_wait=5)
    assert result.attempts == 1 and result.status == 503


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert (
        parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30
    )
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now=now) == 0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


# --- timeouts, size cap, broken bodies ----------------------------------------------------------


def test_timeout_is_an_error_not_an_exception(loopback: LoopbackServer) -> None:
    t0 = time.monotonic()
    result = get(loopback, "/slow?delay=3", timeout=0.3, retries=1)
    assert result.error is not None and result.error.startswith("timeout")
    assert result.attempts == 2 and time.monotonic() - t0 < 2.5
    assert not result.ok


def test_deadline_bounds_a_whole_response(loopback: LoopbackServer) -> None:
    result = get(loopback, "/slow?delay=2", timeout=5, deadline=0.3, retries=0)
    assert result.error == "timeout: no complete response within 0.3s"


@pytest.mark.parametrize("path", ["/oversized?bytes=300000", "/oversized/declared?bytes=300000"])
def test_size_cap(loopback: LoopbackServer, path: str) -> None:
    result = get(loopback, path, max_body_bytes=100_000)
    assert result.error is not None and result.error.startswith("page larger than 0.1 MB")
    assert result.content == b"" and result.attempts == 1
    assert get(loopback, path, max_body_bytes=400_000).ok


def test_truncated_body_is_an_error(loopback: LoopbackServer) -> None:
    result = get(loopback, "/truncated", retries=1)
    assert result.error is not None and "truncated" in result.error
    assert result.attempts == 2 and result.content == b""


def test_unreachable_and_invalid_urls(loopback: LoopbackServer) -> None:
    closed = LoopbackServer().start()
    url = closed.url("/ok")
    closed.stop()
    result = run(_get(url, {"ignore_robots": True}, {"retries": 1}))
    assert result.error is not None and "ConnectError" in result.error and result.attempts == 2
    result = run(_get("ftp://example.com/terms", {}, {}))
    assert result.error is not None and result.error.startswith("unsupported URL")


@pytest.mark.parametrize("path", ["/charset/latin1-as-utf8", "/charset/cp1252-no-charset"])
def test_wrong_charsets_keep_the_raw_bytes(loopback: LoopbackServer, path: str) -> None:
    result = get(loopback, path)
    served = loopback.resolve(loopback.requests_for(path)[0]).body_bytes()
    assert result.ok and result.content == served
    assert b"\xe9" in result.content or b"\x93" in result.content  # not valid UTF-8


def test_per_render_tokens_and_flip_flops_are_just_captured(loopback: LoopbackServer) -> None:
    for path in ("/nonce", "/flip-flop"):
        first, second, third = (get(loopback, path) for _ in range(3))
        assert first.ok and second.ok and first.sha256 != second.sha256
        if path == "/flip-flop":
            assert first.sha256 == third.sha256


# --- redirects ----------------------------------------------------------------------------------


def test_redirect_chain_is_recorded(loopback: LoopbackServer) -> None:
    result = get(loopback, "/redirect/chain")
    assert result.ok and result.final_url == loopback.url("/ok")
    assert [(r.status, r.url) for r in result.redirect_chain] == [
        (301, loopback.url("/redirect/chain")),
        (302, loopback.url("/redirect/chain/2")),
        (307, loopback.url("/redirect/chain/3")),
    ]


def test_redirect_loop_and_cap(loopback: LoopbackServer) -> None:
    loop = get(loopback, "/redirect/loop")
    assert loop.error is not None and loop.error.startswith("redirect loop")
    assert len(loop.redirect_chain) == 4  # a URL may be revisited once (cookie checks)
    too_many = get(loopback, "/redirect/many/4", max_redirects=3)
    assert too_many.error == "too many redirects (more than 3)"
    assert len(too_many.redirect_chain) == 4
    assert get(loopback, "/redirect/many/2", max_redirects=3).ok


def test_cookie_bounce_works_and_cookies_stay_per_fetch(loopback: LoopbackServer) -> None:
    def check(request: Request) -> Response:
        if "seen=1" in request.headers.get("cookie", ""):
            return Response(body=policy_page())
        return redirect("/set-cookie")

    loopback.route("/cookie-check", check)
    loopback.route("/set-cookie", Response(status=302, headers={
        "location": "/cookie-check", "set-cookie": "seen=1; Path=/"}))  # fmt: skip

    async def go() -> list[FetchResult]:
        async with make_fetcher() as fetcher:
            request = FetchRequest(loopback.url("/cookie-check"), ignore_robots=True)
            return [await fetcher.fetch(request), await fetcher.fetch(request)]

    for result in run(go()):
        assert result.ok and [r.status for r in result.redirect_chain] == [302, 302]
    cookies = [r.headers.get("cookie") for r in loopback.requests_for("/cookie-check")]
    assert cookies == [None, "seen=1", None, "seen=1"]  # the second fetch starts clean


# --- robots.txt -----------------------------------------------------------------------------------


def test_robots_disallow_and_override(loopback: LoopbackServer) -> None:
    result = get(loopback, "/private/doc")
    assert result.error == f"disallowed by robots.txt: {loopback.url('/private/doc')}"
    assert not loopback.requests_for("/private/doc")
    assert get(loopback, "/private/doc", ignore_robots=True).ok
    assert get(loopback, "/ok", user_agent="BadBot/2.0").error is not None  # its own group


def test_robots_is_fetched_once_per_origin(loopback: LoopbackServer) -> None:
    async def go() -> None:
        async with make_fetcher() as fetcher:
            await fetch_all(fetcher, [FetchRequest(loopback.url(p)) for p in ("/ok", "/nonce")])
            await fetcher.fetch(FetchRequest(loopback.url("/ok")))

    run(go())
    robots = loopback.requests_for("/robots.txt")
    assert len(robots) == 1 and robots[0].headers["user-agent"] == UA


@pytest.mark.parametrize(("status", "allowed"), [(404, True), (403, True), (500, False)])
def test_robots_status_rules(loopback: LoopbackServer, status: int, allowed: bool) -> None:
    loopback.route("/robots.txt", Response(status=status, body="nope"))
    result = get(loopback, "/private/doc", retries=0)
    assert result.ok is allowed
    if not allowed:
        assert result.error == "robots.txt answered 500: everything disallowed for now (RFC 9309)"


def test_oversized_robots_is_cut_not_ignored(loopback: LoopbackServer) -> None:
    padding = "# " + "x" * 1000 + "\n"
    body = "User-agent: *\nDisallow: /private/\n" + padding * 600  # 600 KB
    loopback.route("/robots.txt", Response(body=body, content_type="text/plain"))
    assert get(loopback, "/private/doc").error is not None
    assert get(loopback, "/ok").ok


def test_robots_cache_expires() -> None:
    now = [0.0]
    calls: list[str] = []

    async def fetch(url: str) -> tuple[int | None, bytes]:
        calls.append(url)
        return (None, b"") if len(calls) == 1 else (200, b"User-agent: *\nDisallow: /x\n")

    async def go() -> list[bool]:
        cache = RobotsCache(fetch, ttl=100, error_ttl=10, clock=lambda: now[0])
        answers = [await cache.allowed("https://a.test/y", "bot")]  # unreachable → disallow
        now[0] = 5
        answers.append(await cache.allowed("https://a.test/y", "bot"))  # still cached
        now[0] = 11
        answers.append(await cache.allowed("https://a.test/y", "bot"))  # refetched
        answers.append(await cache.allowed("https://a.test/x", "bot"))
        return answers

    assert run(go()) == [False, False, True, False]
    assert calls == ["https://a.test/robots.txt"] * 2


# --- conditional GET ------------------------------------------------------------------------------


def test_conditional_get_with_etag(loopback: LoopbackServer) -> None:
    first = get(loopback, "/conditional")
    assert first.ok and first.headers["etag"] and first.headers["last-modified"]
    second = get(loopback, "/conditional", etag=first.headers["etag"])
    assert second.status == 304 and second.not_modified and second.ok
    assert second.content == b"" and second.blocked_reason is None
    sent = loopback.requests_for("/conditional")[-1].headers
    assert sent["if-none-match"] == first.headers["etag"]
    changed = get(loopback, "/conditional", etag='"old"')
    assert changed.status == 200 and not changed.not_modified


def test_conditional_get_with_last_modified(loopback: LoopbackServer) -> None:
    result = get(loopback, "/conditional/last-modified", last_modified=LAST_MODIFIED)
    assert result.not_modified
    sent = loopback.requests_for("/conditional/last-modified")[-1].headers
    assert sent["if-modified-since"] == LAST_MODIFIED and "if-none-match" not in sent


# --- politeness: per host and global --------------------------------------------------------------


def test_one_request_at_a_time_per_host_with_a_delay(loopback: LoopbackServer) -> None:
    loopback.route("/hold", Response(body=policy_page(), delay=0.05))

    async def go() -> None:
        async with make_fetcher(per_host_delay=0.2, concurrency=8) as fetcher:
            requests = [FetchRequest(loopback.url("/hold"), ignore_robots=True)] * 4
            assert all(r.ok for r in await fetch_all(fetcher, requests))

    run(go())
    times = [r.received_at for r in loopback.requests_for("/hold")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 4 and loopback.max_in_flight == 1
    assert min(gaps) >= 0.2 + 0.05 - 0.01  # the delay runs from the end of the previous request


def test_global_concurrency_limit(loopback: LoopbackServer) -> None:
    # Each request is held until `want` are in flight (or 20 s pass), so a loaded 2-core CI
    # machine that starts the second request late cannot flake it (fixed delays of 0.15 s and
    # then 0.8 s both did, and so did a hold under the fetcher's 2 s timeout); a fetcher that
    # broke the limit would have all six in flight.
    want = 0

    def hold(request: Request) -> Response:
        deadline = time.monotonic() + 20
        while loopback.in_flight < want and time.monotonic() < deadline:
            time.sleep(0.01)
        return Response(body=policy_page(), delay=0.2)

    loopback.route("/hold", hold)
    hosts = [loopback.base_url] + [loopback.add_listener() for _ in range(5)]

    async def go(concurrency: int) -> int:
        nonlocal want
        want = concurrency
        loopback.clear_log()
        async with make_fetcher(concurrency=concurrency, per_host_delay=1.0, timeout=60) as fetcher:
            requests = [FetchRequest(h + "/hold", ignore_robots=True) for h in hosts]
            assert all(r.ok for r in await fetch_all(fetcher, requests))
        return loopback.max_in_flight

    assert run(go(2)) == 2
    assert run(go(6)) == 6  # different hosts really run in parallel


def test_loopback_counts_only_this_tests_requests(loopback: LoopbackServer) -> None:
    # The loopback server lives for the whole session: a handler still sleeping for an earlier
    # test's client (which timed out) used to count itself out after the counters were zeroed,
    # so two requests in flight read as one and test_global_concurrency_limit failed at random.
    with pytest.raises(OSError):
        urllib.request.urlopen(loopback.url("/slow?delay=0.5"), timeout=0.1)
    loopback.clear_log()
    time.sleep(0.8)  # the old handler has now answered (into a closed socket) and left
    assert loopback.in_flight == 0
    assert get(loopback, "/ok", ignore_robots=True).ok
    assert (loopback.in_flight, loopback.max_in_flight) == (0, 1)


def test_user_agent_and_accept_are_sent(loopback: LoopbackServer) -> None:
    get(loopback, "/ok", user_agent="clausewatch/9 (+mailto:ops@example.org)")
    for request in loopback.requests:
        assert request.headers["user-agent"] == "clausewatch/9 (+mailto:ops@example.org)"
    assert "text/html" in loopback.requests_for("/ok")[0].headers["accept"]


def test_result_records_timings_and_headers(loopback: LoopbackServer) -> None:
    result = get(loopback, "/ok", ignore_robots=True)  # so this request opens the connection
    assert result.timings["ttfb_ms"] > 0 and result.timings["total_ms"] >= result.timings["ttfb_ms"]
    assert 0 < result.timings["connect_ms"] < result.timings["ttfb_ms"]
    assert result.elapsed_ms >= result.timings["total_ms"]
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    assert all(k == k.lower() for k in result.headers)
    assert result.started_at.tzinfo is UTC and result.fetcher == "http"


def test_fetch_all_keeps_order(loopback: LoopbackServer) -> None:
    paths = ["/status/404", "/ok", "/empty", "/pdf"]

    async def go() -> list[FetchResult]:
        async with make_fetcher() as fetcher:
            return await fetch_all(fetcher, [FetchRequest(loopback.url(p)) for p in paths])

    assert [r.url for r in run(go())] == [loopback.url(p) for p in paths]


def test_from_settings() -> None:
    settings = Settings(
        fetch_concurrency=3, per_host_delay=0.5, fetch_timeout=7, fetch_retries=1,
        max_body_bytes=1234, max_redirects=2, user_agent="ua/1",
    )  # fmt: skip

    async def go() -> None:
        async with HttpFetcher.from_settings(settings, backoff_base=0.1) as fetcher:
            assert (fetcher.user_agent, fetcher.gate.delay, fetcher.timeout) == ("ua/1", 0.5, 7)
            assert (fetcher.retries, fetcher.max_body_bytes, fetcher.max_redirects) == (1, 1234, 2)
            assert fetcher.backoff_base == 0.1 and fetcher._semaphore._value == 3

    run(go())


# --- the client, without a browser -----------------------------------------------------------


def test_client_without_fallback_keeps_the_http_result(loopback: LoopbackServer) -> None:
    async def go() -> tuple[FetchResult, FetchResult]:
        browser = BrowserFetcher(executable_path="/nonexistent/chromium")
        async with CaptureClient(make_fetcher(), browser, fallback=False) as client:
            walled = await client.fetch(FetchRequest(loopback.url("/bot-wall")))
            declared = await client.fetch(FetchRequest(loopback.url("/ok"), fetcher="browser"))
            return walled, declared

    walled, declared = run(go())
    assert walled.fetcher == "http" and walled.blocked_reason == BlockedReason.BOT_WALL
    assert declared.fetcher == "browser"
    assert declared.error is not None and "no Chromium at /nonexistent/chromium" in declared.error


def test_browser_without_playwright_is_a_clear_error(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "playwright.async_api", None)  # import fails

    async def go() -> FetchResult:
        async with BrowserFetcher(executable_path=sys.executable) as browser:
            return await browser.fetch(FetchRequest(loopback.url("/ok")))

    result = run(go())
    assert result.error is not None and "playwright is not installed" in result.error


def test_client_without_browser(loopback: LoopbackServer) -> None:
    async def go() -> FetchResult:
        async with CaptureClient(make_fetcher()) as client:
            return await client.fetch(FetchRequest(loopback.url("/js-page"), fetcher="browser"))

    result = run(go())
    assert result.error == "document needs the browser, but no browser is configured"


# --- the unchanged-capture path (issue #13) -------------------------------------------------------


def test_keep_alive_connections_are_kept_per_host(loopback: LoopbackServer) -> None:
    """More hosts than a shared pool keeps alive (httpx keeps 20): the second round reuses
    every host's connection (no TCP connect), each host holding one."""
    bases = [loopback.base_url] + [loopback.add_listener() for _ in range(29)]

    async def go() -> tuple[list[FetchResult], list[FetchResult], int]:
        async with make_fetcher(concurrency=8) as fetcher:
            first = await fetch_all(fetcher, [FetchRequest(f"{b}/ok") for b in bases])
            second = await fetch_all(fetcher, [FetchRequest(f"{b}/nonce") for b in bases])
            transport = fetcher._client._transport
            assert isinstance(transport, PerHostTransport)
            return first, second, transport.hosts

    first, second, hosts = run(go())
    assert all(r.ok for r in first + second)
    assert [r.url for r in second if "connect_ms" in r.timings] == []
    assert hosts == len(bases)


def test_per_host_pools_are_bounded_and_busy_ones_stay_open(loopback: LoopbackServer) -> None:
    loopback.route("/slow-ok", slow(Response(body=policy_page("Slow")), 0.5))
    bases = [loopback.base_url] + [loopback.add_listener() for _ in range(3)]

    async def go() -> tuple[list[int], httpx2.Response, int]:
        transport = PerHostTransport(max_hosts=2)
        async with httpx2.AsyncClient(transport=transport) as client:
            slow_one = asyncio.create_task(client.get(f"{bases[0]}/slow-ok"))
            await asyncio.sleep(0.1)  # in flight on host 0
            statuses = [(await client.get(f"{b}/ok")).status_code for b in bases[1:]]
            held = transport.hosts
            return statuses, await slow_one, held

    statuses, slow_response, held = run(go())
    assert statuses == [200, 200, 200]
    assert slow_response.status_code == 200 and "Slow" in slow_response.text  # never cut
    assert held == 2


def test_a_known_page_is_not_parsed_again_but_still_judged(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = policy_page("Terms of Service")
    known = hashlib.sha256(page.encode()).hexdigest()
    loopback.route("/known", Response(body=page))
    loopback.route("/known-walled", Response(body=page, headers={"cf-mitigated": "challenge"}))
    loopback.route("/known-gone", Response(status=404, body=page))
    parsed: list[bytes] = []
    original = assess_module._Page.parse

    def parse(cls: type, raw: bytes) -> Any:
        parsed.append(raw)
        return original(raw)

    monkeypatch.setattr(assess_module._Page, "parse", classmethod(parse))

    def fetch(path: str, sha: str | None) -> FetchResult:
        return run(_get(loopback.url(path), {"known_sha256": sha}, {"retries": 0}))

    assert fetch("/known", known).ok and parsed == []
    assert fetch("/known-walled", known).blocked_reason == BlockedReason.BOT_WALL
    assert fetch("/known-gone", known).blocked_reason == BlockedReason.NOT_FOUND
    assert fetch("/known", "0" * 64).ok and len(parsed) == 2  # other bytes (and the 404 page)
    # a wall whose bytes are not the known ones is judged as always
    loopback.route("/wall", Response(body=RECAPTCHA_PAGE))
    assert fetch("/wall", known).blocked_reason == BlockedReason.CAPTCHA


def test_assess_known_page_keeps_the_checks_that_do_not_read_the_page() -> None:
    page = policy_page("Terms of Service").encode()
    html = {"content-type": "text/html"}
    assert assess_response(200, html, page, "https://a.test/terms", known_page=True) is None
    login = assess_response(200, html, page, "https://a.test/login", known_page=True)
    assert login == BlockedReason.LOGIN_WALL
    walled = {**html, "x-amzn-waf-action": "captcha"}
    assert assess_response(200, walled, page, "https://a.test/t", known_page=True) == "bot wall"
    assert assess_response(503, html, page, "https://a.test/t", known_page=True) == "http 5xx"
    assert assess_response(200, html, b"", "https://a.test/t", known_page=True) == "empty body"


def test_a_fetch_that_succeeds_at_once_sets_up_no_retries(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = stamina.retry_context
    used: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        used.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(stamina, "retry_context", counting)
    assert get(loopback, "/ok").ok and used == []
    loopback.route(
        "/flaky", fail_then(2, Response(status=503, body="busy"), Response(body=policy_page("F")))
    )
    result = get(loopback, "/flaky")
    assert result.ok and result.attempts == 3 and used == [1]
    assert len(loopback.requests_for("/flaky")) == 3
    gone = get(loopback, "/status/503", retries=1)
    assert gone.attempts == 2 and len(loopback.requests_for("/status/503")) == 2
