"""A real HTTP server on 127.0.0.1 for capture and end-to-end tests.

It serves the real pages of ``shared/data/extraction`` under ``/pages/<service>/<terms type>/``
and a set of fault cases (slow, 5xx, 429, bot walls, captcha, cookie wall, login redirect,
truncated and oversized bodies, redirect chains and loops, per-render tokens, flip-flopping
banners, conditional GET, robots.txt, a page that needs JavaScript). Routes can be replaced or
added at runtime::

    with LoopbackServer() as server:
        server.route("/doc", Response(body="<p>hello</p>"))
        server.route("/flaky", fail_then(2, Response(status=503), Response(body="ok")))
        url = server.url("/doc")
        ...
        server.requests_for("/doc")[0].headers["user-agent"]

Every request is logged (method, path, query, lower-cased headers, monotonic arrival time and
the port it arrived on); ``max_in_flight`` counts concurrent requests across all listeners
(from arrival until the answer starts).
``add_listener()`` opens another port served by the same routes: a second "host" for the
per-host pacing and global concurrency tests.
"""

from __future__ import annotations

import itertools
import mimetypes
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EXTRACTION_DIR = SHARED_DATA / "extraction"


# --- requests and responses ---------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for another server or a refused one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    method: str
    path: str  # unquoted, without the query
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    port: int
    received_at: float  # time.monotonic(), comparable with the test process's clock


@dataclass
class Response:
    """What to answer. ``content_length`` overrides the header (a larger value + ``close``
    gives a truncated body); ``chunked`` streams without Content-Length."""

    status: int = 200
    body: bytes | str = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line: a slow server
    content_length: int | None = None
    chunked: bool = False
    chunk_size: int = 65_536
    close: bool = False  # close the connection after the body

    def body_bytes(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


Handler = Callable[[Request], Response]
Route = Response | Handler


def _resolve(route: Route, request: Request) -> Response:
    return route if isinstance(route, Response) else route(request)


# --- composable behaviours ----------------------------------------------------------------


def sequence(*routes: Route) -> Handler:
    """Successive requests get successive answers; the last one repeats."""
    lock = threading.Lock()
    counter = itertools.count()

    def handler(request: Request) -> Response:
        with lock:
            n = next(counter)
        return _resolve(routes[min(n, len(routes) - 1)], request)

    return handler


def fail_then(failures: int, failure: Route, success: Route) -> Handler:
    """``failure`` ``failures`` times, then ``success`` for good."""
    return sequence(*([failure] * failures), success)


def alternate(*routes: Route) -> Handler:
    """Cycle through the answers forever (A, B, A, B, ...)."""
    lock = threading.Lock()
    counter = itertools.count()

    def handler(request: Request) -> Response:
        with lock:
            n = next(counter)
        return _resolve(routes[n % len(routes)], request)

    return handler


def conditional(route: Route, *, etag: str | None, last_modified: str | None) -> Handler:
    """Add validators and answer 304 when If-None-Match / If-Modified-Since match."""

    def handler(request: Request) -> Response:
        candidates = {"etag": etag, "last-modified": last_modified}
        validators = {k: v for k, v in candidates.items() if v}
        if _not_modified(request, etag, last_modified):
            return Response(status=304, content_type=None, headers=validators)
        response = _resolve(route, request)
        return replace(response, headers={**response.headers, **validators})

    return handler


def _not_modified(request: Request, etag: str | None, last_modified: str | None) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:  # takes precedence over If-Modified-Since (RFC 9110)
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return etag is not None and ("*" in tags or etag.removeprefix("W/") in tags)
    since = request.headers.get("if-modified-since")
    if since and last_modified:
        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def when_user_agent(needle: str, matching: Route, otherwise: Route) -> Handler:
    """``matching`` when the User-Agent contains ``needle`` (e.g. "Chrome"), else ``otherwise``."""

    def handler(request: Request) -> Response:
        chosen = matching if needle in request.headers.get("user-agent", "") else otherwise
        return _resolve(chosen, request)

    return handler


def redirect(location: str, status: int = 302) -> Response:
    return Response(status=status, content_type=None, headers={"location": location})


def slow(route: Route, seconds: float) -> Handler:
    def handler(request: Request) -> Response:
        return replace(_resolve(route, request), delay=seconds)

    return handler


# --- page bodies ----------------------------------------------------------------------------

POLICY_TEXT = " ".join(
    f"<p>Section {i}. We may update these Terms from time to time. If we make material changes, "
    "we will notify you at least 30 days before they take effect. You can close your account at "
    "any time. We keep your data only as long as needed to provide the service.</p>"
    for i in range(1, 16)
)


def html_page(title: str, body: str, head: str = "") -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"{head}</head><body>{body}</body></html>"
    )


