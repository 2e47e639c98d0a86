"""The JSON API under `/api/v1`: everything the pages show. Routes read the archive with `def`
(they run in the threadpool); lists are paginated with `limit`/`offset` and return `total`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from clausewatch.analysis import queries as analysis
from clausewatch.changes import queries as change_records
from clausewatch.provisions import queries as provisions
from clausewatch.storage.db import state_memo
from clausewatch.web import citation
from clausewatch.web.deps import (
    ArchiveDep,
    Limit,
    Offset,
    Severity,
    found,
    get_archive,
    number,
    query_number,
    version_number,
)


class ErrorDetail(BaseModel):
    parameter: str
    in_: str = Field(alias="in")
    message: str


class ErrorBody(BaseModel):
    status: int
    message: str
    details: list[ErrorDetail] | None = None


class ApiError(BaseModel):
    """The body of every API error (app.py's handlers): `{"error": {status, message, …}}`."""

    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ApiError, "description": "No such record"},
    422: {"model": ApiError, "description": "Invalid parameter"},
}
router = APIRouter(tags=["archive"], responses=ERRORS)
_ERROR_REF = "#/components/schemas/ApiError"
JSON = dict[str, Any]


@router.get("/stats", summary="Live figures of the archive")
def stats(archive: ArchiveDep) -> JSON:
    hour = f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H}"  # computed once per archive state and hour
    return state_memo(
        archive.engine, ("stats", hour), lambda: provisions.site_stats(archive), checks=True
    )


