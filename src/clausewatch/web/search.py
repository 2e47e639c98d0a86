"""Full-text search: the `/search` page and `/api/v1/search`. Any text in `q` gives a page (an
empty one when it has no words); snippets are plain-text parts that the template marks and
escapes itself."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from clausewatch import search as fulltext
from clausewatch.classify.taxonomy import Taxonomy, default_taxonomy
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


# (value, the escaped <option> element up to where "selected" goes, the rest of it)
Option = tuple[str, str, str]


def _option(value: str, label: str) -> Option:
    return value, f'<option value="{escape(value)}" ', f">{escape(label)}</option>"


def options_html(options: list[Option], selected: str | None) -> Markup:
    """A select's options, escaped once and kept (each search page listed every platform and
    clause type through the template: several hundred escapes a page), with ``selected`` on
    the chosen one; the same markup the template's loop wrote."""
    return Markup(
        "".join(
            head + ("selected" if value == selected else "") + tail for value, head, tail in options
        )
    )


def platform_options(archive: ArchiveDep) -> list[Option]:
    """The platform filter's options, computed once per archive state, not per search: it was
    the whole platform list (counts of versions and current provisions, every current layout
    parsed), about 0.3 s on a cold server at 100k provisions, and every request in flight on a
    fresh server computed it at once."""
    return state_memo(
        archive.engine,
        ("search-platform-options",),
        lambda: [_option(p["slug"], p["name"]) for p in provisions.platform_names(archive)],
    )


_TYPE_OPTIONS: dict[int, tuple[Taxonomy, list[Option], dict[str, str]]] = {}


def type_options(taxonomy: Taxonomy) -> tuple[list[Option], dict[str, str]]:
    """The clause-type filter's options (by name) and the names by id, kept per taxonomy."""
    kept = _TYPE_OPTIONS.get(id(taxonomy))
    if kept is None or kept[0] is not taxonomy:
        types = sorted(taxonomy.by_id.values(), key=lambda t: t.name)
        kept = (taxonomy, [_option(t.id, t.name) for t in types], {t.id: t.name for t in types})
        _TYPE_OPTIONS.clear()
        _TYPE_OPTIONS[id(taxonomy)] = kept
    return kept[1], kept[2]


@api_router.get(
    "/search",
    summary="Full-text search over current provisions, best first",
    response_model=dict[str, Any],
)
def search_api(
    archive: ArchiveDep,
    q: Q = "",
    platform: Platform = None,
    type: ClauseType = None,
    severity: Severity | None = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Response:
    # the body holds plain JSON types only: answered as it is, without FastAPI's
    # jsonable_encoder walk over every item (the same bytes, a millisecond or more less)
    return JSONResponse(
        fulltext.search_json(
            archive,
            q,
            limit=limit,
            offset=offset,
            platform=platform,
            clause_type=type,
            severity=severity,
        )
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
    types, type_names = type_options(default_taxonomy())
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
            "platform_options": options_html(platform_options(archive), platform),
            "type_options": options_html(types, type),
            "type_names": type_names,
            "searched": bool(q.strip()),
        },
    )
