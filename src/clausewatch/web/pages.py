"""Server-rendered HTML pages (not in the OpenAPI schema). Routes that read the archive are plain
`def` so they run in the threadpool; all reading goes through the shared query functions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from clausewatch.analysis import queries as analysis
from clausewatch.analysis.service import BOILERPLATE
from clausewatch.changes import queries as change_records
from clausewatch.provisions import queries as provisions
from clausewatch.storage.db import state_memo
from clausewatch.web import charts
from clausewatch.web.deps import ArchiveDep, Offset, Severity, found, number, version_number

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
PAGE_SIZE = 50
CAPTURES_SHOWN = 50

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
    # computed once per archive state (and hour: "changes in the last 30 days"), not per view
    hour = f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H}"
    figures = state_memo(archive.engine, ("home", hour), lambda: home_figures(archive), checks=True)
    return render(request, "home.html", **figures)


def home_figures(archive: ArchiveDep) -> dict[str, Any]:
    return {
        "stats": provisions.site_stats(archive),
        "changes": change_records.list_changes_page(archive, limit=10)["items"],
        "types": [t for t in analysis.clause_type_summary(archive) if t["provisions"]][:8],
        "activity_chart": activity_chart(
            archive, "activity", "Substantive change records per month"
        ),
        "severity_chart": severity_chart(archive, "Current provisions by severity"),
    }


def severity_chart(
    archive: ArchiveDep, title: str, *, platform: str | None = None, document_id: int | None = None
) -> Any:
    """The severity mix of current provisions, from the query that also counts them: only a
    provision with a clause type has a severity, so when some have none the chart says how many
    of the current provisions (the count the page's provision list shows) it covers."""
    mix = analysis.severity_coverage(archive, platform=platform, document_id=document_id)
    current, typed = mix["current"], mix["with_type"]
    note = None
    if typed < current:
        untyped = current - typed
        note = (
            f"{typed} of {current} current provisions carry a clause type and so a severity; "
            f"the other {untyped} (“no clause type”) are not in the chart."
        )
    return charts.severity_chart(mix["severity"], chart_id="severity-mix", title=title, note=note)


def activity_chart(archive: ArchiveDep, chart_id: str, title: str, **filters: str | None) -> Any:
    series = charts.monthly_series(analysis.change_activity(archive, **filters))
    return charts.bar_chart(series, chart_id=chart_id, title=title)


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
        activity_chart=activity_chart(
            archive, "activity", f"Change records of {platform['name']} per month", platform=slug
        ),
        severity_chart=severity_chart(
            archive, f"Current provisions of {platform['name']} by severity", platform=slug
        ),
    )


@router.get("/documents/{document_id}", name="document_page")
def document_page(request: Request, archive: ArchiveDep, document_id: str) -> Response:
    doc_id = number(document_id, "D")
    document = found(provisions.document_detail, archive, doc_id)
    text = found(provisions.document_segments, archive, doc_id)
    captures = provisions.document_captures(archive, doc_id, limit=CAPTURES_SHOWN)
    return render(
        request,
        "document.html",
        document=document,
        text=text,
        captures=captures,
        severity_chart=severity_chart(
            archive, "Current provisions of this document by severity", document_id=doc_id
        ),
    )


@router.get("/documents/{document_id}/redline", name="redline_page")
def redline_page(
    request: Request,
    archive: ArchiveDep,
    document_id: str,
    from_version: Annotated[str, Query(alias="from", max_length=20)],
    to_version: Annotated[str, Query(alias="to", max_length=20)],
) -> Response:
    doc_id = number(document_id, "D")
    document = found(provisions.document_detail, archive, doc_id)
    diff = found(
        provisions.document_redline,
        archive,
        doc_id,
        version_number(from_version, "from"),
        version_number(to_version, "to"),
    )
    return render(request, "redline.html", document=document, diff=diff)


@router.get("/versions/{version_id}", name="version_page")
def version_page(request: Request, archive: ArchiveDep, version_id: str) -> Response:
    version = found(provisions.version_detail, archive, number(version_id, "V"))
    return render(request, "version.html", version=version)


