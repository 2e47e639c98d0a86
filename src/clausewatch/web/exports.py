"""PDF versions of the provision, document and change pages (WeasyPrint), and bulk downloads.

A PDF is the page itself: the page route renders its template with its usual context, and
WeasyPrint lays that HTML out with ``static/print.css`` added. Templates autoescape, so archived
text reaches WeasyPrint as text, and WeasyPrint runs no scripts. It fetches nothing from the
network: :class:`StaticOnlyFetcher` serves the site's own ``/static/`` files from disk and refuses
every other URL (http, https, file, data...).

Layout is CPU-bound and slow, so the PDF routes are ``async``: they build the page's HTML on a
worker thread, then look the PDF up in a disk cache keyed by a hash of that HTML, the renderer's
version and the static files (:class:`PdfCache`, ``<data_dir>/pdf-cache``, at most
``Settings.pdf_cache_mb``). :class:`PdfGate` admits at most ``pdf_renders + pdf_queue`` PDF
requests at all (building the HTML costs as much as the page); only a miss is laid out, at most
``Settings.pdf_renders`` at once per server process, in as many render processes started at a
lower CPU priority (:func:`render`), and at most ``Settings.pdf_queue`` wait (on the event loop,
holding no thread) for up to ``Settings.pdf_queue_seconds``; any other request gets 429 with
``Retry-After`` at once. So a burst of PDF requests holds neither the threads nor the GIL nor
the CPU the other routes run on (docs/security.md#resource-limits). The response cache of
anonymous reads (``httpcache``) does not keep PDFs: they carry their own ``Cache-Control`` and
``ETag``.

Bulk downloads (``/exports``) are generated on request into a temporary folder by
:mod:`clausewatch.exports`, streamed, and deleted; one at a time (a second request while one is
being generated gets 503 with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio
import anyio.to_thread
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.background import BackgroundTask

from clausewatch import exports
from clausewatch.web.deps import ArchiveDep

STATIC = Path(__file__).parent / "static"
PRINT_CSS = "print.css"

router = APIRouter(include_in_schema=False)

_export_lock = threading.Lock()
PDF_RENDERER = "1"  # bump when pdf_from_html changes what it makes of the same HTML


def _fetcher_base() -> type:
    from weasyprint.urls import URLFetcher

    return URLFetcher


class FetchRefused(ValueError):
    """WeasyPrint asked for a URL that is not one of our static files."""


def static_path(url: str, base_url: str) -> Path:
    """The file under ``static/`` that ``url`` names, or :class:`FetchRefused`. Only URLs on
    ``base_url``'s origin whose path is ``/static/<file>`` qualify, and the file must be inside
    the static folder (no ``..``, no symlinks out)."""
    parts, base = urlsplit(url), urlsplit(base_url)
    if parts.scheme not in ("http", "https") or (parts.scheme, parts.netloc) != (
        base.scheme,
        base.netloc,
    ):
        raise FetchRefused(f"refused to fetch {url!r}: not one of this site's static files")
    path = unquote(parts.path)
    if not path.startswith("/static/"):
        raise FetchRefused(f"refused to fetch {url!r}: not under /static/")
    root = STATIC.resolve()
    target = (root / path.removeprefix("/static/")).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise FetchRefused(f"refused to fetch {url!r}: no such static file")
    return target


def make_fetcher(base_url: str) -> Any:
    """A WeasyPrint URL fetcher that serves our static files and refuses everything else."""
    from weasyprint.urls import URLFetcherResponse

    class StaticOnlyFetcher(_fetcher_base()):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            target = static_path(url, base_url)
            media = {".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}
            return URLFetcherResponse(
                url,
                target.read_bytes(),
                {"Content-Type": media.get(target.suffix, "application/octet-stream")},
            )

    return StaticOnlyFetcher(allowed_protocols=("http", "https"))


def pdf_from_html(html: str, base_url: str) -> bytes:
    """Lay out one of our pages as PDF with the print stylesheet, fetching only static files."""
    from weasyprint import HTML

    # An author stylesheet after style.css (stylesheets given to write_pdf are user styles,
    # which the site's own author styles would override).
    link = f'<link rel="stylesheet" href="{base_url.rstrip("/")}/static/{PRINT_CSS}">'
    html = html.replace("</head>", f"{link}\n</head>", 1)
    document = HTML(
        string=html, base_url=base_url, url_fetcher=make_fetcher(base_url), media_type="print"
    )
    pdf: bytes = document.write_pdf()
    return pdf


class PdfBusy(Exception):
    """No render slot now, and no room (or no time) to wait for one."""


class PdfGate:
    """At most ``slots`` renders at once and at most ``queue`` requests waiting for a slot, for
    at most ``wait`` seconds each; past that :class:`PdfBusy` at once. Waiting is a sleep on
    the event loop (no thread held); counters under a thread lock, so it works on any loop.

    Before any of that, :meth:`admit` lets at most ``slots + queue`` PDF requests in at all:
    building a page's HTML (to find its PDF in the cache) takes a worker thread and as much
    CPU as the page itself, so 100 PDF requests at once must not all do it."""

    POLL = 0.05

    def __init__(self, slots: int, queue: int, wait: float) -> None:
        self.slots, self.queue, self.wait = slots, queue, wait
        self.running = 0
        self.waiting = 0
        self.admitted = 0
        self._lock = threading.Lock()

    def admit(self) -> None:
        with self._lock:
            if self.admitted >= self.slots + self.queue:
                raise PdfBusy(f"{self.admitted} PDF requests are being answered")
            self.admitted += 1

    def leave(self) -> None:
        with self._lock:
            self.admitted -= 1

    def _take(self, *, queued: bool) -> bool:
        # a newcomer does not overtake requests already waiting
        if self.running < self.slots and (queued or self.waiting == 0):
            self.running += 1
            return True
        return False

    async def acquire(self) -> None:
        with self._lock:
            if self._take(queued=False):
                return
            if self.waiting >= self.queue:
                raise PdfBusy(f"{self.running} PDFs are being made and {self.waiting} wait")
            self.waiting += 1
        try:
            deadline = time.monotonic() + self.wait
            while time.monotonic() < deadline:
                await anyio.sleep(self.POLL)
                with self._lock:
                    if self._take(queued=True):
                        return
            raise PdfBusy(f"no PDF render slot within {self.wait:g} s")
        finally:
            with self._lock:
                self.waiting -= 1

    def release(self) -> None:
        with self._lock:
            self.running -= 1


class PdfCache:
    """Rendered PDFs on disk by content key, at most ``max_bytes`` (oldest used dropped first).
    Files are written whole (temporary name, then rename), so processes can share the folder."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder, self.max_bytes = folder, max_bytes
        self._lock = threading.Lock()
        self._size: int | None = None

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.pdf"

    def get(self, key: str) -> bytes | None:
        if self.max_bytes <= 0:
            return None
        path = self._path(key)
        try:
            data = path.read_bytes()
            os.utime(path)  # most recently used
        except OSError:
            return None
        return data if data.startswith(b"%PDF") else None

    def put(self, key: str, pdf: bytes) -> None:
        if self.max_bytes <= 0 or len(pdf) > self.max_bytes // 4:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(pdf)
        os.replace(tmp, self._path(key))
        with self._lock:
            if self._size is None:
                self._size = self._scan()[1]
            else:
                self._size += len(pdf)
            if self._size > self.max_bytes:
                self._prune()

    def _scan(self) -> tuple[list[tuple[float, int, Path]], int]:
        files = []
        for path in self.folder.glob("*.pdf"):
            try:
                stat = path.stat()
            except OSError:
                continue
            files.append((stat.st_mtime, stat.st_size, path))
        return sorted(files), sum(size for _, size, _ in files)

    def _prune(self) -> None:
        files, total = self._scan()
        for _, size, path in files:
            if total <= self.max_bytes * 3 // 4:
                break
            path.unlink(missing_ok=True)
            total -= size
        self._size = total


