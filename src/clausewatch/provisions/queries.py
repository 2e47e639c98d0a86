"""Read paths for provisions, documents, platforms and versions, shared by the CLI, the web pages
and the API, so that every figure about a provision is computed in one place (change records
are read through `clausewatch.changes.queries`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import joinedload

from clausewatch.archive.service import Archive
from clausewatch.changes.queries import list_changes, list_changes_page, recent_changes_query
from clausewatch.ids import format_id
from clausewatch.provisions.segment import context_text
from clausewatch.storage.db import count_rows as _count
from clausewatch.storage.db import list_page as _page
from clausewatch.storage.db import state_memo
from clausewatch.storage.models import (
    Capture,
    ChangeItem,
    ChangeRecord,
    Document,
    Platform,
    Provision,
    ProvisionRevision,
    Variant,
    Version,
    VersionCapture,
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
        return _current_ids_in(session, document)


def _current_ids_in(session: Any, document: Document) -> set[int]:
    if document.current_version_id is None:
        return set()
    return _layout_ids(session, document.current_version_id)


def _substantive_changes(archive: Archive, provision_ids: list[int]) -> dict[int, int]:
    with archive.sessions() as session:
        return _substantive_changes_in(session, provision_ids)


def _substantive_changes_in(session: Any, provision_ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(ChangeItem.provision_id, func.count())
        .join(ChangeRecord, ChangeRecord.id == ChangeItem.change_id)
        .where(ChangeItem.provision_id.in_(provision_ids), *_SUBSTANTIVE)
        .group_by(ChangeItem.provision_id)
    )
    return {pid: n for pid, n in rows}


# a substantive modification of a provision (what its stability counts)
_SUBSTANTIVE = (
    ChangeItem.substantive.is_(True),
    ChangeItem.kind.in_(["modified", "moved", "split", "merged"]),
    ChangeRecord.status == "substantive",
)


def _document(session: Any, document_id: int) -> Document:
    """A document with its platform and current version loaded (``Archive.document`` in the
    caller's session: one query, no session of its own)."""
    document = session.get(
        Document,
        document_id,
        options=[joinedload(Document.platform), joinedload(Document.current_version)],
    )
    if document is None:
        raise LookupError(f"no document D-{document_id:05d}")
    return cast(Document, document)


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
    """A provision with its lifecycle, latest text, revisions and parameter timeline."""
    with archive.sessions() as session:
        return provision_detail_in(archive, session, provision_id)[0]


def provision_detail_in(
    archive: Archive, session: Any, provision_id: int
) -> tuple[dict[str, Any], Any]:
    """:func:`provision_detail` in the caller's session, and the row of the provision's latest
    revision (``revision_id``, ``version_id``, ``start``, ``end``, ``version_sha256``: the
    text it is sliced from), for the rest of a provision page. Core queries, no ORM entities:
    on a cold page the ORM cost 5–10× the statements (issue #13)."""
    conn = session.connection()
    head = conn.execute(_PROVISION_HEAD, {"pid": provision_id}).first()
    if head is None:
        raise LookupError(f"no provision {format_id('P', provision_id)}")
    revisions = conn.execute(_REVISIONS, {"pid": provision_id}).all()
    present = provision_id in _current_ids_memo(session, head.current_version_id)
    latest = revisions[-1]
    version_text = archive.text(latest.version_sha256)
    text = version_text[latest.start : latest.end]
    detail = {
        "id": format_id("P", provision_id),
        "document": format_id("D", head.document_id),
        "platform": head.platform,
        "document_type": head.doc_type,
        "title": head.title,
        "heading_path": head.heading_path,
        "text": text,
        "context": _context(version_text, latest),
        "label": latest.label,
        **lifecycle(head, head, present, head.substantive_changes),
        "revisions": [
            {
                "version": format_id("V", r.version_id),
                "recorded_at": r.recorded_at.isoformat(),
                "sha256": r.text_sha256,
                "label": r.label,
            }
            for r in revisions
        ],
        "parameters": _parameter_timeline(revisions),
    }
    return detail, latest


def _context(version_text: str, revision: Any) -> dict[str, Any] | None:
    """What the provision is read under (a list's lead-in, a table's header row), as the
    classifier read it and as the exact slice of the version text it came from; None when the
    revision has none or was built before migration 0016."""
    start, end = revision.context_start, revision.context_end
    if start is None or end is None:
        return None
    return {
        "kind": "table header" if revision.kind == "table_row" else "lead-in",
        "text": context_text(version_text, (start, end), revision.kind),
        "quote": version_text[start:end],
        "start": start,
        "end": end,
    }


_PROVISION_HEAD = (
    select(
        Provision.document_id,
        Provision.title,
        Provision.heading_path,
        Provision.first_seen_at,
        Provision.last_seen_at,
        Provision.revisions,
        Document.doc_type,
        Document.current_version_id,
        Document.last_verified_at,
        Platform.name.label("platform"),
        # counted here, not in a statement of its own (a round trip less on PostgreSQL)
        select(func.count())
        .select_from(ChangeItem)
        .join(ChangeRecord, ChangeRecord.id == ChangeItem.change_id)
        .where(ChangeItem.provision_id == Provision.id, *_SUBSTANTIVE)
        .scalar_subquery()
        .label("substantive_changes"),
    )
    .join(Document, Document.id == Provision.document_id)
    .join(Platform, Platform.id == Document.platform_id)
    .where(Provision.id == bindparam("pid"))
)
_REVISIONS = (
    select(
        ProvisionRevision.id.label("revision_id"),
        ProvisionRevision.version_id,
        ProvisionRevision.start,
        ProvisionRevision.end,
        ProvisionRevision.text_sha256,
        ProvisionRevision.label,
        ProvisionRevision.parameters,
        ProvisionRevision.kind,
        ProvisionRevision.context_start,
        ProvisionRevision.context_end,
        Version.recorded_at,
        Version.text_sha256.label("version_sha256"),
    )
    .join(Version, Version.id == ProvisionRevision.version_id)
    .where(ProvisionRevision.provision_id == bindparam("pid"))
    .order_by(ProvisionRevision.version_id)
)


def _current_ids_memo(session: Any, version_id: int | None) -> frozenset[int]:
    """The provisions of a document's current version, once per archive state (its layout's
    JSON is parsed once, not on every provision page)."""
    if version_id is None:
        return frozenset()
    return state_memo(
        session,
        ("current-provision-ids", version_id),
        lambda: frozenset(_layout_ids(session, version_id)),
    )


def _layout_ids(session: Any, version_id: int) -> set[int]:
    layout = session.get(VersionLayout, version_id)
    return {row[0] for row in layout.segments} if layout else set()


def _parameter_timeline(revisions: Sequence[Any]) -> list[dict[str, Any]]:
    timeline: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for r in revisions:  # a value stated twice on one day is one row of the timeline
        day = r.recorded_at.date().isoformat()
        for p in r.parameters:
            timeline.setdefault(
                (day, p["kind"], str(p["value"]), p["quote"]),
                {
                    "version": format_id("V", r.version_id),
                    "date": day,
                    "kind": p["kind"],
                    "value": p["value"],
                    "quote": p["quote"],
                },
            )
    return list(timeline.values())


# --- read paths of the web pages and the API ---------------------------------------------------
# Lists return {"total", "limit", "offset", "items"}; every filter is applied in SQL.

RECENT_DAYS = 30


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _current_provision_counts(
    session: Any, document_ids: list[int] | None = None
) -> dict[int, int]:
    """Document id -> number of provisions in its current version (from the stored layouts)."""
    query = select(Document.id, VersionLayout).join(
        VersionLayout, VersionLayout.version_id == Document.current_version_id
    )
    if document_ids is not None:
        query = query.where(Document.id.in_(document_ids))
    rows = session.execute(query).all()
    keyframes = {layout.base_version_id for _, layout in rows} - {None}
    # the deltas' keyframe layouts in one query, held while the deltas are read (the session's
    # identity map keeps only what is referenced)
    keyframe_query = select(VersionLayout).where(VersionLayout.version_id.in_(keyframes))
    held = session.scalars(keyframe_query).all() if keyframes else []
    counts = {doc_id: len(layout.segments) for doc_id, layout in rows}
    del held
    return counts


def site_stats(archive: Archive, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The home page's live figures."""
    since = _now(now) - dt.timedelta(days=RECENT_DAYS)
    counts = archive.counts()
    with archive.sessions() as session:
        provisions = session.scalar(select(func.count()).select_from(Provision)) or 0
        current = sum(_current_provision_counts(session).values())
        changes = session.scalar(
            select(func.count())
            .select_from(ChangeRecord)
            .where(ChangeRecord.status == "substantive")
        )
        recent = _count(session, recent_changes_query(since))
    return {
        "platforms": counts["platforms"],
        "documents": counts["documents"],
        "versions": counts["versions"],
        "captures": counts["captures"],
        "provisions": provisions,
        "current_provisions": current,
        "changes": changes or 0,
        "changes_last_30_days": recent,
        "recent_days": RECENT_DAYS,
        "as_of": _now(now).isoformat(),
    }


def _platform_row(platform: Platform, documents: int, recent: int) -> dict[str, Any]:
    return {
        "slug": platform.slug,
        "name": platform.name,
        "category": platform.category,
        "jurisdictions": list(platform.jurisdictions or []),
        "website": platform.website or None,
        "documents": documents,
        "changes_last_30_days": recent,
    }


def _has_versions() -> Any:
    """SQL: the platform has at least one archived version (it has been captured or imported)."""
    return (
        select(Version.id)
        .join(Document, Document.id == Version.document_id)
        .where(Document.platform_id == Platform.id)
        .exists()
    )


def _platform_order() -> tuple[Any, ...]:
    """The platform lists' order: platforms with archived versions first, then by name."""
    return (case((_has_versions(), 0), else_=1), Platform.name, Platform.id)


def platform_names(archive: Archive, *, limit: int = 500) -> list[dict[str, str]]:
    """Slug and name of each platform, in the platform list's order (a filter's choices): one
    narrow query, where `list_platforms` also counts versions and current provisions."""
    with archive.sessions() as session:
        rows = session.execute(
            select(Platform.slug, Platform.name).order_by(*_platform_order()).limit(limit)
        )
        return [{"slug": slug, "name": name} for slug, name in rows]


def list_platforms(
    archive: Archive,
    *,
    category: str | None = None,
    limit: int = 50,
    offset: int = 0,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Platforms, those with archived versions first (then by name), each with its counts of
    documents, archived versions and current provisions; ``captured`` is False for a platform
    that is declared but has no version yet."""
    since = _now(now) - dt.timedelta(days=RECENT_DAYS)
    with archive.sessions() as session:
        captured = _has_versions()
        query = select(Platform).order_by(*_platform_order())
        if category:
            query = query.where(Platform.category == category)
        total = _count(session, query)
        with_data = _count(session, query.where(captured))
        platforms = list(session.scalars(query.limit(limit).offset(offset)))
        ids = [p.id for p in platforms]
        versions = dict(
            session.execute(
                select(Document.platform_id, func.count(Version.id))
                .join(Version, Version.document_id == Document.id)
                .where(Document.platform_id.in_(ids))
                .group_by(Document.platform_id)
            ).all()
        )
        owner = dict(
            session.execute(
                select(Document.id, Document.platform_id).where(Document.platform_id.in_(ids))
            ).all()
        )
        provisions: dict[int, int] = {}
        for doc_id, count in _current_provision_counts(session, list(owner)).items():
            provisions[owner[doc_id]] = provisions.get(owner[doc_id], 0) + count
        documents = dict(
            session.execute(
                select(Document.platform_id, func.count())
                .where(Document.platform_id.in_(ids))
                .group_by(Document.platform_id)
            ).all()
        )
        recent = dict(
            session.execute(
                select(Document.platform_id, func.count())
                .join(ChangeRecord, ChangeRecord.document_id == Document.id)
                .where(
                    Document.platform_id.in_(ids),
                    ChangeRecord.status == "substantive",
                    ChangeRecord.recorded_at >= since,
                )
                .group_by(Document.platform_id)
            ).all()
        )
        categories = sorted(set(session.scalars(select(Platform.category).distinct())))
    items = [
        {
            **_platform_row(p, documents.get(p.id, 0), recent.get(p.id, 0)),
            "versions": versions.get(p.id, 0),
            "provisions": provisions.get(p.id, 0),
            "captured": versions.get(p.id, 0) > 0,
        }
        for p in platforms
    ]
    return {
        **_page(total, items, limit, offset),
        "with_data": with_data,
        "categories": categories,
    }


def _document_row(document: Document, provisions: int | None = None) -> dict[str, Any]:
    current = document.current_version
    return {
        "id": document.public_id,
        "platform": document.platform.name,
        "platform_slug": document.platform.slug,
        "type": document.doc_type,
        "active": document.active,
        "sources": [s.get("url") for s in document.declaration.get("sources", [])],
        "current_version": current.public_id if current else None,
        "last_updated": _iso(current.recorded_at) if current else None,
        "first_tracked": _iso(document.created_at),
        "last_checked": _iso(document.last_checked_at),
        "last_verified": _iso(document.last_verified_at),
        "current_provisions": provisions,
    }


def list_documents(
    archive: Archive, *, platform: str | None = None, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    from sqlalchemy.orm import selectinload

    with archive.sessions() as session:
        query = (
            select(Document)
            .join(Platform, Platform.id == Document.platform_id)
            .options(selectinload(Document.platform), selectinload(Document.current_version))
            .order_by(Platform.name, Document.doc_type, Document.id)
        )
        if platform:
            query = query.where(Platform.slug == platform)
        total = _count(session, query)
        documents = list(session.scalars(query.limit(limit).offset(offset)))
        counts = _current_provision_counts(session, [d.id for d in documents])
        items = [_document_row(d, counts.get(d.id, 0)) for d in documents]
    return _page(total, items, limit, offset)


def platform_detail(
    archive: Archive, slug: str, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """A platform with its documents, recent change records and change frequency."""
    from sqlalchemy.orm import selectinload

    when = _now(now)
    with archive.sessions() as session:
        platform = session.scalars(select(Platform).where(Platform.slug == slug)).first()
        if platform is None:
            raise LookupError(f"no platform {slug!r}")
        documents = list(
            session.scalars(
                select(Document)
                .where(Document.platform_id == platform.id)
                .options(selectinload(Document.platform), selectinload(Document.current_version))
                .order_by(Document.doc_type)
            )
        )
        counts = _current_provision_counts(session, [d.id for d in documents])
        doc_rows = [_document_row(d, counts.get(d.id, 0)) for d in documents]

        def changes_since(days: int) -> int:
            return _count(
                session,
                recent_changes_query(when - dt.timedelta(days=days)).where(
                    ChangeRecord.document_id.in_([d.id for d in documents])
                ),
            )

        frequency = {"last_30_days": changes_since(30), "last_365_days": changes_since(365)}
    recent = list_changes_page(archive, platform=slug, limit=10)
    return {
        **_platform_row(platform, len(documents), frequency["last_30_days"]),
        "documents_list": doc_rows,
        "change_frequency": {**frequency, "total": recent["total"]},
        "recent_changes": recent["items"],
    }


def document_summary(archive: Archive, document_id: int) -> dict[str, Any]:
    """:func:`document_detail` without its version history and change records (what a
    provision page shows of its document): three small queries, one session."""
    with archive.sessions() as session:
        return document_summary_in(session, document_id)


def document_summary_in(session: Any, document_id: int) -> dict[str, Any]:
    """:func:`document_summary` in the caller's session (a second pooled connection per
    request deadlocks the pool under load)."""
    document = _document(session, document_id)
    counts = _current_provision_counts(session, [document_id])
    captures = session.connection().execute(_CAPTURE_COUNT, {"did": document_id}).scalar()
    return {**_document_row(document, counts.get(document_id, 0)), "captures": captures or 0}


_CAPTURE_COUNT = (
    select(func.count()).select_from(Capture).where(Capture.document_id == bindparam("did"))
)


def document_detail(archive: Archive, document_id: int) -> dict[str, Any]:
    """A document with its version history and change records."""
    document = archive.document(document_id)
    with archive.sessions() as session:
        counts = _current_provision_counts(session, [document_id])
        capture_counts = dict(
            session.execute(
                select(Capture.version_id, func.count())
                .where(Capture.document_id == document_id, Capture.version_id.is_not(None))
                .group_by(Capture.version_id)
            ).all()
        )
        changes = {
            r.to_version_id: r.public_id
            for r in session.scalars(
                select(ChangeRecord).where(
                    ChangeRecord.document_id == document_id,
                    ChangeRecord.status == "substantive",
                )
            )
        }
        captures = session.scalar(
            select(func.count()).select_from(Capture).where(Capture.document_id == document_id)
        )
        variant_counts = dict(
            session.execute(
                select(Variant.version_id, func.count())
                .where(Variant.document_id == document_id)
                .group_by(Variant.version_id)
            ).all()
        )
    versions = [
        {
            "id": v.public_id,
            "kind": v.kind,
            "status": v.status,
            "recorded_at": v.recorded_at.isoformat(),
            "sha256": v.text_sha256,
            "length": v.text_length,
            "predecessor": format_id("V", v.predecessor_id) if v.predecessor_id else None,
            "captures": capture_counts.get(v.id, 0),
            "change_record": changes.get(v.id),
            "variants": variant_counts.get(v.id, 0),
        }
        for v in archive.versions(document_id)
    ]
    return {
        **_document_row(document, counts.get(document_id, 0)),
        "captures": captures or 0,
        "versions": versions,
        "changes": list_changes(archive, document_id),
    }


def version_detail(archive: Archive, version_id: int) -> dict[str, Any]:
    """One version's metadata and archived text."""
    with archive.sessions() as session:
        version = session.get(Version, version_id)
        if version is None:
            raise LookupError(f"no version {format_id('V', version_id)}")
    document = archive.document(version.document_id)
    return {
        "id": version.public_id,
        "document": document.public_id,
        "platform": document.platform.name,
        "platform_slug": document.platform.slug,
        "document_type": document.doc_type,
        "kind": version.kind,
        "status": version.status,
        "recorded_at": version.recorded_at.isoformat(),
        "sha256": version.text_sha256,
        "predecessor": format_id("V", version.predecessor_id) if version.predecessor_id else None,
        "current": document.current_version_id == version.id,
        "text": archive.version_text(version),
        "variants": version_variants(archive, version_id),
    }


# How a variant differs from its version (``kind`` -> reason shown with it).
EQUIVALENT, FLIP_FLOP = "equivalent", "flip_flop"
VARIANT_REASONS = {
    EQUIVALENT: "the same text once layout, links and spelling are set aside "
    "(the version's comparison key)",
    FLIP_FLOP: "served in alternation with this version (A → B → A inside the flip-flop "
    "window, e.g. a regional or A/B variant): recorded as a version, then folded into this one",
}


def _variant_rows(session: Any, version: Version, shas: list[str]) -> list[dict[str, Any]]:
    """Each text's sightings (captures of the document that extracted it; one check with
    several sources is one sighting) and the flip-flop version it was recorded as, if any."""
    seen = {
        sha: (first, last, times)
        for sha, first, last, times in session.execute(
            select(
                Capture.text_sha256,
                func.min(Capture.started_at),
                func.max(Capture.started_at),
                func.count(func.distinct(Capture.check_id)),
            )
            .where(Capture.document_id == version.document_id, Capture.text_sha256.in_(shas))
            .group_by(Capture.text_sha256)
        )
    }
    folded = {
        sha: vid
        for sha, vid in session.execute(
            select(Version.text_sha256, func.min(Version.id))
            .where(
                Version.document_id == version.document_id,
                Version.text_sha256.in_(shas),
                Version.status == "flip_flop",
            )
            .group_by(Version.text_sha256)
        )
    }
    rows = []
    for sha in shas:
        first, last, times = seen.get(sha, (None, None, 0))
        kind = FLIP_FLOP if sha in folded else EQUIVALENT
        rows.append(
            {
                "sha256": sha,
                "kind": kind,
                "reason": VARIANT_REASONS[kind],
                "recorded_as": format_id("V", folded[sha]) if sha in folded else None,
                "first_seen": _iso(first),
                "last_seen": _iso(last),
                "times_seen": int(times),
            }
        )
    return rows


def version_variants(archive: Archive, version_id: int) -> list[dict[str, Any]]:
    """The texts kept as variants of one version instead of changes (``variants`` table), most
    recently seen first: how each differs (``kind``, ``reason``; a ``flip_flop`` one names the
    version it was briefly ``recorded_as``), first and last seen, times seen, its text's SHA-256
    (the key of :func:`version_variant`, which diffs it against the version)."""
    with archive.sessions() as session:
        version = session.get(Version, version_id)
        if version is None:
            raise LookupError(f"no version {format_id('V', version_id)}")
        shas = list(
            session.scalars(
                select(Variant.text_sha256)
                .where(Variant.version_id == version_id)
                .order_by(Variant.id)
            )
        )
        rows = _variant_rows(session, version, shas) if shas else []
    return sorted(rows, key=lambda r: r["last_seen"] or "", reverse=True)


def version_variant(archive: Archive, version_id: int, sha256: str) -> dict[str, Any]:
    """One variant of a version with a word-level redline from the version's text to the
    variant's (what was served instead); unknown version or not its variant -> LookupError."""
    from clausewatch.changes.redline import redline

    with archive.sessions() as session:
        version = session.get(Version, version_id)
        if version is None:
            raise LookupError(f"no version {format_id('V', version_id)}")
        variant = session.scalars(
            select(Variant).where(Variant.version_id == version_id, Variant.text_sha256 == sha256)
        ).first()
        if variant is None:
            raise LookupError(f"{sha256[:64]!r} is not a variant of {version.public_id}")
        (row,) = _variant_rows(session, version, [sha256])
    document = archive.document(version.document_id)
    try:
        text: str | None = archive.store.get(sha256).decode("utf-8")
    except (KeyError, ValueError):  # missing or damaged in the store (verify names it)
        text = None
    ops = redline(archive.version_text(version), text) if text is not None else []
    return {
        **row,
        "version": version.public_id,
        "version_recorded_at": version.recorded_at.isoformat(),
        "version_sha256": version.text_sha256,
        "document": document.public_id,
        "platform": document.platform.name,
        "platform_slug": document.platform.slug,
        "document_type": document.doc_type,
        "text_stored": text is not None,
        "identical": all(op.op == "equal" for op in ops),
        "words_inserted": sum(len(op.text.split()) for op in ops if op.op == "insert"),
        "words_deleted": sum(len(op.text.split()) for op in ops if op.op == "delete"),
        "ops": [[op.op, op.text] for op in ops],
    }


def document_segments(archive: Archive, document_id: int) -> dict[str, Any]:
    """The document's current text split into provisions (and the text between them), each
    provision with its severity and primary clause type where analysed."""
    from clausewatch.storage.models import ProvisionAnalysis

    document = archive.document(document_id)
    if document.current_version_id is None:
        return {"document": document.public_id, "version": None, "segments": []}
    with archive.sessions() as session:
        layout = session.get(VersionLayout, document.current_version_id)
        version = session.get(Version, document.current_version_id)
        assert version is not None
        ids = [row[0] for row in layout.segments] if layout else []
        titles = dict(
            session.execute(
                select(Provision.id, Provision.title).where(Provision.id.in_(ids))
            ).all()
        )
        analyses = {
            a.provision_id: a
            for a in session.scalars(
                select(ProvisionAnalysis).where(ProvisionAnalysis.provision_id.in_(ids))
            )
        }
    text = archive.version_text(version)
    segments: list[dict[str, Any]] = []
    position = 0
    for row in layout.segments if layout else []:
        pid, start, end = row[0], row[1], row[2]
        if start > position and text[position:start].strip():
            segments.append({"provision": None, "text": text[position:start]})
        analysis = analyses.get(pid)
        segments.append(
            {
                "provision": format_id("P", pid),
                "title": titles.get(pid, ""),
                "label": row[4] if len(row) > 4 else None,
                "start": start,
                "end": end,
                "text": text[start:end],
                "severity": analysis.severity if analysis else None,
                "type": analysis.primary_type if analysis else None,
            }
        )
        position = max(position, end)
    if text[position:].strip():
        segments.append({"provision": None, "text": text[position:]})
    return {
        "document": document.public_id,
        "version": format_id("V", document.current_version_id),
        "sha256": version.text_sha256,
        "segments": segments,
    }


def _declared_urls(document: Any) -> list[str | None]:
    """The source URLs a document's declaration names (imported captures link to these);
    ``document``: a Document, a row with its ``declaration``, or None."""
    declaration = document.declaration if document is not None else {}
    return [s.get("url") for s in (declaration or {}).get("sources", [])]


def provision_evidence(archive: Archive, provision_id: int) -> dict[str, Any]:
    """Evidence for a provision's latest text: the captures its version came from, each with
    checks (the snapshot is in the store and re-hashes to its SHA-256), and the same check of
    the version text the quote is sliced from; see :func:`provision_evidence_in`."""
    with archive.sessions() as session:
        version_id = session.scalar(
            select(ProvisionRevision.version_id)
            .where(ProvisionRevision.provision_id == provision_id)
            .order_by(ProvisionRevision.version_id.desc())
            .limit(1)
        )
        if version_id is None:
            raise LookupError(f"no provision {format_id('P', provision_id)}")
        return provision_evidence_in(archive, session, version_id)


def provision_evidence_in(archive: Archive, session: Any, version_id: int) -> dict[str, Any]:
    """The evidence of the version ``version_id`` (a provision's latest) in the caller's
    session: two Core queries. Each blob is re-hashed at most once per
    ``http_cache_seconds`` (:func:`clausewatch.archive.evidence.checked_blob`); ``checked_at``
    is when the oldest of the checks shown ran."""
    from clausewatch.archive.evidence import checked_blob, source_links

    conn = session.connection()
    version = conn.execute(_EVIDENCE_VERSION, {"vid": version_id}).one()
    declared = _declared_urls(version)
    interval = archive.settings.http_cache_seconds
    times: list[dt.datetime] = []
    rows = []
    for capture in conn.execute(_EVIDENCE_CAPTURES, {"vid": version_id}):
        if capture.snapshot_sha256:
            check = checked_blob(archive.store, capture.snapshot_sha256, interval, times)
        else:
            check = {"stored": False, "verified": False, "problem": "no snapshot was recorded"}
        source, web_archive = source_links(capture.url, declared, capture.started_at)
        rows.append(
            {
                "id": format_id("CAP", capture.id),
                "url": capture.url,
                "final_url": capture.final_url,
                "source_url": source,
                "fetcher": capture.fetcher,
                "captured_at": capture.started_at.isoformat(),
                "status": capture.status_code,
                "snapshot_sha256": capture.snapshot_sha256,
                "web_archive": web_archive,
                "snapshot_stored": check["stored"],
                "hash_verified": check["verified"],
                "problem": check["problem"],
            }
        )
    text_check = checked_blob(archive.store, version.text_sha256, interval, times)
    return {
        "version": format_id("V", version_id),
        "version_recorded_at": version.recorded_at.isoformat(),
        "origin": version.origin,
        "text_sha256": version.text_sha256,
        "text_stored": text_check["stored"],
        "text_verified": text_check["verified"],
        "text_problem": text_check["problem"],
        "captures": rows,
        "checked_at": min(times).isoformat(),
    }


_EVIDENCE_VERSION = (
    select(Version.recorded_at, Version.origin, Version.text_sha256, Document.declaration)
    .join(Document, Document.id == Version.document_id)
    .where(Version.id == bindparam("vid"))
)
_EVIDENCE_CAPTURES = (
    select(
        Capture.id,
        Capture.url,
        Capture.final_url,
        Capture.fetcher,
        Capture.started_at,
        Capture.status_code,
        Capture.snapshot_sha256,
    )
    .join(VersionCapture, VersionCapture.capture_id == Capture.id)
    .where(VersionCapture.version_id == bindparam("vid"))
    .order_by(Capture.id)
)


def document_redline(
    archive: Archive, document_id: int, from_version: int, to_version: int
) -> dict[str, Any]:
    """A word-level redline between any two versions of one document (either order)."""
    from clausewatch.changes.redline import redline

    document = archive.document(document_id)
    with archive.sessions() as session:
        versions = {}
        for vid in (from_version, to_version):
            version = session.get(Version, vid)
            if version is None:
                raise LookupError(f"no version {format_id('V', vid)}")
            if version.document_id != document_id:
                raise ValueError(
                    f"{format_id('V', vid)} is a version of "
                    f"{format_id('D', version.document_id)}, not of {document.public_id}"
                )
            versions[vid] = version
    old, new = versions[from_version], versions[to_version]
    ops = redline(archive.version_text(old), archive.version_text(new))

    def words(kind: str) -> int:
        return sum(len(op.text.split()) for op in ops if op.op == kind)

    def meta(v: Version) -> dict[str, Any]:
        return {
            "id": v.public_id,
            "recorded_at": v.recorded_at.isoformat(),
            "sha256": v.text_sha256,
        }

    return {
        "document": document.public_id,
        "platform": document.platform.name,
        "platform_slug": document.platform.slug,
        "document_type": document.doc_type,
        "from": meta(old),
        "to": meta(new),
        "identical": all(op.op == "equal" for op in ops),
        "words_inserted": words("insert"),
        "words_deleted": words("delete"),
        "ops": [[op.op, op.text] for op in ops],
    }


def document_captures(
    archive: Archive, document_id: int, *, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """The document's captures, newest first, each with its checks: the snapshot is in the store
    and re-hashes to its SHA-256, re-run at most once per ``http_cache_seconds``
    (:func:`clausewatch.archive.evidence.checked_blob`, as on the provision page: a page of 50
    captures no longer reads and hashes 50 snapshots on every request); ``checked_at`` is when
    the oldest of the checks shown ran (None when no capture has a snapshot)."""
    from clausewatch.archive.evidence import checked_blob, source_links

    document = archive.document(document_id)
    declared = _declared_urls(document)
    with archive.sessions() as session:
        query = (
            select(Capture)
            .where(Capture.document_id == document_id)
            .order_by(Capture.started_at.desc(), Capture.id.desc())
        )
        total = _count(session, query)
        captures = list(session.scalars(query.limit(limit).offset(offset)))
    items = []
    times: list[dt.datetime] = []
    interval = archive.settings.http_cache_seconds
    for capture in captures:
        check = (
            checked_blob(archive.store, capture.snapshot_sha256, interval, times)
            if capture.snapshot_sha256
            else {"stored": False, "verified": False, "problem": "no snapshot was recorded"}
        )
        source, web_archive = source_links(capture.url, declared, capture.started_at)
        items.append(
            {
                "id": capture.public_id,
                "captured_at": capture.started_at.isoformat(),
                "fetcher": capture.fetcher,
                "status": capture.status_code,
                "url": capture.url,
                "final_url": capture.final_url,
                "source_url": source,
                "outcome": capture.outcome,
                "snapshot_sha256": capture.snapshot_sha256,
                "version": format_id("V", capture.version_id) if capture.version_id else None,
                "web_archive": web_archive,
                "snapshot_stored": check["stored"],
                "hash_verified": check["verified"],
                "problem": check["problem"],
            }
        )
    checked_at = min(times).isoformat() if times else None
    page = {**_page(total, items, limit, offset), "document": document.public_id}
    return {**page, "checked_at": checked_at}
