"""The JSON API under `/api/v1`: everything the pages show. Routes read the archive with `def`
(they run in the threadpool); lists are paginated with `limit`/`offset` and return `total`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response

from clausewatch.analysis import queries as analysis
from clausewatch.provisions import queries as provisions
from clausewatch.web import citation
from clausewatch.web.deps import ArchiveDep, Limit, Offset, Severity, found, number

router = APIRouter(tags=["archive"])
JSON = dict[str, Any]


@router.get("/stats", summary="Live figures of the archive")
def stats(archive: ArchiveDep) -> JSON:
    return provisions.site_stats(archive)


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


@router.get("/versions/{version_id}", summary="One version with its archived text")
def version(archive: ArchiveDep, version_id: str) -> JSON:
    return found(provisions.version_detail, archive, number(version_id, "V"))


@router.get("/provisions", summary="Current analysed provisions, most severe first")
def provision_list(
    archive: ArchiveDep,
    platform: Annotated[str | None, Query(max_length=100)] = None,
    document: Annotated[str | None, Query(description="Document ID (D-00001)")] = None,
    type: Annotated[str | None, Query(max_length=60, description="Clause type id")] = None,
    severity: Severity | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> JSON:
    doc_id = number(document, "D") if document else None
    return found(
        analysis.list_analysed_provisions,
        archive,
        platform=platform,
        document_id=doc_id,
        type_id=type,
        severity=severity,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/provisions/{provision_id}",
    summary="One provision: text, history, evidence checks (run now) and analysis",
)
def provision(archive: ArchiveDep, provision_id: str) -> JSON:
    return found(analysis.provision_record, archive, number(provision_id, "P"))


def provision_url(request: Request, public_id: str) -> str:
    return str(request.url_for("provision_page", provision_id=public_id))


@router.get(
    "/provisions/{provision_id}/citation",
    summary="Citation record as plain text, BibTeX or CSL-JSON",
    response_class=PlainTextResponse,
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
    doc_id = number(document, "D") if document else None
    return provisions.list_changes_page(
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
    return found(provisions.change_page, archive, number(change_id, "C"))


@router.get("/clause-types", summary="Every clause type with its prevalence")
def clause_types(archive: ArchiveDep) -> list[JSON]:
    return analysis.clause_type_summary(archive)


@router.get("/clause-types/{type_id}", summary="One clause type's hub")
def clause_type(archive: ArchiveDep, type_id: str) -> JSON:
    return found(analysis.clause_type_hub, archive, type_id)


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
