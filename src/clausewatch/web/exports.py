"""PDF versions of the provision, document and change pages (WeasyPrint), and bulk downloads.

A PDF is the page itself: the page route renders its template with its usual context, and
WeasyPrint lays that HTML out with ``static/print.css`` added. Templates autoescape, so archived
text reaches WeasyPrint as text, and WeasyPrint runs no scripts. It fetches nothing from the
network: :class:`StaticOnlyFetcher` serves the site's own ``/static/`` files from disk and refuses
every other URL (http, https, file, data...).

Bulk downloads (``/exports``) are generated on request into a temporary folder by
:mod:`clausewatch.exports`, streamed, and deleted; one at a time (a second request while one is
being generated gets 503 with ``Retry-After``).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.background import BackgroundTask

from clausewatch import exports
from clausewatch.web.deps import ArchiveDep

STATIC = Path(__file__).parent / "static"
PRINT_CSS = "print.css"

router = APIRouter(include_in_schema=False)

# WeasyPrint layout is CPU-bound: at most two at once, so PDFs cannot starve the page routes.
_pdf_slots = threading.BoundedSemaphore(2)
_export_lock = threading.Lock()


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
    with _pdf_slots:
        document = HTML(
            string=html, base_url=base_url, url_fetcher=make_fetcher(base_url), media_type="print"
        )
        pdf: bytes = document.write_pdf()
    return pdf


def page_html(page: Callable[..., Response], request: Request, **kwargs: Any) -> str:
    """The HTML a page route renders (the route builds its usual context)."""
    response = page(request=request, **kwargs)
    if response.status_code != 200:
        raise HTTPException(response.status_code, "this page cannot be exported")
    return bytes(response.body).decode("utf-8")


def _pdf_response(html: str, request: Request, filename: str) -> Response:
    pdf = pdf_from_html(html, str(request.base_url))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.get("/provisions/{provision_id}.pdf", name="provision_pdf")
def provision_pdf(request: Request, archive: ArchiveDep, provision_id: str) -> Response:
    from clausewatch.web import pages

    html = page_html(pages.provision_page, request, archive=archive, provision_id=provision_id)
    return _pdf_response(html, request, f"{provision_id}.pdf")


@router.get("/documents/{document_id}.pdf", name="document_pdf")
def document_pdf(request: Request, archive: ArchiveDep, document_id: str) -> Response:
    from clausewatch.web import pages

    html = page_html(pages.document_page, request, archive=archive, document_id=document_id)
    return _pdf_response(html, request, f"{document_id}.pdf")


@router.get("/changes/{change_id}.pdf", name="change_pdf")
def change_pdf(request: Request, archive: ArchiveDep, change_id: str) -> Response:
    from clausewatch.web import pages

    html = page_html(pages.change_page, request, archive=archive, change_id=change_id)
    return _pdf_response(html, request, f"{change_id}.pdf")


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