def policy_page(title: str = "Terms of Service", extra: str = "") -> str:
    return html_page(title, f"<main><h1>{title}</h1>{extra}{POLICY_TEXT}</main>")


CLOUDFLARE_403 = html_page(
    "Attention Required! | Cloudflare",
    '<div id="cf-wrapper"><div class="cf-alert"><h1 data-translate="block_headline">Sorry, you '
    'have been blocked</h1><h2 class="cf-subheadline">You are unable to access example.com</h2>'
    "<p>This website is using a security service to protect itself from online attacks.</p>"
    '<p>Cloudflare Ray ID: <strong class="font-semibold">8f2a1b3c4d5e6f70</strong></p></div></div>',
)

CLOUDFLARE_CHALLENGE = html_page(
    "Just a moment...",
    '<div class="main-wrapper" role="main"><div class="main-content"><h1>example.com</h1>'
    '<h2 id="challenge-running">Checking if the site connection is secure</h2>'
    '<noscript><div id="challenge-error-title">Enable JavaScript and cookies to continue</div>'
    "</noscript></div></div><script>(function(){window._cf_chl_opt={cvId: '3',cZone: "
    "'example.com',cType: 'managed'};var a = document.createElement('script');a.src = "
    "'/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray=8f2a';"
    "document.getElementsByTagName('head')[0].appendChild(a);}());</script>",
    head='<meta name="robots" content="noindex,nofollow">',
)

AKAMAI_DENIED = html_page(
    "Access Denied",
    "<h1>Access Denied</h1>You don't have permission to access "
    '"http&#58;&#47;&#47;www&#46;example&#46;com&#47;legal&#47;terms" on this server.<p>'
    "Reference&#32;&#35;18&#46;6f2d3b17&#46;1719999999&#46;4a5b6c7d</p>",
)

DATADOME_CHALLENGE = html_page(
    "example.com",
    "<p>Please enable JS and disable any ad blocker</p><script>var dd={'rt':'c','cid':'AHrlqA',"
    "'hsh':'2211F','t':'fe','host':'geo.captcha-delivery.com'}</script>"
    '<script src="https://ct.captcha-delivery.com/c.js"></script>',
)

RECAPTCHA_PAGE = html_page(
    "Security check",
    '<div class="wrap"><h1>Please verify you are human</h1><p>Complete the check below to '
    'continue to the site.</p><form method="post" action="/verify"><div class="g-recaptcha" '
    'data-sitekey="6Lc_aCMTAAAAABx7u2W0WPXnVbI_v6ZdbM6rYf16"></div><button>Continue</button>'
    '</form></div><script src="https://www.google.com/recaptcha/api.js" async defer></script>',
)

HCAPTCHA_PAGE = html_page(
    "One more step",
    "<h1>Are you a robot?</h1><p>Verify you are human by completing the action below.</p>"
    '<div class="h-captcha" data-sitekey="10000000-ffff-ffff-ffff-000000000001"></div>'
    '<script src="https://js.hcaptcha.com/1/api.js" async defer></script>',
)

