"""Full-text search: the `/search` page and `/api/v1/search`. Any text in `q` gives a page (an
empty one when it has no words); snippets are plain-text parts that the template marks and
escapes itself."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from clausewatch import search as fulltext
from clausewatch.classify.taxonomy import default_taxonomy
from clausewatch.provisions import queries as provisions
from clausewatch.storage.db import state_memo
from clausewatch.web.deps import ArchiveDep, Limit, Offset, Severity

page_router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
api_router = APIRouter(tags=["search"])
PAGE_SIZE = 20

Q = Annotated[
    str,
    Query(
        max_length=fulltext.backends.MAX_QUERY_CHARS,
        description='Words to find: "a phrase", prefix*, -excluded, OR between alternatives.',
    ),
]
Platform = Annotated[str | None, Query(max_length=100, description="Platform slug")]
ClauseType = Annotated[
    str | None, Query(max_length=60, description="Clause type id (any type of the provision)")
]


def platform_choices(archive: ArchiveDep) -> list[dict[str, str]]:
    """The platform filter's options (slug and name, in the platform list's order): computed
    once per archive state, not per search (it was eight queries and every current layout)."""
    return state_memo(
        archive.engine,
        ("search-platforms",),
        lambda: [
            {"slug": p["slug"], "name": p["name"]}
            for p in provisions.list_platforms(archive, limit=500)["items"]
        ],
    )


@api_router.get("/search", summary="Full-text search over current provisions, best first")
def search_api(
    archive: ArchiveDep,
    q: Q = "",
    platform: Platform = None,
    type: ClauseType = None,
    severity: Severity | None = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> dict[str, Any]:
    return fulltext.search_json(
        archive,
        q,
        limit=limit,
        offset=offset,
        platform=platform,
        clause_type=type,
        severity=severity,
    )


@page_router.get("/search", name="search_page")
def search_page(
    request: Request,
    archive: ArchiveDep,
    q: Q = "",
    platform: Platform = None,
    type: ClauseType = None,
    severity: Severity | None = None,
    offset: Offset = 0,
) -> Response:
    page = fulltext.search(
        archive,
        q,
        limit=PAGE_SIZE,
        offset=offset,
        platform=platform,
        clause_type=type,
        severity=severity,
    )
    taxonomy = default_taxonomy()
    args = {
        k: v
        for k, v in {"q": q, "platform": platform, "type": type, "severity": severity}.items()
        if v
    }
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        "search.html",
        {
            "q": q,
            "search_query": q,
            "platform": platform or "",
            "type": type or "",
            "severity": severity or "",
            "hits": page.hits,
            "page": {"total": page.total, "limit": PAGE_SIZE, "offset": offset},
            "args": args,
            "platforms": platform_choices(archive),
            "types": sorted(taxonomy.by_id.values(), key=lambda t: t.name),
            "type_names": {t.id: t.name for t in taxonomy.by_id.values()},
            "searched": bool(q.strip()),
        },
    )