def _static_token() -> str:
    """The static files (style.css, print.css, images) a PDF is laid out with."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _renderer_token() -> str:
    from importlib.metadata import version

    return f"{PDF_RENDERER}|weasyprint {version('weasyprint')}|{_static_token()}"


def pdf_key(html: str, base_url: str, renderer: str) -> str:
    """The cache key of a PDF: what it is made of (the page's HTML, the base URL its links
    resolve on, the renderer and static files)."""
    return hashlib.sha256(f"{renderer}\0{base_url}\0{html}".encode()).hexdigest()


_state_lock = threading.Lock()


def _render_process_start(parent: int) -> None:
    """In each render process: a lower CPU priority, and an exit as soon as the server process
    that started it is gone (however it ended), so that no renderer outlives its server."""
    with contextlib.suppress(OSError):
        os.nice(10)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


_LAYOUT = pdf_from_html


async def render(state: Any, html: str, base_url: str) -> bytes:
    """:func:`pdf_from_html` in the app's render processes (``pdf_renders`` of them, started on
    first use at a lower CPU priority), so that a layout holds neither a worker thread's share
    of this process's GIL nor the CPU the other routes need. A replaced ``pdf_from_html`` (the
    tests' stand-ins, which cannot cross to another process) runs on a worker thread."""
    if pdf_from_html is not _LAYOUT:
        return await anyio.to_thread.run_sync(pdf_from_html, html, base_url)
    with _state_lock:
        pool = getattr(state, "pdf_pool", None)
        if pool is None:
            pool = state.pdf_pool = ProcessPoolExecutor(
                max_workers=state.pdf_gate.slots,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_render_process_start,
                initargs=(os.getpid(),),
            )
    try:
        return await asyncio.wrap_future(pool.submit(_LAYOUT, html, base_url))
    except BrokenProcessPool:
        with _state_lock:
            if getattr(state, "pdf_pool", None) is pool:
                state.pdf_pool = None  # a fresh pool for the next request
        raise HTTPException(
            503, "the PDF renderer stopped; try again", headers={"Retry-After": "5"}
        ) from None