COOKIE_WALL = html_page(
    "Example",
    '<div id="onetrust-consent-sdk"><div id="onetrust-banner-sdk" role="dialog" '
    'aria-modal="true" aria-label="Privacy"><h2>We value your privacy</h2><p>We and our '
    "partners use cookies and similar technologies to store and access information on your "
    "device, for personalised ads and content, ad and content measurement, audience insights "
    "and product development. With your permission we and our partners may use precise "
    "geolocation data. You can change your choices at any time in the privacy settings.</p>"
    '<button id="onetrust-accept-btn-handler">Accept all</button>'
    '<button id="onetrust-reject-all-handler">Reject all</button>'
    '<button class="ot-pc-link">Manage preferences</button></div></div>'
    '<div id="root"></div><script src="/app.js"></script>',
)

LOGIN_PAGE = html_page(
    "Sign in",
    '<main><h1>Sign in to your account</h1><form method="post" action="/session">'
    '<label>Email <input type="email" name="email"></label>'
    '<label>Password <input type="password" name="password"></label>'
    '<button type="submit">Sign in</button></form><a href="/forgot">Forgot password?</a></main>',
)

JS_PAGE = html_page(
    "Terms",
    '<div id="app"></div><noscript>You need to enable JavaScript to run this app.</noscript>'
    "<script>document.getElementById('app').innerHTML = '<h1>Terms rendered by script</h1>' + "
    "'<p>' + ['These terms were inserted by JavaScript.', 'Plain HTTP sees an empty shell.']"
    ".join(' ') + '</p>';</script>",
)

SOFT_404 = html_page(
    "Page not found | Example", "<h1>404</h1><p>Sorry, we couldn't find that page.</p>"
)

ERROR_500 = html_page("500 Internal Server Error", "<h1>Internal Server Error</h1>")

FRENCH_POLICY = html_page(
    "Conditions générales",
    "<h1>Conditions générales d'utilisation</h1>"
    + "<p>Les présentes conditions régissent l'accès au service. Données à caractère "
    "personnel : nous les conservons pendant la durée nécessaire.</p>" * 20,
)

SMART_QUOTES_POLICY = (
    "<html><head><title>Terms</title></head><body><h1>“Terms” – 2024</h1>"
    + "<p>The fee is €5 per month; we don’t sell your data… ever.</p>" * 30
    + "</body></html>"
)


def nonce_page(request: Request) -> Response:
    """Identical text, but a fresh UUID link, CSRF token and timestamp on every render."""
    token = uuid.uuid4()
    extra = (
        f'<a href="/account?session={token}">Account</a>'
        f'<form><input type="hidden" name="csrf_token" value="{uuid.uuid4().hex}"></form>'
        f"<footer>Page generated at {time.time():.6f}</footer>"
    )
    return Response(body=policy_page("Privacy Policy", extra))


FLIP_A = policy_page("Terms of Service", '<div class="banner">Try our new app!</div>')
FLIP_B = policy_page("Terms of Service", '<div class="banner">Black Friday: 50% off</div>')

LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)
ETAG = '"v1-abc123"'


# --- routes ---------------------------------------------------------------------------------


def real_page_paths() -> list[str]:
    """URL paths of every real page in shared/data/extraction (quoted)."""
    return [
        "/pages/" + quote(p.relative_to(EXTRACTION_DIR).as_posix())
        for p in sorted(EXTRACTION_DIR.glob("*/*/source-*.*"))
        if p.suffix in {".html", ".pdf"}
    ]


def _real_page(request: Request) -> Response:
    relative = request.path.removeprefix("/pages/")
    path = (EXTRACTION_DIR / relative).resolve()
    if not path.is_relative_to(EXTRACTION_DIR) or not path.is_file():
        return Response(status=404, body="not found", content_type="text/plain")
    ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    ctype = f"{ctype}; charset=utf-8" if ctype == "text/html" else ctype
    return Response(body=path.read_bytes(), content_type=ctype)


def _status(request: Request) -> Response:
    code = int(request.path.rsplit("/", 1)[1])
    headers = {}
    if "retry_after" in request.query:
        headers["retry-after"] = request.query["retry_after"]
    body = ERROR_500 if code >= 500 else html_page(f"Error {code}", f"<h1>Error {code}</h1>")
    return Response(status=code, body=body, headers=headers)