@router.get("/versions/{version_id}/variants/{sha256}", name="variant_page")
def variant_page(request: Request, archive: ArchiveDep, version_id: str, sha256: str) -> Response:
    variant = found(provisions.version_variant, archive, number(version_id, "V"), sha256)
    return render(request, "variant.html", variant=variant)


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
        share=share_links(provision_url(request, record["id"]), record["title"]),
        excerpt=key_sentences(record["text"], result),
        faq=faq(record["platform"], result),
    )


def faq(platform: str, analysis: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The provision page's questions: the narrative's (which ends on whether clausewatch is
    affiliated with the platform), each question once; before analysis, only that last one."""
    out: dict[str, tuple[str, str]] = {}
    narrative = (analysis or {}).get("narrative") or {}
    for question, answer in narrative.get("faq") or []:
        out.setdefault(" ".join(question.lower().split()), (question, answer))
    if not any(q.startswith("is clausewatch affiliated") for q in out):
        out["is clausewatch affiliated"] = (
            f"Is clausewatch affiliated with {platform}?",
            "No. clausewatch is an independent, open archive; it is not affiliated with, "
            f"endorsed or sponsored by {platform}.",
        )
    return list(out.values())


EXCERPT_MIN_WORDS = 80  # provisions longer than this open on their key sentences
EXCERPT_MAX_SHARE = 0.7  # ... when those are at most this share of the provision's words


def key_sentences(text: str, analysis: dict[str, Any] | None) -> dict[str, Any] | None:
    """The supporting words of a long provision's main clause type (an exact slice of the
    archived text, as the classifier stored it), or None when the provision is short, has no
    substantive type, is a table (its cells only read as a table) or the words are most of it."""
    words = len(text.split())
    if words <= EXCERPT_MIN_WORDS or not analysis or text.lstrip().startswith("|"):
        return None
    main = next(iter(analysis["classifications"]), None)
    if main is None or main["type"] == BOILERPLATE:
        return None
    start, end = main.get("start"), main.get("end")
    if start is None or end is None or not 0 <= start < end <= len(text):
        return None
    span = text[start:end]
    if span != main["supporting_text"] or not span.strip():
        return None
    if len(span.split()) > EXCERPT_MAX_SHARE * words:
        return None
    return {
        "text": span.strip(),
        "words": len(span.split()),
        "total_words": words,
        "type_name": main["name"],
        "cut_before": bool(text[:start].strip()),
        "cut_after": bool(text[end:].strip()),
    }


def share_links(url: str, title: str) -> dict[str, str]:
    """Plain share links (nothing is loaded from the other sites): the permalink, e-mail,
    X's and LinkedIn's share-intent URLs."""
    from urllib.parse import quote

    from clausewatch.render import to_plain_line

    text, link = quote(f"{to_plain_line(title)} — clausewatch", safe=""), quote(url, safe="")
    return {
        "permalink": url,
        "email": f"mailto:?subject={text}&body={link}",
        "x": f"https://twitter.com/intent/tweet?text={text}&url={link}",
        "linkedin": f"https://www.linkedin.com/sharing/share-offsite/?url={link}",
    }


@router.get("/changes", name="changes_page")
def changes_page(
    request: Request,
    archive: ArchiveDep,
    platform: Annotated[str | None, Query(max_length=100)] = None,
    severity: Severity | None = None,
    offset: Offset = 0,
) -> Response:
    page = change_records.list_changes_page(
        archive, platform=platform or None, severity=severity, limit=PAGE_SIZE, offset=offset
    )
    everyone = provisions.list_platforms(archive, limit=500)["items"]
    return render(
        request,
        "changes.html",
        page=page,
        platform=platform,
        severity=severity,
        platforms=[p for p in everyone if p["captured"] or p["slug"] == platform],
    )


@router.get("/changes/{change_id}", name="change_page")
def change_page(request: Request, archive: ArchiveDep, change_id: str) -> Response:
    from clausewatch.changes.summary import reader_view

    change = found(change_records.change_page, archive, number(change_id, "C"))
    reader = reader_view(change["summary"], change["items"])
    return render(request, "change.html", change=change, reader=reader)


@router.get("/clause-types", name="clause_types_page")
def clause_types_page(request: Request, archive: ArchiveDep) -> Response:
    return render(request, "clause_types.html", types=analysis.clause_type_summary(archive))


@router.get("/clause-types/{type_id}", name="clause_type_page")
def clause_type_page(request: Request, archive: ArchiveDep, type_id: str) -> Response:
    hub = found(analysis.clause_type_hub, archive, type_id)
    listed = analysis.list_analysed_provisions(archive, type_id=type_id, limit=PAGE_SIZE)
    chart = activity_chart(
        archive,
        "activity",
        f"Change records touching “{hub['name']}” provisions, per month",
        type_id=type_id,
    )
    return render(request, "clause_type.html", hub=hub, listed=listed, activity_chart=chart)


@router.get("/compare/platforms", name="compare_platforms_page")
def compare_platforms_page(
    request: Request,
    archive: ArchiveDep,
    a: Annotated[str | None, Query(max_length=100)] = None,
    b: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    everyone = provisions.list_platforms(archive, limit=500)["items"]
    chosen = bool(a and b)
    if not chosen:  # preselect two different platforms with data in the form; compare on request
        slugs = [p["slug"] for p in everyone if p["captured"]] or [p["slug"] for p in everyone]
        a = a or (slugs[0] if slugs else None)
        b = b or next((s for s in slugs if s != a), None)
    result = found(analysis.compare_platforms, archive, a, b) if chosen and a != b else None
    return render(request, "compare_platforms.html", result=result, a=a, b=b, platforms=everyone)


@router.get("/compare/{type_id}", name="compare_page")
def compare_page(
    request: Request,
    archive: ArchiveDep,
    type_id: str,
    platform: Annotated[list[str] | None, Query()] = None,
) -> Response:
    hub = found(analysis.clause_type_hub, archive, type_id)
    chosen = list(dict.fromkeys(platform or [p["platform_slug"] for p in hub["platforms"][:2]]))
    result = found(analysis.compare, archive, type_id, chosen) if 2 <= len(chosen) <= 4 else None
    everyone = provisions.list_platforms(archive, limit=500)["items"]
    shown = [p for p in everyone if p["captured"] or p["slug"] in chosen]
    return render(request, "compare.html", hub=hub, result=result, chosen=chosen, platforms=shown)


@router.get("/matrix", name="matrix_page")
def matrix_page(request: Request, archive: ArchiveDep) -> Response:
    return render(request, "matrix.html", matrix=found(analysis.matrix, archive, [], []))


@router.get("/methodology", name="methodology_page")
def methodology_page(request: Request) -> Response:
    return render(request, "methodology.html")


@router.get("/provisions", name="registry_page")
def registry_page(
    request: Request,
    archive: ArchiveDep,
    type: Annotated[str | None, Query(max_length=60)] = None,
    severity: Annotated[Severity | None, Query()] = None,
    platform: Annotated[str | None, Query(max_length=100)] = None,
    category: Annotated[str | None, Query(max_length=50)] = None,
    regulation: Annotated[str | None, Query(max_length=100)] = None,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = PAGE_SIZE,
) -> Response:
    chosen = {
        "type": type or None,
        "severity": severity,
        "platform": platform or None,
        "category": category or None,
        "regulation": regulation or None,
    }
    listed = found(
        analysis.list_analysed_provisions,
        archive,
        type_id=chosen["type"],
        severity=severity,
        platform=chosen["platform"],
        category=chosen["category"],
        regulation=chosen["regulation"],
        limit=limit,
        offset=offset,
    )
    platforms = provisions.list_platforms(archive, limit=500)
    regs = analysis.list_regulations(archive)
    return render(
        request,
        "registry.html",
        listed=listed,
        chosen=chosen,
        args={k: v for k, v in chosen.items() if v},
        types=[t for t in analysis.clause_type_summary(archive) if t["type"] != BOILERPLATE],
        platforms=platforms["items"],
        categories=platforms["categories"],
        regulations=[r for j in regs["jurisdictions"] for r in j["regulations"]],
    )


@router.get("/regulations", name="regulations_page")
def regulations_page(request: Request, archive: ArchiveDep) -> Response:
    return render(request, "regulations.html", regs=analysis.list_regulations(archive))


@router.get("/regulations/{slug}", name="regulation_page")
def regulation_page(request: Request, archive: ArchiveDep, slug: str) -> Response:
    reg = found(analysis.regulation_detail, archive, slug)
    listed = analysis.list_analysed_provisions(archive, regulation=slug, limit=PAGE_SIZE)
    return render(request, "regulation.html", reg=reg, listed=listed)