def close_render_pool(state: Any) -> None:
    """Stop the render processes (at the app's shutdown), a layout in progress included."""
    pool = getattr(state, "pdf_pool", None)
    if pool is None:
        return
    state.pdf_pool = None
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()


def _pdf_state(request: Request) -> tuple[PdfGate, PdfCache, str]:
    """This app's gate, cache and renderer token (made on first use)."""
    state = request.app.state
    with _state_lock:
        if getattr(state, "pdf_gate", None) is None:
            settings = state.archive.settings
            state.pdf_gate = PdfGate(
                settings.pdf_renders, settings.pdf_queue, settings.pdf_queue_seconds
            )
            state.pdf_cache = PdfCache(
                Path(settings.data_dir) / "pdf-cache", settings.pdf_cache_mb * 1024 * 1024
            )
            state.pdf_renderer = _renderer_token()
    return state.pdf_gate, state.pdf_cache, state.pdf_renderer


def page_html(page: Callable[..., Response], request: Request, **kwargs: Any) -> str:
    """The HTML a page route renders (the route builds its usual context)."""
    response = page(request=request, **kwargs)
    if response.status_code != 200:
        raise HTTPException(response.status_code, "this page cannot be exported")
    return bytes(response.body).decode("utf-8")


async def _pdf_response(
    request: Request, filename: str, page: Callable[..., Response], **kwargs: Any
) -> Response:
    gate, cache, renderer = _pdf_state(request)
    try:
        gate.admit()
    except PdfBusy as exc:
        raise _busy(gate, exc) from None
    try:
        return await _pdf_admitted(request, gate, cache, renderer, filename, page, **kwargs)
    finally:
        gate.leave()


def _busy(gate: PdfGate, exc: PdfBusy) -> HTTPException:
    return HTTPException(
        429,
        f"too many PDFs are being made right now ({exc}); try again in a few seconds",
        headers={"Retry-After": str(max(1, round(gate.wait)))},
    )