def _flaky_handler() -> Handler:
    """``/flaky/<n>``: 503 (or ``?status=``) n times per distinct URL, then a policy page."""
    lock = threading.Lock()
    seen: dict[str, int] = {}

    def handler(request: Request) -> Response:
        key = request.path + "?" + "&".join(f"{k}={v}" for k, v in sorted(request.query.items()))
        with lock:
            seen[key] = n = seen.get(key, 0) + 1
        if n <= int(request.path.rsplit("/", 1)[1]):
            return _status(replace(request, path=f"/status/{request.query.get('status', 503)}"))
        return Response(body=policy_page())

    return handler


def _slow(request: Request) -> Response:
    return Response(body=policy_page(), delay=float(request.query.get("delay", "5")))


def _oversized(request: Request) -> Response:
    size = int(request.query.get("bytes", str(2 * 1024 * 1024)))
    body = (b"<p>" + b"x" * 1020 + b"</p>") * (size // 1027 + 1)
    declared = request.path.endswith("/declared")
    return Response(body=body[:size], chunked=not declared)


def _many_redirects(request: Request) -> Response:
    n = int(request.path.rsplit("/", 1)[1])
    return redirect("/ok" if n <= 0 else f"/redirect/many/{n - 1}")


def default_routes() -> tuple[dict[str, Route], dict[str, Handler]]:
    """Fresh (stateless) exact routes and prefix routes."""
    exact: dict[str, Route] = {
        "/robots.txt": Response(
            body="User-agent: *\nDisallow: /private/\n\nUser-agent: BadBot\nDisallow: /\n",
            content_type="text/plain",
        ),
        "/ok": Response(body=policy_page()),
        "/private/doc": Response(body=policy_page("Private")),
        "/pdf": _real_page(
            Request("GET", "/pages/ChatGPT/Law Enforcement Guidelines/source-0.pdf", {}, {}, 0, 0)
        ),
        "/json": Response(body='{"terms": "see website"}', content_type="application/json"),
        "/bot-wall": Response(status=403, body=CLOUDFLARE_403),
        "/bot-wall/challenge": Response(
            status=503, body=CLOUDFLARE_CHALLENGE, headers={"cf-mitigated": "challenge"}
        ),
        "/bot-wall/challenge-200": Response(body=CLOUDFLARE_CHALLENGE),
        "/bot-wall/akamai": Response(status=403, body=AKAMAI_DENIED),
        "/bot-wall/datadome": Response(
            status=403, body=DATADOME_CHALLENGE, headers={"x-datadome": "protected"}
        ),
        "/captcha": Response(body=RECAPTCHA_PAGE),
        "/captcha/hcaptcha": Response(body=HCAPTCHA_PAGE),
        "/cookie-wall": Response(body=COOKIE_WALL),
        "/login-redirect": redirect("/login?next=/account/terms"),
        "/login": Response(body=LOGIN_PAGE),
        "/empty": Response(body=b""),
        "/soft-404": Response(body=SOFT_404),
        "/truncated": Response(body=policy_page()[:400], content_length=10_000, close=True),
        "/charset/latin1-as-utf8": Response(body=FRENCH_POLICY.encode("latin-1")),
        "/charset/cp1252-no-charset": Response(
            body=SMART_QUOTES_POLICY.encode("cp1252"), content_type="text/html"
        ),
        "/redirect/chain": redirect("/redirect/chain/2", 301),
        "/redirect/chain/2": redirect("/redirect/chain/3", 302),
        "/redirect/chain/3": redirect("/ok", 307),
        "/redirect/loop": redirect("/redirect/loop/b"),
        "/redirect/loop/b": redirect("/redirect/loop"),
        "/nonce": nonce_page,
        "/flip-flop": alternate(Response(body=FLIP_A), Response(body=FLIP_B)),
        "/conditional": conditional(
            Response(body=policy_page("Cookie Policy")), etag=ETAG, last_modified=LAST_MODIFIED
        ),
        "/conditional/last-modified": conditional(
            Response(body=policy_page("Cookie Policy")), etag=None, last_modified=LAST_MODIFIED
        ),
        "/js-page": Response(body=JS_PAGE),
        "/ua-wall": when_user_agent(
            "Chrome",
            Response(body=policy_page("Terms behind a bot wall")),
            Response(status=403, body=CLOUDFLARE_403),
        ),
    }
    prefixes: dict[str, Handler] = {
        "/pages/": _real_page,
        "/status/": _status,
        "/flaky/": _flaky_handler(),
        "/slow": _slow,
        "/oversized": _oversized,
        "/redirect/many/": _many_redirects,
    }
    return exact, prefixes


# Documented list of the built-in fault paths, for other engineers and docs/capture.md.
FAULT_PATHS: dict[str, str] = {
    "/ok": "a plain policy page",
    "/slow?delay=S": "answers after S seconds (default 5)",
    "/status/<code>[?retry_after=N]": "that status with an error page, optional Retry-After",
    "/flaky/<n>[?status=503&retry_after=N]": "fails n times (per distinct URL), then 200",
    "/bot-wall": "403 Cloudflare 'Attention Required'",
    "/bot-wall/challenge": "503 Cloudflare 'Just a moment...' (cf-chl)",
    "/bot-wall/challenge-200": "the same challenge page with a 200",
    "/bot-wall/akamai": "403 Akamai 'Access Denied … Reference #'",
    "/bot-wall/datadome": "403 DataDome captcha-delivery page",
    "/captcha": "200 reCAPTCHA 'verify you are human'",
    "/captcha/hcaptcha": "200 hCaptcha 'are you a robot'",
    "/cookie-wall": "200 page whose body is only a consent dialog",
    "/login-redirect": "302 to /login (a sign-in form)",
    "/empty": "200 with an empty body",
    "/soft-404": "200 'Page not found'",
    "/truncated": "Content-Length 10000, 400 bytes sent, connection closed",
    "/charset/latin1-as-utf8": "latin-1 bytes declared as utf-8",
    "/charset/cp1252-no-charset": "cp1252 bytes, text/html without charset",
    "/oversized?bytes=N": "N bytes (default 2 MiB), chunked",
    "/oversized/declared?bytes=N": "N bytes with Content-Length",
    "/redirect/chain": "301 → 302 → 307 → /ok",
    "/redirect/loop": "/redirect/loop ⇄ /redirect/loop/b",
    "/redirect/many/<n>": "n redirects, then /ok",
    "/nonce": "same text, fresh UUID link / CSRF input / 'generated at' each request",
    "/flip-flop": "alternates between two banner variants",
    "/conditional": "ETag + Last-Modified, 304 on a match",
    "/conditional/last-modified": "Last-Modified only",
    "/robots.txt": "Disallow: /private/ for *, everything for BadBot",
    "/private/doc": "a page disallowed by robots.txt",
    "/js-page": "content inserted by a script; plain HTTP sees an empty shell",
    "/ua-wall": "403 bot wall unless the User-Agent contains 'Chrome'",
    "/json": "application/json",
    "/pdf": "a real PDF",
    "/pages/<service>/<terms type>/source-N.(html|pdf)": "the real pages of shared/data",
}


# --- the server -------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a truncated body is really truncated
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: _Listener

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def _serve(self, *, send_body: bool) -> None:
        owner = self.server.owner
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=unquote(parts.path),
            query=dict(parse_qsl(parts.query)),
            headers={k.lower(): v for k, v in self.headers.items()},
            port=self.server.server_address[1],
            received_at=time.monotonic(),
        )
        epoch = owner._enter(request)
        answering = False
        try:
            response = owner.resolve(request)
            if response.delay:
                time.sleep(response.delay)
            # In flight until the answer starts: a client may send its next request as soon as
            # it has read this one, before this thread would get to count it done.
            owner._leave(epoch)
            answering = True
            self._write(response, send_body=send_body)
        except OSError:  # the client gave up (timeout, size cap): nothing to answer
            self.close_connection = True
        finally:
            if not answering:
                owner._leave(epoch)

    def _write(self, response: Response, *, send_body: bool) -> None:
        body = response.body_bytes()
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif response.status != 304:
            length = response.content_length if response.content_length is not None else len(body)
            self.send_header("Content-Length", str(length))
        if response.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if send_body and response.status != 304:
            self._write_body(response, body)

    def _write_body(self, response: Response, body: bytes) -> None:
        if not response.chunked:
            self.wfile.write(body)
            return
        for start in range(0, len(body), response.chunk_size):
            chunk = body[start : start + response.chunk_size]
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


