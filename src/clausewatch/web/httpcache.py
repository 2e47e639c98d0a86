"""HTTP caching of anonymous reads (docs/web.md#http-caching).

An outer ASGI middleware. For an anonymous ``GET`` (a ``HEAD`` reaches it as a ``GET`` whose
body is dropped: ``web.app.HeadAsGet``) of a public route (no
``cw_session`` cookie, no ``Authorization`` or ``X-API-Key`` header, not an account, watch or
export path) it:

- derives a weak ``ETag`` from the archive state (``archive_state.generation``, bumped in the
  same transaction as every new version, import, provision build and analysis, and its
  ``checks``, bumped by capture checks and taken in at most once per ``max-age``), the UTC
  day (pages carry "accessed" dates and "last 30 days" counts), the code (package version and
  templates) and the request URL (scheme, host, path, query), and answers ``304 Not
  Modified`` to a matching ``If-None-Match`` (or a ``If-Modified-Since`` not older than the
  state's ``changed_at`` or checks' ``checked_at``) without running the route;
- adds ``Cache-Control: public, max-age=N`` (``Settings.http_cache_seconds``), ``ETag``,
  ``Last-Modified`` (the later of those two times) and, for pages, ``Vary: Cookie`` (a
  signed-in visitor sees other header links);
- keeps the rendered ``200`` responses in a bounded in-process LRU keyed by (state, day, URL),
  each entry at most N seconds old, so a repeated read is a dictionary lookup.

A response is tagged and kept only when the route set no ``Cache-Control`` of its own and no
cookie. Requests with credentials bypass all of it, and their responses are marked
``Cache-Control: private, no-store`` when the route said nothing.

The state is read at most every ``interval`` seconds (0.2 s) per process, and at once after this
process committed a change: a change of content reaches every page of every worker within 0.2 s,
a capture check within 0.2 s after a quiet ``max-age``, else within ``max-age``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clausewatch import __version__
from clausewatch.storage.db import ArchiveStateRow, local_commits, make_engine, read_state

PRIVATE_PREFIXES = (
    "/account",
    "/login",
    "/logout",
    "/signup",
    "/reset",
    "/unsubscribe",
    "/exports/",
    "/static/",  # StaticFiles sends its own ETag and Last-Modified
    "/api/v1/me",
    "/api/v1/watches",
    "/api/v1/webhooks",
    "/api/v1/deliveries",
)
CREDENTIAL_HEADERS = (b"authorization", b"x-api-key")
SESSION_COOKIE = b"cw_session"
MAX_ENTRY_BYTES = 4 * 1024 * 1024


@dataclass
class Entry:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    stored: float  # time.monotonic()


def code_token(template_dir: Path) -> str:
    """What the rendered bytes depend on besides the data: the package version and the
    templates and static files (a deploy that changes them changes every ETag)."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(template_dir.parent.rglob("*")):
        if path.suffix in (".html", ".css", ".py") and path.is_file():
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


class ArchiveStateReader:
    """The archive state, re-read at most every ``interval`` seconds, as the pair (token,
    last modified) that tags and keys responses. Capture checks (the state's ``checks``) are
    taken into the token at most once per ``checks_interval`` seconds (the ``max-age`` a proxy
    may keep a page anyway), or at once with a content change: a capture cycle recording
    unchanged documents then renews the cached pages once a minute, not on every batch, and a
    lone check after a quiet minute shows within ``interval``."""

    def __init__(
        self, engine: Engine, interval: float = 0.2, checks_interval: float = 60.0
    ) -> None:
        # a connection of its own, outside the routes' pool: the read runs on the event loop
        # and must never wait for a pooled connection held by a busy route
        self.engine = make_engine(
            engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0
        )
        self.interval = interval
        self.checks_interval = checks_interval
        self._value: tuple[str, dt.datetime] | None = None
        self._taken: ArchiveStateRow | None = None  # the state whose checks the token holds
        self._taken_at = -math.inf  # when the token's checks last moved
        self._read_at = 0.0
        self._commits = -1
        self._lock = threading.Lock()

    def get(self) -> tuple[str, dt.datetime]:
        if self._stale():
            with self._lock:
                if self._stale():
                    self._commits = local_commits()
                    self._value = self._token(read_state(self.engine))
                    self._read_at = time.monotonic()
        assert self._value is not None
        return self._value

    def _token(self, state: ArchiveStateRow) -> tuple[str, dt.datetime]:
        taken, now = self._taken, time.monotonic()
        if taken is not None and taken.checks != state.checks:
            if taken.generation == state.generation and now - self._taken_at < self.checks_interval:
                state = taken  # checks alone moved, and the token's checks are recent: keep them
            else:
                self._taken_at = now
        self._taken = state
        modified = _utc(state.changed_at)
        if state.checked_at is not None:
            modified = max(modified, _utc(state.checked_at))
        return f"{state.generation}.{state.checks}", modified

    def close(self) -> None:
        self.engine.dispose()

    def _stale(self) -> bool:
        return (
            self._value is None
            or self._commits != local_commits()  # this process wrote: no waiting
            or time.monotonic() - self._read_at >= self.interval
        )


