"""Plain HTTP fetching with httpx2: polite, bounded, and every failure recorded as a result."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING, Any, Protocol, Self

import httpx2
import stamina

from clausewatch.capture.assess import BlockedReason, assess_response
from clausewatch.capture.base import FetcherName, FetchRequest, FetchResult, Redirect
from clausewatch.capture.body import body_problem, too_large
from clausewatch.capture.pacing import HostGate
from clausewatch.capture.pool import PerHostTransport
from clausewatch.capture.robots import ROBOTS_MAX_BYTES, ROBOTS_TTL, RobotsCache
from clausewatch.config import DEFAULT_USER_AGENT

if TYPE_CHECKING:
    from clausewatch.config import Settings

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ROBOTS_MAX_REDIRECTS = 5  # RFC 9309 §2.3.1.2
ACCEPT = "text/html,application/xhtml+xml,application/pdf;q=0.9,text/plain;q=0.8,*/*;q=0.5"


class _SupportsFetch(Protocol):
    async def fetch(self, request: FetchRequest) -> FetchResult: ...


async def fetch_all(fetcher: _SupportsFetch, requests: Iterable[FetchRequest]) -> list[FetchResult]:
    """Fetch many at once; the fetcher's own limits (global, per host) do the throttling."""
    return list(await asyncio.gather(*(fetcher.fetch(r) for r in requests)))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class _Outcome:
    """What one attempt (one walk down the redirect chain) produced."""

    final_url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""
    chain: list[Redirect] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None


@dataclass
class _Hop:
    status: int
    headers: dict[str, str]
    content: bytes
    url: str
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


class _Trace:
    """httpcore's trace hook: when the TCP connect and TLS handshake started and ended (only
    on a fresh connection; a reused keep-alive connection has neither)."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.marks: dict[str, float] = {}

    async def __call__(self, event: str, info: dict[str, Any]) -> None:
        self.marks[event.split(".", 1)[-1]] = time.monotonic()

    def since_start(self) -> float:
        return (time.monotonic() - self.start) * 1000

    def timings(self, ttfb_ms: float) -> dict[str, float]:
        timings = {"ttfb_ms": ttfb_ms, "total_ms": self.since_start()}
        for step in ("connect_tcp", "start_tls"):
            started, done = self.marks.get(f"{step}.started"), self.marks.get(f"{step}.complete")
            if started is not None and done is not None:
                name = "connect_ms" if step == "connect_tcp" else "tls_ms"
                timings[name] = (done - started) * 1000
        return timings


class _KeepNoCookies(DefaultCookiePolicy):
    """The shared client keeps no cookies; each fetch has its own jar."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False


class _Retry(Exception):
    """Raised inside a stamina attempt to ask for another one."""

    def __init__(self, outcome: _Outcome) -> None:
        super().__init__(outcome.error or f"http {outcome.status}")
        self.outcome = outcome