async def _pdf_admitted(
    request: Request,
    gate: PdfGate,
    cache: PdfCache,
    renderer: str,
    filename: str,
    page: Callable[..., Response],
    **kwargs: Any,
) -> Response:
    from clausewatch.web.httpcache import _has_credentials

    html = await anyio.to_thread.run_sync(partial(page_html, page, request, **kwargs))
    # the page's relative links resolve on the configured base_url, never the Host header
    settings = request.app.state.archive.settings
    base_url = settings.base_url.rstrip("/") + "/"
    key = pdf_key(html, base_url, renderer)
    etag = f'"{key[:32]}"'
    private = _has_credentials(request.scope)
    headers = {
        "Content-Disposition": f'inline; filename="{filename}"',
        "ETag": etag,
        # set here, so the in-process response cache does not keep PDFs (httpcache)
        "Cache-Control": "private, no-store"
        if private
        else f"public, max-age={settings.http_cache_seconds}",
    }
    if not private and etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers={k: headers[k] for k in ("ETag", "Cache-Control")})
    pdf = cache.get(key)
    if pdf is None:
        try:
            await gate.acquire()
        except PdfBusy as exc:
            raise _busy(gate, exc) from None
        try:
            pdf = cache.get(key)  # made by another request while this one waited
            if pdf is None:
                pdf = await render(request.app.state, html, base_url)
                await anyio.to_thread.run_sync(cache.put, key, pdf)
        finally:
            gate.release()
    return Response(pdf, media_type="application/pdf", headers=headers)


@router.get("/provisions/{provision_id}.pdf", name="provision_pdf")
async def provision_pdf(request: Request, archive: ArchiveDep, provision_id: str) -> Response:
    from clausewatch.web import pages

    return await _pdf_response(
        request,
        f"{provision_id}.pdf",
        pages.provision_page,
        archive=archive,
        provision_id=provision_id,
    )


@router.get("/documents/{document_id}.pdf", name="document_pdf")
async def document_pdf(request: Request, archive: ArchiveDep, document_id: str) -> Response:
    from clausewatch.web import pages

    return await _pdf_response(
        request, f"{document_id}.pdf", pages.document_page, archive=archive, document_id=document_id
    )


@router.get("/changes/{change_id}.pdf", name="change_pdf")
async def change_pdf(request: Request, archive: ArchiveDep, change_id: str) -> Response:
    from clausewatch.web import pages

    return await _pdf_response(
        request, f"{change_id}.pdf", pages.change_page, archive=archive, change_id=change_id
    )


# -- bulk downloads --------------------------------------------------------------------------------

DOWNLOADS: dict[str, dict[str, str]] = {
    "jsonl": {
        "file": "clausewatch-jsonl.zip",
        "title": "JSON lines",
        "what": "One .jsonl file per table and manifest.json, in one zip.",
    },
    "parquet": {
        "file": "clausewatch-parquet.zip",
        "title": "Parquet",
        "what": "One .parquet file per table (zstd) and manifest.json, in one zip.",
    },
    "ota-zip": {
        "file": "clausewatch-ota.zip",
        "title": "Open Terms Archive dataset",
        "what": "Every version as <service>/<terms type>/<date>.md, with README.md and LICENSE.",
    },
}


@router.get("/exports", name="exports_page", response_class=HTMLResponse)
def exports_page(request: Request, archive: ArchiveDep) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        "exports.html",
        {
            "downloads": DOWNLOADS,
            "counts": exports.table_counts(archive),
            "licence": exports.LICENCE_NOTE,
            "exporter_version": exports.EXPORTER_VERSION,
        },
    )


@router.get("/exports/{filename}", name="export_download")
def export_download(archive: ArchiveDep, filename: str) -> Response:
    kind = next((k for k, d in DOWNLOADS.items() if d["file"] == filename), None)
    if kind is None:
        raise HTTPException(404, f"no export named {filename!r}")
    if not _export_lock.acquire(blocking=False):
        raise HTTPException(
            503,
            "another export is being generated; try again in a minute",
            headers={"Retry-After": "60"},
        )
    workdir = Path(tempfile.mkdtemp(prefix="clausewatch-export-"))
    try:
        target = workdir / filename
        if kind == "ota-zip":
            exports.export_ota_zip(archive, target, name="clausewatch-dataset")
        else:
            folder = workdir / f"clausewatch-{kind}"
            writer = exports.export_jsonl if kind == "jsonl" else exports.export_parquet
            writer(archive, folder)
            with target.open("wb") as fh:
                exports.zip_folder(folder, fh, compress=kind == "jsonl")
            shutil.rmtree(folder)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    finally:
        _export_lock.release()
    return FileResponse(
        target,
        media_type="application/zip",
        filename=filename,
        background=BackgroundTask(shutil.rmtree, workdir, ignore_errors=True),
    )