@router.get("/platforms", summary="Platforms, filterable by category")
def platforms(
    archive: ArchiveDep,
    category: Annotated[str | None, Query(max_length=50)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> JSON:
    return provisions.list_platforms(archive, category=category, limit=limit, offset=offset)


@router.get("/platforms/{slug}", summary="One platform: documents, recent changes, frequency")
def platform(archive: ArchiveDep, slug: str) -> JSON:
    return found(provisions.platform_detail, archive, slug)


@router.get("/documents", summary="Documents, filterable by platform")
def documents(
    archive: ArchiveDep,
    platform: Annotated[str | None, Query(max_length=100)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> JSON:
    return provisions.list_documents(archive, platform=platform, limit=limit, offset=offset)


@router.get("/documents/{document_id}", summary="One document with its versions and changes")
def document(archive: ArchiveDep, document_id: str) -> JSON:
    return found(provisions.document_detail, archive, number(document_id, "D"))


@router.get(
    "/documents/{document_id}/text",
    summary="The document's current text, split into provisions with their severity",
)
def document_text(archive: ArchiveDep, document_id: str) -> JSON:
    return found(provisions.document_segments, archive, number(document_id, "D"))


@router.get(
    "/documents/{document_id}/redline",
    summary="Word-level redline between any two versions of the document",
)
def document_redline(
    archive: ArchiveDep,
    document_id: str,
    from_version: Annotated[str, Query(alias="from", description="Version ID (V-00001)")],
    to_version: Annotated[str, Query(alias="to", description="Version ID (V-00002)")],
) -> JSON:
    return found(
        provisions.document_redline,
        archive,
        number(document_id, "D"),
        version_number(from_version, "from"),
        version_number(to_version, "to"),
    )


@router.get(
    "/documents/{document_id}/captures",
    summary="The document's captures, newest first, with evidence checks (checked_at: when)",
)
def document_captures(
    archive: ArchiveDep, document_id: str, limit: Limit = 50, offset: Offset = 0
) -> JSON:
    return found(
        provisions.document_captures,
        archive,
        number(document_id, "D"),
        limit=limit,
        offset=offset,
    )


@router.get("/versions/{version_id}", summary="One version with its archived text")
def version(request: Request, archive: ArchiveDep, version_id: str) -> JSON:
    detail = found(provisions.version_detail, archive, number(version_id, "V"))
    for variant in detail["variants"]:  # where each variant's word-level diff is
        where = {"version_id": detail["id"], "sha256": variant["sha256"]}
        variant["redline"] = absolute_url(request, "variant_redline", **where)
        variant["page"] = absolute_url(request, "variant_page", **where)
    return detail


@router.get(
    "/versions/{version_id}/variants/{sha256}",
    summary="One variant of a version: a text kept as the same version, with a word-level "
    "redline from the version's text to it",
    name="variant_redline",
)
def variant_redline(archive: ArchiveDep, version_id: str, sha256: str) -> JSON:
    return found(provisions.version_variant, archive, number(version_id, "V"), sha256)


@router.get("/provisions", summary="Current analysed provisions, most severe first")
def provision_list(
    archive: ArchiveDep,
    platform: Annotated[str | None, Query(max_length=100)] = None,
    document: Annotated[str | None, Query(description="Document ID (D-00001)")] = None,
    type: Annotated[str | None, Query(max_length=60, description="Clause type id")] = None,
    severity: Severity | None = None,
    category: Annotated[str | None, Query(max_length=50, description="Platform category")] = None,
    regulation: Annotated[
        str | None, Query(max_length=100, description="Regulation slug (see /regulations)")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> JSON:
    doc_id = query_number(document, "D", "document") if document else None
    return found(
        analysis.list_analysed_provisions,
        archive,
        platform=platform or None,
        document_id=doc_id,
        type_id=type or None,
        severity=severity,
        category=category or None,
        regulation=regulation or None,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/provisions/{provision_id}",
    summary="One provision: text, history, evidence checks (run now) and analysis",
)
def provision(archive: ArchiveDep, provision_id: str) -> JSON:
    return found(analysis.provision_record, archive, number(provision_id, "P"))


def absolute_url(request: Request, name: str, /, **path_params: Any) -> str:
    """An absolute URL of a route on the configured `base_url` (citations, share links, API
    links): never built from the Host header, which the client chooses."""
    base = get_archive(request).settings.base_url.rstrip("/")
    return base + str(request.app.url_path_for(name, **path_params))


def provision_url(request: Request, public_id: str) -> str:
    return absolute_url(request, "provision_page", provision_id=public_id)


@router.get(
    "/provisions/{provision_id}/citation",
    summary="Citation record as plain text, BibTeX or CSL-JSON",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "The citation in the requested format",
            "content": {
                "application/x-bibtex": {"schema": {"type": "string"}},
                "application/vnd.citationstyles.csl+json": {"schema": {}},
            },
        },
        # errors are JSON, as everywhere under /api (not the route's text/plain)
        **{
            status: {
                "description": ERRORS[status]["description"],
                "content": {"application/json": {"schema": {"$ref": _ERROR_REF}}},
            }
            for status in (404, 422)
        },
    },
)
def provision_citation(
    request: Request,
    archive: ArchiveDep,
    provision_id: str,
    format: Literal["text", "bibtex", "csl-json"] = "text",
) -> Response:
    record = found(analysis.provision_record, archive, number(provision_id, "P"))
    fields = citation.citation_fields(
        record, provision_url(request, record["id"]), dt.datetime.now(dt.UTC).date()
    )
    if format == "bibtex":
        return PlainTextResponse(
            citation.as_bibtex(fields), media_type="application/x-bibtex; charset=utf-8"
        )
    if format == "csl-json":
        return Response(
            citation.as_csl(fields), media_type="application/vnd.citationstyles.csl+json"
        )
    return PlainTextResponse(citation.as_text(fields))


@router.get("/changes", summary="Change records, newest first")
def changes(
    archive: ArchiveDep,
    platform: Annotated[str | None, Query(max_length=100)] = None,
    document: Annotated[str | None, Query(description="Document ID (D-00001)")] = None,
    severity: Severity | None = None,
    direction: Literal["less protective", "more protective", "mixed", "neutral"] | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> JSON:
    doc_id = query_number(document, "D", "document") if document else None
    return change_records.list_changes_page(
        archive,
        platform=platform,
        document_id=doc_id,
        severity=severity,
        direction=direction,
        limit=limit,
        offset=offset,
    )


@router.get("/changes/{change_id}", summary="One change record with word-level redlines")
def change(archive: ArchiveDep, change_id: str) -> JSON:
    return found(change_records.change_page, archive, number(change_id, "C"))


@router.get("/clause-types", summary="Every clause type with its prevalence")
def clause_types(archive: ArchiveDep) -> list[JSON]:
    return analysis.clause_type_summary(archive)


@router.get("/clause-types/{type_id}", summary="One clause type's hub")
def clause_type(archive: ArchiveDep, type_id: str) -> JSON:
    return found(analysis.clause_type_hub, archive, type_id)


@router.get(
    "/compare/platforms",
    summary="Platform vs platform: every clause type found on either, state and severity",
)
def compare_platforms(
    archive: ArchiveDep,
    a: Annotated[str, Query(max_length=100, description="First platform slug")],
    b: Annotated[str, Query(max_length=100, description="Second platform slug")],
) -> JSON:
    return found(analysis.compare_platforms, archive, a, b)


@router.get("/compare/{type_id}", summary="2–4 platforms side by side for one clause type")
def compare(
    archive: ArchiveDep,
    type_id: str,
    platform: Annotated[list[str], Query(description="2 to 4 platform slugs")],
) -> JSON:
    return found(analysis.compare, archive, type_id, platform)


@router.get("/matrix", summary="Platform × clause type matrix")
def matrix(
    archive: ArchiveDep,
    type: Annotated[list[str] | None, Query()] = None,
    platform: Annotated[list[str] | None, Query()] = None,
) -> JSON:
    return found(analysis.matrix, archive, type or [], platform or [])


@router.get("/regulations", summary="Every regulation of the taxonomy, grouped by jurisdiction")
def regulations(archive: ArchiveDep) -> JSON:
    return analysis.list_regulations(archive)


@router.get("/regulations/{slug}", summary="One regulation: articles per clause type, counts")
def regulation(archive: ArchiveDep, slug: str) -> JSON:
    return found(analysis.regulation_detail, archive, slug)


@router.get("/stats/severity", summary="Current analysed provisions per severity")
def severity_mix(
    archive: ArchiveDep,
    platform: Annotated[str | None, Query(max_length=100)] = None,
    document: Annotated[str | None, Query(description="Document ID (D-00001)")] = None,
) -> dict[str, int]:
    doc_id = query_number(document, "D", "document") if document else None
    return analysis.severity_counts(archive, platform=platform or None, document_id=doc_id)


@router.get("/stats/activity", summary="Substantive change records per month (YYYY-MM)")
def change_activity(
    archive: ArchiveDep,
    platform: Annotated[str | None, Query(max_length=100)] = None,
    type: Annotated[str | None, Query(max_length=60, description="Clause type id")] = None,
) -> dict[str, int]:
    return analysis.change_activity(archive, platform=platform or None, type_id=type or None)


CLASSIFY_MAX_ITEMS = 64
CLASSIFY_MAX_ITEM_CHARS = 20_000
CLASSIFY_MAX_TOTAL_CHARS = 200_000
CLASSIFY_WINDOW = dt.timedelta(minutes=1)


class ClassifyItem(BaseModel):
    text: str = Field(
        max_length=CLASSIFY_MAX_ITEM_CHARS,
        description=f"The provision's text, at most {CLASSIFY_MAX_ITEM_CHARS:,} characters",
    )
    heading: str | None = Field(None, max_length=2_000, description="Its heading path, if any")


class ClassifyRequest(BaseModel):
    items: list[ClassifyItem] = Field(min_length=1, max_length=CLASSIFY_MAX_ITEMS)


def _classify_rate_limit(request: Request) -> None:
    """Count this request against its API key's account, or its client address (the login
    limiter's table, so every server process shares the count); 429 with Retry-After past
    `Settings.classify_per_minute` in a minute."""
    from clausewatch.accounts.service import TooManyAttempts, reserve_attempt
    from clausewatch.web.accounts import authenticate_request, client_ip

    archive = get_archive(request)
    auth = authenticate_request(request)  # an invalid key is a 401, not an anonymous call
    key = f"classify:account:{auth.account.id}" if auth else f"classify:ip:{client_ip(request)}"
    limit = archive.settings.classify_per_minute
    try:
        reserve_attempt(archive, {key: limit}, CLASSIFY_WINDOW, what="classify requests")
    except TooManyAttempts as exc:
        raise HTTPException(
            429,
            f"{exc} (at most {limit} classify requests a minute per API key or client address)",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None


@router.post(
    "/classify",
    summary="Classify any text (the `clausewatch classify` command over HTTP)",
    description=f"""One result per item, in order: clause types with score, calibrated
confidence, severity and its reasons, evidence basis and the supporting words (always
`text[start:end]`).

**Limits.** At most {CLASSIFY_MAX_ITEMS} items a request and {CLASSIFY_MAX_ITEM_CHARS:,}
characters an item (422 naming the item, e.g. `items.3.text`), and
{CLASSIFY_MAX_TOTAL_CHARS:,} characters of text in all (413). At most
`classify_per_minute` requests (default 30) a minute per API key, or per client address
without one: beyond, 429 with `Retry-After` (seconds).""",
    responses={
        400: {"model": ApiError, "description": "The body is not valid JSON"},
        413: {"model": ApiError, "description": "More text in all than one request may hold"},
        429: {
            "model": ApiError,
            "description": "Too many requests from this API key or address; see Retry-After",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        },
    },
)
def classify_texts(request: Request, body: ClassifyRequest) -> JSON:
    total = sum(len(item.text) for item in body.items)
    if total > CLASSIFY_MAX_TOTAL_CHARS:
        raise HTTPException(
            413,
            f"the items hold {total:,} characters of text together; at most "
            f"{CLASSIFY_MAX_TOTAL_CHARS:,} per request (split them over several requests)",
        )
    _classify_rate_limit(request)
    from clausewatch.classify.model import default_classifier

    items = body.items
    results = default_classifier().classify_many(
        [i.text for i in items], [i.heading for i in items]
    )
    return {
        "results": [
            {"predictions": [p.to_dict() for p in preds] if item.text.strip() else []}
            for item, preds in zip(items, results, strict=True)
        ]
    }
