"""Read paths for change records, shared by the CLI (`changes list/show`), the web pages and the
API: one row shape (`change_row`), lists filtered and paginated in SQL, and a record's detail
with its items' redlines (computed when read: `provisions.service.item_redlines`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from clausewatch.archive.service import Archive
from clausewatch.changes.redline import DiffOp, render_redline
from clausewatch.ids import format_id
from clausewatch.provisions.service import item_redlines
from clausewatch.storage.db import count_rows, list_page
from clausewatch.storage.models import ChangeRecord, Document, Platform, Provision


def change_row(record: ChangeRecord, document: Document) -> dict[str, Any]:
    return {
        "id": record.public_id,
        "document": document.public_id,
        "platform": document.platform.name,
        "document_type": document.doc_type,
        "from_version": format_id("V", record.from_version_id),
        "to_version": format_id("V", record.to_version_id),
        "recorded_at": record.recorded_at.isoformat(),
        "status": record.status,
        "summary": record.summary,
        "effective_date": record.effective_date,
        "severity": record.severity,
        "direction": record.direction,
        "counts": record.counts,
    }


def list_changes(
    archive: Archive, document_id: int | None = None, *, substantive_only: bool = True
) -> list[dict[str, Any]]:
    with archive.sessions() as session:
        query = select(ChangeRecord).order_by(ChangeRecord.recorded_at.desc(), ChangeRecord.id)
        if document_id is not None:
            query = query.where(ChangeRecord.document_id == document_id)
        if substantive_only:
            query = query.where(ChangeRecord.status == "substantive")
        records = list(session.scalars(query))
    wanted = sorted({r.document_id for r in records})
    documents = {
        d.id: d
        for d in archive.documents(active_only=False, ids=[format_id("D", i) for i in wanted])
    }
    return [change_row(r, documents[r.document_id]) for r in records]


def _redline_text(ops: list[DiffOp]) -> str:
    return render_redline(ops, "text") if ops else ""


def change_detail(archive: Archive, change_id: int) -> dict[str, Any]:
    return _change_detail(archive, change_id)[0]


def _change_detail(
    archive: Archive, change_id: int
) -> tuple[dict[str, Any], dict[int, list[DiffOp]]]:
    """:func:`change_detail` and its items' redlines (item id -> operations)."""
    with archive.sessions() as session:
        record = session.get(ChangeRecord, change_id)
        if record is None:
            raise LookupError(f"no change record {format_id('C', change_id)}")
        items = list(record.items)
        redlines = item_redlines(archive, session, record, items)  # computed, not stored
        titles = dict(
            session.execute(
                select(Provision.id, Provision.title).where(
                    Provision.id.in_([i.provision_id for i in items])
                )
            ).all()
        )
    document = archive.document(record.document_id)
    detail = {
        **change_row(record, document),
        "items": [
            {
                "provision": format_id("P", item.provision_id),
                "title": titles.get(item.provision_id, ""),
                "kind": item.kind,
                "substantive": item.substantive,
                "similarity": item.similarity,
                "sentences": item.sentences,
                "parameter_changes": [p["description"] for p in item.parameter_changes],
                "redline": _redline_text(redlines.get(item.id, [])),
            }
            for item in items
        ],
    }
    return detail, redlines


def recent_changes_query(since: dt.datetime) -> Any:
    """Substantive change records since ``since`` (the home page's and platform pages' counts)."""
    return select(ChangeRecord).where(
        ChangeRecord.status == "substantive", ChangeRecord.recorded_at >= since
    )


def list_changes_page(
    archive: Archive,
    *,
    platform: str | None = None,
    document_id: int | None = None,
    severity: str | None = None,
    direction: str | None = None,
    since: dt.datetime | None = None,
    substantive_only: bool = True,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Change records, newest first, filtered and paginated in SQL."""
    from sqlalchemy.orm import selectinload

    with archive.sessions() as session:
        query = (
            select(ChangeRecord, Document)
            .join(Document, Document.id == ChangeRecord.document_id)
            .join(Platform, Platform.id == Document.platform_id)
            .options(selectinload(Document.platform))
            .order_by(ChangeRecord.recorded_at.desc(), ChangeRecord.id.desc())
        )
        if platform:
            query = query.where(Platform.slug == platform)
        if document_id is not None:
            query = query.where(ChangeRecord.document_id == document_id)
        if severity:
            query = query.where(ChangeRecord.severity == severity)
        if direction:
            query = query.where(ChangeRecord.direction == direction)
        if since is not None:
            query = query.where(ChangeRecord.recorded_at >= since)
        if substantive_only:
            query = query.where(ChangeRecord.status == "substantive")
        total = count_rows(session, query)
        rows = session.execute(query.limit(limit).offset(offset)).all()
        items = [
            {**change_row(record, document), "platform_slug": document.platform.slug}
            for record, document in rows
        ]
    return list_page(total, items, limit, offset)


def change_page(archive: Archive, change_id: int) -> dict[str, Any]:
    """:func:`change_detail` plus the assessment reasons and each item's redline operations."""
    detail, redlines = _change_detail(archive, change_id)
    with archive.sessions() as session:
        record = session.get(ChangeRecord, change_id)
        assert record is not None
        items = list(record.items)
        document = session.get(Document, record.document_id)
        assert document is not None
        slug = document.platform.slug
        assessment = list(record.assessment)
    for out, item in zip(detail["items"], items, strict=True):
        out["redline_ops"] = [[op.op, op.text] for op in redlines.get(item.id, [])]
        out["severity"] = item.severity
        out["direction"] = item.direction
        out["assessment"] = list(item.assessment)
    return {**detail, "platform_slug": slug, "assessment": assessment}