class _Listener(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: LoopbackServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hanging up (timeouts, size caps, keep-alive closes) are expected here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class LoopbackServer:
    """Threaded HTTP server(s) on 127.0.0.1 sharing one route table and request log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[tuple[_Listener, threading.Thread]] = []
        self._exact, self._prefixes = default_routes()
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        # Zeroing the counters starts a new epoch: a handler of an earlier test that is still
        # sleeping (its client timed out) must not count itself out of the new test's figures,
        # or two requests in flight read as one.
        self._epoch = 0

    # lifecycle

    def start(self) -> LoopbackServer:
        if not self._listeners:
            self.add_listener()
        return self

    def stop(self) -> None:
        for listener, thread in self._listeners:
            listener.shutdown()
            listener.server_close()
            thread.join(timeout=5)
        self._listeners.clear()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_listener(self) -> str:
        """Open another port served by the same routes; returns its base URL."""
        listener = _Listener(self)
        thread = threading.Thread(
            target=listener.serve_forever, args=(0.05,), daemon=True, name="loopback"
        )
        thread.start()
        self._listeners.append((listener, thread))
        return f"http://127.0.0.1:{listener.server_address[1]}"

    def reset(self) -> None:
        """Default routes, an empty log, zeroed counters and only the first listener."""
        for listener, thread in self._listeners[1:]:
            listener.shutdown()
            listener.server_close()
            thread.join(timeout=5)
        del self._listeners[1:]
        with self._lock:
            self._exact, self._prefixes = default_routes()
            self.requests.clear()
            self._zero_counters()

    # addresses

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listeners[0][0].server_address[1]}"

    @property
    def port(self) -> int:
        return self._listeners[0][0].server_address[1]

    def url(self, path: str, base_url: str | None = None) -> str:
        return (base_url or self.base_url) + path

    # routes

    def route(self, path: str, route: Route) -> None:
        """Serve ``route`` (a Response, or a function of the Request) at exactly ``path``."""
        with self._lock:
            self._exact[path] = route

    def route_prefix(self, prefix: str, handler: Handler) -> None:
        with self._lock:
            self._prefixes[prefix] = handler

    def unroute(self, path: str) -> None:
        with self._lock:
            self._exact.pop(path, None)
            self._prefixes.pop(path, None)

    def resolve(self, request: Request) -> Response:
        with self._lock:
            route: Route | None = self._exact.get(request.path)
            if route is None:
                matches = [p for p in self._prefixes if request.path.startswith(p)]
                route = self._prefixes[max(matches, key=len)] if matches else None
        if route is None:
            return Response(status=404, body="not found", content_type="text/plain")
        return _resolve(route, request)

    # request log

    def requests_for(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self._zero_counters()

    def _zero_counters(self) -> None:  # under self._lock
        self.in_flight = self.max_in_flight = 0
        self._epoch += 1

    def _enter(self, request: Request) -> int:
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self._epoch

    def _leave(self, epoch: int) -> None:
        with self._lock:
            if epoch == self._epoch:
                self.in_flight -= 1


def serve() -> Iterator[LoopbackServer]:
    """Generator form, for pytest fixtures: ``yield from serve()``."""
    with LoopbackServer() as server:
        yield server
