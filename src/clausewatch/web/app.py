"""The FastAPI application: one archive for the app's lifetime, security headers on every
response, JSON errors under `/api/`, friendly HTML errors elsewhere."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar

from anyio import to_thread
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from starlette.datastructures import URL
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount, NoMatchFound
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clausewatch import __version__
from clausewatch.archive.service import Archive
from clausewatch.config import Settings

HERE = Path(__file__).parent
API_PREFIX = "/api/v1"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=HERE / "templates")
    env = templates.env
    env.autoescape = True  # every template, whatever its extension
    from clausewatch.web import filters

    env.filters.update(filters.FILTERS)
    env.globals["clausewatch_version"] = __version__  # not "version": the version page has one
    env.globals["url_for"] = _url_for
    return templates


_URL_ROUTES: dict[tuple[int, str, frozenset[str]], Any] = {}


@pass_context
def _url_for(context: dict[str, Any], name: str, /, **path_params: Any) -> URL:
    """Starlette's ``url_for`` with the route lookup memoised per route name and parameter
    names (not values: a cold page links other provisions, each once), so a link costs one
    route's path formatting instead of a walk over every route (issue #13)."""
    request: Request = context["request"]
    router = request.scope["router"]
    key = (id(router), name, frozenset(path_params))
    route = _URL_ROUTES.get(key)
    if route is None:
        route = _route_building(router.routes, name, path_params)
        _URL_ROUTES[key] = route
    path = route.url_path_for(name, **path_params)
    # relative to the site (never built from the Host header, which the client chooses and a
    # cached page would pass on to everyone); absolute URLs use settings.base_url
    return URL(str(request.scope.get("root_path", "")).rstrip("/") + str(path))


def _route_building(routes: Iterable[Any], name: str, path_params: dict[str, Any]) -> Any:
    """The first route (the router's own order) that builds the URL named ``name``; inside an
    included router, its own route, so later calls skip the router's walk. Raises Starlette's
    ``NoMatchFound``, as ``url_path_for`` does, when none does."""
    for route in routes:
        try:
            route.url_path_for(name, **path_params)
        except NoMatchFound:
            continue
        inner = getattr(route, "effective_route_contexts", None)  # FastAPI's included router
        return _route_building(inner(), name, path_params) if inner else route
    raise NoMatchFound(name, path_params)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _error_json(
    status: int, message: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"error": {"status": status, "message": message, **extra}}
    return JSONResponse(body, status, headers=headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request, given: str | None) -> str:
    """Every method the path answers to. The router's own Allow names only the first route
    that matches the path, and a path may have several (GET and POST /unsubscribe/{token});
    the static files (a mount) answer GET and HEAD."""
    allowed = []
    for method in _METHODS:
        scope = {**_BARE_SCOPE, "path": request.scope["path"], "method": method}
        routes = request.app.router.routes
        if any(not isinstance(r, Mount) and r.matches(scope)[0] == Match.FULL for r in routes):
            allowed.append(method)
    return ", ".join(allowed) or given or "GET, HEAD"


_BARE_SCOPE: dict[str, Any] = {"type": "http", "root_path": "", "headers": [], "query_string": b""}


