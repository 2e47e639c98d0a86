"""Read paths for provisions and change records, shared by the CLI and (later) the web and API,
so that every figure about a provision is computed in one place."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from clausewatch.archive.service import Archive
from clausewatch.changes.redline import DiffOp, render_redline
from clausewatch.ids import format_id
from clausewatch.storage.models import (
    ChangeItem,
    ChangeRecord,
    Document,
    Provision,
    ProvisionRevision,
    Version,
    VersionLayout,
)

# Stability of a provision, from its substantive modifications per year monitored (a provision
# monitored less than a year counts as one year, so one early edit does not make it volatile).
STABLE, EVOLVING, VOLATILE = "Stable", "Evolving", "Volatile"
VOLATILE_CHANGES_PER_YEAR = 2.0


def stability(changes: int, months_monitored: float) -> str:
    if changes == 0:
        return STABLE
    rate = changes / max(months_monitored / 12.0, 1.0)
    return VOLATILE if rate > VOLATILE_CHANGES_PER_YEAR else EVOLVING


def _months(start: dt.datetime, end: dt.datetime) -> float:
    return round(max(0.0, (end - start).days / 30.44), 1)


def _current_ids(archive: Archive, document: Document) -> set[int]:
    if document.current_version_id is None:
        return set()
    with archive.sessions() as session:
        layout = session.get(VersionLayout, document.current_version_id)
    return {row[0] for row in layout.segments} if layout else set()


def _substantive_changes(archive: Archive, provision_ids: list[int]) -> dict[int, int]:
    with archive.sessions() as session:
        rows = session.execute(
            select(ChangeItem.provision_id, func.count())
            .join(ChangeRecord, ChangeRecord.id == ChangeItem.change_id)
            .where(
                ChangeItem.provision_id.in_(provision_ids),
                ChangeItem.substantive.is_(True),
                ChangeItem.kind.in_(["modified", "moved", "split", "merged"]),
                ChangeRecord.status == "substantive",
            )
            .group_by(ChangeItem.provision_id)
        )
        return {pid: n for pid, n in rows}


def lifecycle(
    provision: Provision, document: Document, present: bool, changes: int
) -> dict[str, Any]:
    """First seen, last seen, last verified, revisions, months monitored, stability."""
    last_verified = document.last_verified_at if present else None
    last_seen = max(filter(None, [provision.last_seen_at, last_verified]))
    months = _months(provision.first_seen_at, last_seen)
    return {
        "first_seen": provision.first_seen_at.isoformat(),
        "last_seen": last_seen.isoformat(),
        "last_verified": last_verified.isoformat() if last_verified else None,
        "revisions": provision.revisions,
        "substantive_changes": changes,
        "months_monitored": months,
        "stability": stability(changes, months),
        "in_current_version": present,
    }


def list_provisions(
    archive: Archive, document_id: int | None = None, *, include_removed: bool = False
) -> list[dict[str, Any]]:
    documents = archive.documents(
        active_only=False, ids=[format_id("D", document_id)] if document_id else ()
    )
    rows: list[dict[str, Any]] = []
    for document in documents:
        with archive.sessions() as session:
            provisions = list(
                session.scalars(
                    select(Provision)
                    .where(Provision.document_id == document.id)
                    .order_by(Provision.id)
                )
            )
        current = _current_ids(archive, document)
        changes = _substantive_changes(archive, [p.id for p in provisions])
        for provision in provisions:
            present = provision.id in current
            if not present and not include_removed:
                continue
            life = lifecycle(provision, document, present, changes.get(provision.id, 0))
            rows.append(
                {
                    "id": provision.public_id,
                    "document": document.public_id,
                    "title": provision.title,
                    "heading": " › ".join(provision.heading_path),
                    "stability": life["stability"],
                    "substantive_changes": life["substantive_changes"],
                    "first_seen": life["first_seen"][:10],
                    "in_current_version": present,
                }
            )
    return rows


def provision_text(archive: Archive, revision: ProvisionRevision) -> str:
    """The provision's text: an exact slice of the archived version text."""
    with archive.sessions() as session:
        version = session.get(Version, revision.version_id)
    assert version is not None
    return archive.version_text(version)[revision.start : revision.end]


def provision_detail(archive: Archive, provision_id: int) -> dict[str, Any]:
    with archive.sessions() as session:
        provision = session.get(Provision, provision_id)
        if provision is None:
            raise LookupError(f"no provision {format_id('P', provision_id)}")
        revisions = list(
            session.scalars(
                select(ProvisionRevision)
                .where(ProvisionRevision.provision_id == provision_id)
                .order_by(ProvisionRevision.version_id)
            )
        )
        recorded = dict(
            session.execute(
                select(Version.id, Version.recorded_at).where(
                    Version.id.in_([r.version_id for r in revisions])
                )
            ).all()
        )
    document = archive.document(provision.document_id)
    present = provision.id in _current_ids(archive, document)
    changes = _substantive_changes(archive, [provision.id]).get(provision.id, 0)
    parameters = [
        {
            "version": format_id("V", r.version_id),
            "date": recorded[r.version_id].date().isoformat(),
            "kind": p["kind"],
            "value": p["value"],
            "quote": p["quote"],
        }
        for r in revisions
        for p in r.parameters
    ]
    return {
        "id": provision.public_id,
        "document": document.public_id,
        "platform": document.platform.name,
        "document_type": document.doc_type,
        "title": provision.title,
        "heading_path": provision.heading_path,
        "text": provision_text(archive, revisions[-1]),
        "label": revisions[-1].label,
        **lifecycle(provision, document, present, changes),
        "revisions": [
            {
                "version": format_id("V", r.version_id),
                "recorded_at": recorded[r.version_id].isoformat(),
                "sha256": r.text_sha256,
                "label": r.label,
            }
            for r in revisions
        ],
        "parameters": parameters,
    }


def _change_row(record: ChangeRecord, document: Document) -> dict[str, Any]:
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
    documents = {d.id: d for d in archive.documents(active_only=False)}
    return [_change_row(r, documents[r.document_id]) for r in records]


def _redline_text(stored: list[list[str]]) -> str:
    ops = [DiffOp(op, text) for op, text in stored]  # type: ignore[arg-type]
    return render_redline(ops, "text") if ops else ""


def change_detail(archive: Archive, change_id: int) -> dict[str, Any]:
    with archive.sessions() as session:
        record = session.get(ChangeRecord, change_id)
        if record is None:
            raise LookupError(f"no change record {format_id('C', change_id)}")
        items = list(record.items)
        titles = dict(
            session.execute(
                select(Provision.id, Provision.title).where(
                    Provision.id.in_([i.provision_id for i in items])
                )
            ).all()
        )
    document = archive.document(record.document_id)
    return {
        **_change_row(record, document),
        "items": [
            {
                "provision": format_id("P", item.provision_id),
                "title": titles.get(item.provision_id, ""),
                "kind": item.kind,
                "substantive": item.substantive,
                "similarity": item.similarity,
                "sentences": item.sentences,
                "parameter_changes": [p["description"] for p in item.parameter_changes],
                "redline": _redline_text(item.redline),
            }
            for item in items
        ],
    }