class HttpFetcher:
    """Fetches with one `httpx2.AsyncClient`.

    Limits: at most ``concurrency`` requests in flight; one request at a time per host, at
    least ``per_host_delay`` seconds apart; ``timeout`` seconds per connect/read/write and
    ``deadline`` (default 4 × timeout) for a whole response; ``max_body_bytes`` enforced while
    streaming; ``max_redirects`` hops, each recorded. Retries (stamina): ``retries`` more
    attempts on transport errors, timeouts and 429/5xx, backing off exponentially from
    ``backoff_base`` seconds with jitter, or as long as Retry-After says, up to
    ``max_retry_wait`` (a longer Retry-After ends the retries). robots.txt is obeyed unless the
    request says ``ignore_robots``. Use it inside one event loop: ``async with HttpFetcher(...)``.
    """

    name: FetcherName = "http"

    def __init__(
        self,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        concurrency: int = 8,
        per_host_delay: float = 1.0,
        timeout: float = 30.0,
        retries: int = 3,
        max_body_bytes: int = 20_000_000,
        max_redirects: int = 10,
        backoff_base: float = 1.0,
        max_retry_wait: float = 60.0,
        deadline: float | None = None,
        robots_ttl: float = ROBOTS_TTL,
        gate: HostGate | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.user_agent = user_agent
        self.timeout = timeout
        self.deadline = deadline if deadline is not None else 4 * timeout
        self.retries = retries
        self.max_body_bytes = max_body_bytes
        self.max_redirects = max_redirects
        self.backoff_base = backoff_base
        self.max_retry_wait = max_retry_wait
        self.gate = gate or HostGate(per_host_delay)
        self.robots = RobotsCache(self._fetch_robots, ttl=robots_ttl)
        self._semaphore = asyncio.Semaphore(concurrency)
        self._client = httpx2.AsyncClient(
            headers={"user-agent": user_agent, "accept": ACCEPT},
            cookies=CookieJar(policy=_KeepNoCookies()),  # each fetch has its own jar
            timeout=httpx2.Timeout(timeout),
            follow_redirects=False,  # we follow ourselves, to record and police every hop
            # keep-alive connections per host (a pool per host, see pool.py)
            transport=transport or PerHostTransport(max_hosts=max(64, 4 * concurrency)),
            trust_env=False,  # no surprise proxies for evidence fetching
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> HttpFetcher:
        if settings is None:
            from clausewatch.config import get_settings

            settings = get_settings()
        params: dict[str, Any] = {
            "user_agent": settings.user_agent,
            "concurrency": settings.fetch_concurrency,
            "per_host_delay": settings.per_host_delay,
            "timeout": settings.fetch_timeout,
            "retries": settings.fetch_retries,
            "max_body_bytes": settings.max_body_bytes,
            "max_redirects": settings.max_redirects,
        }
        return cls(**(params | overrides))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- the fetch -----------------------------------------------------------------------

    async def fetch(self, request: FetchRequest) -> FetchResult:
        started_at = datetime.now(UTC)
        t0 = time.monotonic()
        blocked: str | None = None
        try:
            outcome, attempts = await self._with_retries(request)
            if outcome.error is None and 200 <= (outcome.status or 0) < 300:
                outcome.error = body_problem(
                    outcome.headers.get("content-type", ""), outcome.content
                )
            if outcome.error is None:
                blocked = assess_response(
                    outcome.status,
                    outcome.headers,
                    outcome.content,
                    outcome.final_url,
                    known_page=_known(request, outcome.content),
                )
        except Exception as exc:  # a bug must not lose the capture record
            outcome, attempts = _Outcome(request.url, error=f"internal error: {exc!r}"), 1
        result = FetchResult(
            url=request.url,
            final_url=outcome.final_url,
            fetcher=self.name,
            started_at=started_at,
            elapsed_ms=(time.monotonic() - t0) * 1000,
            status=outcome.status,
            headers=outcome.headers,
            content=outcome.content,
            redirect_chain=outcome.chain,
            timings=outcome.timings,
            attempts=attempts,
            error=outcome.error,
            blocked_reason=blocked,
            not_modified=outcome.status == 304 and outcome.error is None,
        )
        return result

    async def _with_retries(self, request: FetchRequest) -> tuple[_Outcome, int]:
        # Most fetches succeed at once: the first attempt runs before stamina is set up
        # (that setup is a good part of a loopback fetch's cost). When it must be retried,
        # stamina's first attempt hands back that outcome instead of fetching again, so the
        # waits, the attempt count and stamina's hooks are what they were with every attempt
        # inside it.
        outcome = await self._attempt(request)
        if not outcome.retryable:
            return outcome, 1
        first: _Outcome | None = outcome
        attempts = 1
        try:
            async for attempt in stamina.retry_context(
                on=self._retry_wait,
                attempts=self.retries + 1,
                timeout=None,  # bounded by attempts and max_retry_wait instead
                wait_initial=self.backoff_base,
                wait_max=self.max_retry_wait,
                wait_jitter=self.backoff_base,
            ):
                with attempt:
                    if first is not None:
                        outcome, first = first, None
                    else:
                        attempts += 1
                        outcome = await self._attempt(request)
                    if outcome.retryable:
                        raise _Retry(outcome)
                    return outcome, attempts
        except _Retry as exc:  # out of attempts, or told to wait too long
            return exc.outcome, attempts
        raise AssertionError("unreachable")

    def _retry_wait(self, exc: Exception) -> bool | float:
        """stamina's hook: retry a `_Retry`, waiting as Retry-After says when it says."""
        if not isinstance(exc, _Retry):
            return False
        wait = exc.outcome.retry_after
        if wait is None:
            return True  # stamina's exponential backoff with jitter
        return wait if wait <= self.max_retry_wait else False

    async def _attempt(self, request: FetchRequest) -> _Outcome:
        """Walk the redirect chain once; each hop is paced, robots-checked and recorded."""
        url, visits = request.url, Counter([request.url])
        chain: list[Redirect] = []
        headers = _conditional_headers(request)
        jar = httpx2.Cookies()  # this walk's cookies only: captures must not depend on history
        if problem := _url_problem(url):
            return _Outcome(url, error=problem)
        while True:
            if not request.ignore_robots:
                refusal = await self.robots.refusal(url, self.user_agent)
                if refusal:
                    return _Outcome(url, chain=chain, error=refusal)
            try:
                hop = await self._get(url, headers, self.max_body_bytes, jar=jar)
            except Exception as exc:
                return _error_outcome(url, chain, exc, self.timeout, self.deadline)
            if hop.status in REDIRECT_STATUSES and "location" in hop.headers:
                chain.append(Redirect(hop.status, url))
                error, target = _next_hop(url, hop.headers["location"], visits, len(chain))
                error = error or _too_many(len(chain), self.max_redirects)
                if error:
                    return _Outcome(url, hop.status, hop.headers, chain=chain, error=error)
                url = target
                visits[url] += 1
                continue
            return _final_outcome(hop, chain)

    async def _get(
        self,
        url: str,
        headers: dict[str, str],
        max_bytes: int,
        *,
        jar: httpx2.Cookies | None = None,
        truncate: bool = False,
    ) -> _Hop:
        """One GET under the host gate and the global limit, body streamed up to the cap
        (past it: an error, or with ``truncate`` the first ``max_bytes``)."""
        async with self.gate.slot(url), self._semaphore, asyncio.timeout(self.deadline):
            trace = _Trace()
            request = self._client.build_request(
                "GET", url, headers=headers, extensions={"trace": trace}
            )
            if jar:  # cookies set earlier on this redirect chain
                jar.set_cookie_header(request)
            response = await self._client.send(request, stream=True)
            try:
                ttfb_ms = trace.since_start()
                if jar is not None and "set-cookie" in response.headers:
                    jar.extract_cookies(response)
                content, error = await _read_capped(response, max_bytes, truncate=truncate)
            finally:
                await response.aclose()
            hop = _Hop(response.status_code, _lower(response.headers), content, url, error)
            hop.timings = trace.timings(ttfb_ms)
            return hop

    async def _fetch_robots(self, robots_url: str) -> tuple[int | None, bytes]:
        """GET robots.txt (no retries; up to five redirects); None when unreachable."""
        url = robots_url
        for _ in range(ROBOTS_MAX_REDIRECTS + 1):
            try:
                hop = await self._get(url, {}, ROBOTS_MAX_BYTES, truncate=True)
            except Exception:
                return None, b""
            location = hop.headers.get("location")
            if hop.status not in REDIRECT_STATUSES or not location:
                return hop.status, hop.content
            url = str(httpx2.URL(url).join(location))
        return None, b""


# --- helpers ---------------------------------------------------------------------------------


def _known(request: FetchRequest, content: bytes) -> bool:
    """The body is the one the request says was judged the document before."""
    return (
        request.known_sha256 is not None
        and hashlib.sha256(content).hexdigest() == request.known_sha256
    )


def _lower(headers: httpx2.Headers) -> dict[str, str]:
    merged: dict[str, str] = {}
    for name, value in headers.multi_items():
        key = name.lower()
        merged[key] = f"{merged[key]}, {value}" if key in merged else value
    return merged


def _url_problem(url: str) -> str | None:
    try:
        parsed = httpx2.URL(url)
    except httpx2.InvalidURL as exc:
        return f"invalid URL: {exc}"
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        return f"unsupported URL (http and https only): {url}"
    return None


def _conditional_headers(request: FetchRequest) -> dict[str, str]:
    headers = {}
    if request.etag:
        headers["if-none-match"] = request.etag
    if request.last_modified:
        headers["if-modified-since"] = request.last_modified
    return headers


async def _read_capped(
    response: httpx2.Response, max_bytes: int, *, truncate: bool = False
) -> tuple[bytes, str | None]:
    """The decoded body, or an error as soon as it grows past ``max_bytes`` (at most one
    network chunk is buffered beyond the cap, whatever Content-Length claims)."""
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > max_bytes:
        return b"", too_large(max_bytes, declared)
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            if truncate:
                return bytes(body[:max_bytes]), None
            return b"", too_large(max_bytes)
    return bytes(body), None


def _next_hop(url: str, location: str, visits: Counter[str], hops: int) -> tuple[str | None, str]:
    target = httpx2.URL(url).join(location.strip())
    if target.scheme not in {"http", "https"}:
        return f"redirect to an unsupported URL: {location}", url
    # A second visit is allowed: sites bounce through a cookie check and back.
    if visits[str(target)] >= 2:
        return f"redirect loop after {hops} redirects: {target}", url
    return None, str(target)


def _too_many(hops: int, max_redirects: int) -> str | None:
    return f"too many redirects (more than {max_redirects})" if hops > max_redirects else None


def _final_outcome(hop: _Hop, chain: list[Redirect]) -> _Outcome:
    outcome = _Outcome(
        final_url=hop.url,
        status=hop.status,
        headers=hop.headers,
        content=hop.content,
        chain=chain,
        timings=hop.timings,
        error=hop.error,
    )
    if hop.error is None and hop.status in RETRY_STATUSES and not _is_challenge(hop):
        outcome.retryable = True
        outcome.retry_after = parse_retry_after(hop.headers.get("retry-after"))
    return outcome


def _is_challenge(hop: _Hop) -> bool:
    """A 403/503 bot challenge will not go away by asking again at once."""
    reason = assess_response(hop.status, hop.headers, hop.content, hop.url)
    return reason in {BlockedReason.BOT_WALL, BlockedReason.CAPTCHA}


def _error_outcome(
    url: str, chain: list[Redirect], exc: Exception, timeout: float, deadline: float
) -> _Outcome:
    retryable = isinstance(
        exc, httpx2.TimeoutException | httpx2.NetworkError | httpx2.RemoteProtocolError
    )
    if isinstance(exc, httpx2.TimeoutException):
        message = f"timeout: {type(exc).__name__} (limit {timeout:g}s)"
    elif isinstance(exc, TimeoutError):
        message, retryable = f"timeout: no complete response within {deadline:g}s", True
    elif isinstance(exc, httpx2.RemoteProtocolError):
        message = f"protocol error (truncated or malformed response): {exc}"
    elif isinstance(exc, httpx2.HTTPError):
        message = f"{type(exc).__name__}: {exc}"
    else:
        message = f"internal error: {exc!r}"
    return _Outcome(url, chain=chain, error=message, retryable=retryable)