def _describe(errors: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        where = loc[0] if loc else "request"
        name = ".".join(loc[1:]) or where
        details.append({"parameter": name, "in": where, "message": err.get("msg", "invalid")})
    message = "; ".join(f"{d['in']} parameter {d['parameter']!r}: {d['message']}" for d in details)
    return message or "invalid request", details


class SecurityHeaders:
    """:data:`SECURITY_HEADERS` on every response that does not set its own. Plain ASGI: the
    ``@app.middleware`` form (Starlette's ``BaseHTTPMiddleware``) ran each request through a
    task and a memory stream (issue #13)."""

    _HEADERS: ClassVar[list[tuple[bytes, bytes]]] = [
        (k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in self._HEADERS if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeadAsGet:
    """A ``HEAD`` answered as the ``GET`` of the same URL without its body (RFC 9110 §9.3.2):
    FastAPI's routes declare ``GET`` only, so a ``HEAD`` that the response cache could not
    answer got 405. Outermost, so every layer inside (the cache, its tags) sees a ``GET``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)


class BodyTooLarge(StarletteHTTPException):
    """A request body over ``Settings.max_request_bytes`` (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"request body too large: at most {limit:,} bytes",
            headers={"Connection": "close"},  # the rest of the body is never read
        )


class BodySizeLimit:
    """Refuse request bodies over ``limit`` bytes with 413, before they are read: at once when
    the declared Content-Length is over it, and for a chunked (or understated) body as soon as
    the bytes received pass it, while the app reads them. The app never holds more than
    ``limit`` bytes of a body, whatever the route does with it (form, JSON, nothing)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # answered here, at once (an exception raised to the app would reach its
                    # handlers wrapped by the middleware's task groups); the app is then told
                    # the client left, and whatever it answers is dropped
                    refused = True
                    if not started:
                        await self._refuse(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        exc = BodyTooLarge(self.limit)
        # answered before the router has seen the request: the page's links need it
        request = Request({**scope, "router": scope["app"].router})
        response: Response
        if _is_api(request):
            response = _error_json(413, str(exc.detail), exc.headers)
        else:
            response = render_error(request, 413, str(exc.detail), headers=exc.headers)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        await response(scope, receive, send)


def web_threads(archive: Archive) -> int:
    """The worker threads of a server process: ``Settings.web_threads``, else 4 on SQLite and 16
    on PostgreSQL (measured: docs/benchmarks.md § HTTP load)."""
    chosen = archive.settings.web_threads
    if chosen is not None:
        return chosen
    return 16 if archive.engine.dialect.name == "postgresql" else 4


def create_worker_app() -> FastAPI:
    """The app of one `clausewatch serve --workers N` process: settings from the environment,
    schema already migrated by the parent."""
    return create_app(Settings(), migrate=False)


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    settings = settings or Settings()
    archive = Archive.open(settings, migrate=migrate)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # sync routes run on anyio's worker threads (40 by default): a few, so that a burst is
        # worked through in order instead of 40 threads taking turns at the GIL (issue #13)
        to_thread.current_default_thread_limiter().total_tokens = web_threads(archive)
        yield
        from clausewatch.web.exports import close_render_pool

        close_render_pool(app.state)
        app.state.archive_state.close()
        archive.close()

    app = FastAPI(
        title="clausewatch API",
        version=__version__,
        description="Platform governance documents, their versions, provisions, change records "
        "and analysis. Every list is paginated with `limit`/`offset` and returns `total`.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        # FastAPI's docs pages load their scripts and styles from a CDN: off, so the site
        # works offline and keeps its Content-Security-Policy; openapi.json stays.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.archive = archive
    app.state.templates = _templates()

    app.add_middleware(SecurityHeaders)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # the exception's headers are part of the answer: Retry-After on a 503, Allow on a 405
        message, headers = str(exc.detail), exc.headers
        if exc.status_code == 405:
            allow = _allowed_methods(request, (headers or {}).get("Allow"))
            headers = {**(headers or {}), "Allow": allow}
        if _is_api(request):
            return _error_json(exc.status_code, message, headers)
        return render_error(request, exc.status_code, message, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        message, details = _describe(list(exc.errors()))
        if any(detail["in"] == "path" for detail in details):
            # a path that names no record, e.g. a row number out of range (deps.RowId): 404
            message = f"no such record: {message}"
            if _is_api(request):
                return _error_json(404, message)
            return render_error(request, 404, message)
        if _is_api(request):
            return _error_json(422, message, details=details)
        return render_error(request, 422, message)

    # the routers import this module's helpers, hence imported here, not at the top
    from clausewatch.web import accounts, search, watch
    from clausewatch.web.api import router as api_router
    from clausewatch.web.exports import router as exports_router
    from clausewatch.web.pages import router as pages_router

    app.include_router(api_router, prefix=API_PREFIX)
    app.include_router(exports_router)  # before the pages: /provisions/{id}.pdf
    app.include_router(pages_router)
    app.include_router(search.api_router, prefix=API_PREFIX)
    app.include_router(search.page_router)
    accounts.install(app)  # /signup, /login, /account, /reset, /api/v1/me; auth dependencies
    watch.install(app)  # /feeds/…, /unsubscribe/…, /account/watches, /api/v1/watches
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # outermost: a cached response or a 304 skips every other layer (docs/web.md#http-caching)
    from clausewatch.web.httpcache import (
        ArchiveStateReader,
        HttpCacheMiddleware,
        ResponseCache,
        code_token,
    )

    app.state.archive_state = ArchiveStateReader(
        archive.engine, checks_interval=float(settings.http_cache_seconds)
    )
    app.state.response_cache = ResponseCache(
        settings.response_cache_mb * 1024 * 1024, ttl=float(settings.http_cache_seconds)
    )
    app.add_middleware(
        HttpCacheMiddleware,
        state=app.state.archive_state,
        cache=app.state.response_cache,
        code=code_token(HERE / "templates"),
        max_age=settings.http_cache_seconds,
    )
    # outside even the cache: no layer reads more of a body than max_request_bytes
    app.add_middleware(BodySizeLimit, limit=settings.max_request_bytes)
    app.add_middleware(HeadAsGet)
    return app


def render_error(
    request: Request, status: int, message: str, *, headers: Mapping[str, str] | None = None
) -> Response:
    titles = {
        404: "Not found",
        422: "Invalid request",
        400: "Bad request",
        413: "Request too large",
        500: "Archive damaged",
    }
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "title": titles.get(status, "Error"), "message": message},
        status_code=status,
        headers=headers,
    )