def _utc(when: dt.datetime) -> dt.datetime:
    # PostgreSQL gives the stored time in the session's zone, SQLite a naive UTC time
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


class ResponseCache:
    """A bounded LRU of rendered responses (by bytes), each valid for ``ttl`` seconds."""

    def __init__(self, max_bytes: int, ttl: float) -> None:
        self.max_bytes = max_bytes
        self.ttl = ttl
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and time.monotonic() - entry.stored < self.ttl:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry
            if entry is not None:
                self._drop(key)
            self.misses += 1
            return None

    def put(self, key: str, entry: Entry) -> None:
        cost = len(entry.body) + 512
        if cost > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = entry
            self.size += cost
            while self.size > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.size = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self.size -= len(entry.body) + 512


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _has_credentials(scope: Scope) -> bool:
    for key, value in scope["headers"]:
        if key in CREDENTIAL_HEADERS:
            return True
        if key == b"cookie" and SESSION_COOKIE in value:
            return True
    return False


def _etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    wanted = etag.removeprefix(b"W/")
    for tag in if_none_match.split(b","):
        tag = tag.strip()
        if tag == b"*" or tag.removeprefix(b"W/") == wanted:
            return True
    return False


class HttpCacheMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        state: ArchiveStateReader,
        cache: ResponseCache,
        code: str,
        max_age: int = 60,
    ) -> None:
        self.app = app
        self.code = code
        self.max_age = max_age
        self.state = state
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if _has_credentials(scope):
            await self.app(scope, receive, _marking_private(send))
            return
        if path.startswith(PRIVATE_PREFIXES) or self.max_age <= 0:
            await self.app(scope, receive, send)
            return
        state, changed_at = self.state.get()
        today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        day = f"{today:%Y-%m-%d}"
        # the representation also depends on the day ("accessed" dates, "last 30 days")
        changed_at = max(changed_at.replace(microsecond=0), today)
        host = (_header(scope, b"host") or b"").decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{path}?{query}"
        key = f"{state}|{day}|{self.code}|{url}"
        etag = b'W/"' + hashlib.sha256(key.encode()).hexdigest()[:24].encode() + b'"'
        page = not path.startswith("/api/")
        tags = [
            (b"cache-control", f"public, max-age={self.max_age}".encode()),
            (b"etag", etag),
            (b"last-modified", format_datetime(changed_at, usegmt=True).encode()),
        ]
        if page:
            tags.append((b"vary", b"Cookie"))
        if self._not_modified(scope, etag, changed_at):
            await send({"type": "http.response.start", "status": 304, "headers": tags})
            await send({"type": "http.response.body", "body": b""})
            return
        entry = self.cache.get(key)
        if entry is not None:
            await send(
                {"type": "http.response.start", "status": entry.status, "headers": entry.headers}
            )
            await send({"type": "http.response.body", "body": entry.body})
            return
        await self.app(scope, receive, self._storing(send, key, tags))

    def _not_modified(self, scope: Scope, etag: bytes, changed_at: Any) -> bool:
        if_none_match = _header(scope, b"if-none-match")
        if if_none_match is not None:
            return _etag_matches(if_none_match, etag)
        since = _header(scope, b"if-modified-since")
        if since is None:
            return False
        try:
            when = parsedate_to_datetime(since.decode("latin-1"))
        except (TypeError, ValueError):
            return False
        return when.tzinfo is not None and changed_at <= when

    def _storing(self, send: Send, key: str, tags: list[tuple[bytes, bytes]]) -> Send:
        state: dict[str, Any] = {"keep": False, "chunks": [], "size": 0}

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if (
                    message["status"] == 200
                    and b"set-cookie" not in names
                    and b"cache-control" not in names
                ):
                    headers += tags
                    message = {**message, "headers": headers}
                    state.update(keep=True, status=200, headers=headers)
            elif message["type"] == "http.response.body" and state["keep"]:
                body = message.get("body", b"")
                state["size"] += len(body)
                if state["size"] > MAX_ENTRY_BYTES:
                    state.update(keep=False, chunks=[])
                else:
                    state["chunks"].append(body)
                    if not message.get("more_body", False):
                        self.cache.put(
                            key,
                            Entry(
                                200, state["headers"], b"".join(state["chunks"]), time.monotonic()
                            ),
                        )
            await send(message)

        return wrapped


def _marking_private(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(k.lower() == b"cache-control" for k, _ in headers):
                message = {
                    **message,
                    "headers": [*headers, (b"cache-control", b"private, no-store")],
                }
        await send(message)

    return wrapped
