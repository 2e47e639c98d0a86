"""Server-rendered HTML pages (not in the OpenAPI schema). Routes that read the archive are plain
`def` so they run in the threadpool; all reading goes through the shared query functions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from clausewatch.analysis import queries as analysis
from clausewatch.analysis.service import BOILERPLATE
from clausewatch.provisions import queries as provisions
from clausewatch.web.deps import ArchiveDep, Offset, Severity, found, number

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
PAGE_SIZE = 50

# The provision page's section headings, in the seed page's order (tests check them).
PROVISION_SECTIONS = (
    "Why it matters",
    "Consumer impact",
    "What you can do",
    "Clause stability",
    "This clause type on other platforms",
    "How other platforms handle this",
    "Original clause language",
    "Applicable regulations",
    "Provision details",
    "Evidence provenance",
    "Citation record",
    "Classification",
    "Other risks in this policy",
    "Related analysis",
    "Frequently asked questions",
    "History of this provision",
)


def render(request: Request, template: str, **context: Any) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, context)


@router.get("/", name="home")
def home(request: Request, archive: ArchiveDep) -> Response:
    return render(
        request,
        "home.html",
        stats=provisions.site_stats(archive),
        changes=provisions.list_changes_page(archive, limit=10)["items"],
        types=[t for t in analysis.clause_type_summary(archive) if t["provisions"]][:8],
    )


@router.get("/platforms", name="platforms_page")
def platforms_page(
    request: Request,
    archive: ArchiveDep,
    category: Annotated[str | None, Query(max_length=50)] = None,
    offset: Offset = 0,
) -> Response:
    page = provisions.list_platforms(
        archive, category=category or None, limit=PAGE_SIZE, offset=offset
    )
    return render(request, "platforms.html", page=page, category=category)


@router.get("/platforms/{slug}", name="platform_page")
def platform_page(
    request: Request,
    archive: ArchiveDep,
    slug: str,
    severity: Severity | None = None,
    type: Annotated[str | None, Query(max_length=60)] = None,
    offset: Offset = 0,
) -> Response:
    platform = found(provisions.platform_detail, archive, slug)
    listed = found(
        analysis.list_analysed_provisions,
        archive,
        platform=slug,
        severity=severity,
        type_id=type or None,
        limit=PAGE_SIZE,
        offset=offset,
    )
    types = [t for t in analysis.clause_type_summary(archive) if t["provisions"]]
    return render(
        request,
        "platform.html",
        platform=platform,
        listed=listed,
        severity=severity,
        type=type,
        types=types,
    )


@router.get("/documents/{document_id}", name="document_page")
def document_page(request: Request, archive: ArchiveDep, document_id: str) -> Response:
    doc_id = number(document_id, "D")
    document = found(provisions.document_detail, archive, doc_id)
    text = found(provisions.document_segments, archive, doc_id)
    return render(request, "document.html", document=document, text=text)


@router.get("/versions/{version_id}", name="version_page")
def version_page(request: Request, archive: ArchiveDep, version_id: str) -> Response:
    version = found(provisions.version_detail, archive, number(version_id, "V"))
    return render(request, "version.html", version=version)


@router.get("/provisions/{provision_id}", name="provision_page")
def provision_page(request: Request, archive: ArchiveDep, provision_id: str) -> Response:
    record = found(analysis.provision_record, archive, number(provision_id, "P"))
    import datetime as dt

    from clausewatch.web.api import provision_url
    from clausewatch.web.citation import as_text, citation_fields

    cite = as_text(
        citation_fields(
            record, provision_url(request, record["id"]), dt.datetime.now(dt.UTC).date()
        )
    )
    result = record["analysis"]
    related = [c for c in result["classifications"] if c["type"] != BOILERPLATE] if result else []
    categories = sorted({c["category"] for c in related})
    return render(
        request,
        "provision.html",
        p=record,
        a=result,
        citation=cite,
        related=related,
        categories=categories,
        sections=PROVISION_SECTIONS,
    )


@router.get("/changes", name="changes_page")
def changes_page(
    request: Request,
    archive: ArchiveDep,
    platform: Annotated[str | None, Query(max_length=100)] = None,
    severity: Severity | None = None,
    offset: Offset = 0,
) -> Response:
    page = provisions.list_changes_page(
        archive, platform=platform or None, severity=severity, limit=PAGE_SIZE, offset=offset
    )
    return render(request, "changes.html", page=page, platform=platform, severity=severity)


@router.get("/changes/{change_id}", name="change_page")
def change_page(request: Request, archive: ArchiveDep, change_id: str) -> Response:
    change = found(provisions.change_page, archive, number(change_id, "C"))
    return render(request, "change.html", change=change)


@router.get("/clause-types", name="clause_types_page")
def clause_types_page(request: Request, archive: ArchiveDep) -> Response:
    return render(request, "clause_types.html", types=analysis.clause_type_summary(archive))


@router.get("/clause-types/{type_id}", name="clause_type_page")
def clause_type_page(request: Request, archive: ArchiveDep, type_id: str) -> Response:
    hub = found(analysis.clause_type_hub, archive, type_id)
    listed = analysis.list_analysed_provisions(archive, type_id=type_id, limit=PAGE_SIZE)
    return render(request, "clause_type.html", hub=hub, listed=listed)


@router.get("/compare/{type_id}", name="compare_page")
def compare_page(
    request: Request,
    archive: ArchiveDep,
    type_id: str,
    platform: Annotated[list[str] | None, Query()] = None,
) -> Response:
    hub = found(analysis.clause_type_hub, archive, type_id)
    chosen = platform or [p["platform_slug"] for p in hub["platforms"][:2]]
    result = found(analysis.compare, archive, type_id, chosen) if 2 <= len(chosen) <= 4 else None
    everyone = provisions.list_platforms(archive, limit=500)["items"]
    return render(
        request, "compare.html", hub=hub, result=result, chosen=chosen, platforms=everyone
    )


@router.get("/matrix", name="matrix_page")
def matrix_page(request: Request, archive: ArchiveDep) -> Response:
    return render(request, "matrix.html", matrix=found(analysis.matrix, archive, [], []))


@router.get("/methodology", name="methodology_page")
def methodology_page(request: Request) -> Response:
    return render(request, "methodology.html")
