"""Atom feeds of substantive change records (feedgen 1.0): all changes, per platform, per
document, per clause type. Public data only, like the change pages they link to.

Entry ids are stable ``tag:`` URIs built from the site's host and the change ID
(``tag:example.org,2026:changes/C-000123``), so a reader never sees an entry twice; an entry's
``updated`` is the change's `recorded_at`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator
from sqlalchemy import select

from clausewatch.alerts.dispatch import change_event
from clausewatch.alerts.matching import ALERTING_STATUS, change_targets
from clausewatch.archive.service import Archive
from clausewatch.changes.summary import summary_line
from clausewatch.config import Settings
from clausewatch.ids import format_id, parse_id
from clausewatch.render import to_plain_line
from clausewatch.storage.models import ChangeRecord, Document, Platform

FEED_ENTRIES = 50
CLAUSE_TYPE_SCAN = 1000  # the latest changes searched for a clause type's feed
TAG_DATE = "2026"  # the tag URIs' date: fixed forever, so ids never change


@dataclass(frozen=True)
class FeedScope:
    kind: str  # all platform document clause_type
    value: str = ""
    title: str = "All substantive changes"
    path: str = "/feeds/changes.atom"
    page: str = "/changes"


def _tag(settings: Settings, specific: str) -> str:
    host = urlsplit(settings.base_url).hostname or "clausewatch"
    return f"tag:{host},{TAG_DATE}:{specific}"


def scope_for(archive: Archive, kind: str, value: str = "") -> FeedScope:
    """The feed's scope; LookupError when its platform, document or clause type is unknown."""
    if kind == "all":
        return FeedScope("all")
    if kind == "platform":
        with archive.sessions() as session:
            platform = session.scalar(select(Platform).where(Platform.slug == value))
        if platform is None:
            raise LookupError(f"no platform {value!r}")
        return FeedScope(
            kind,
            platform.slug,
            f"{platform.name}: substantive changes",
            f"/feeds/platforms/{platform.slug}.atom",
            f"/platforms/{platform.slug}",
        )
    if kind == "document":
        try:
            number = parse_id(value, "D")
        except ValueError as exc:
            raise LookupError(str(exc)) from None
        with archive.sessions() as session:
            document = session.get(Document, number)
            if document is None:
                raise LookupError(f"no document {format_id('D', number)}")
            name = f"{document.platform.name} {document.doc_type}"
        public = format_id("D", number)
        return FeedScope(
            kind,
            public,
            f"{name}: substantive changes",
            f"/feeds/documents/{public}.atom",
            f"/documents/{public}",
        )
    if kind == "clause_type":
        from clausewatch.classify.taxonomy import default_taxonomy

        ctype = default_taxonomy().by_id.get(value)
        if ctype is None:
            raise LookupError(f"no clause type {value!r}")
        return FeedScope(
            kind,
            ctype.id,
            f"{ctype.name}: substantive changes across platforms",
            f"/feeds/clause-types/{ctype.id}.atom",
            f"/clause-types/{ctype.id}",
        )
    raise LookupError(f"no feed kind {kind!r}")


def feed_events(archive: Archive, scope: FeedScope, limit: int = FEED_ENTRIES) -> list[Any]:
    """The latest substantive changes in the scope, newest first, as change events."""
    settings = archive.settings
    with archive.sessions() as session:
        query = select(ChangeRecord).where(ChangeRecord.status == ALERTING_STATUS)
        if scope.kind == "platform":
            query = query.join(Document, Document.id == ChangeRecord.document_id).join(
                Platform, Platform.id == Document.platform_id
            )
            query = query.where(Platform.slug == scope.value)
        elif scope.kind == "document":
            query = query.where(ChangeRecord.document_id == parse_id(scope.value, "D"))
        query = query.order_by(ChangeRecord.recorded_at.desc(), ChangeRecord.id.desc())
        scan = CLAUSE_TYPE_SCAN if scope.kind == "clause_type" else limit
        records = list(session.scalars(query.limit(scan)))
        if scope.kind == "clause_type":
            records = [
                r for r in records if scope.value in change_targets(session, r).clause_types
            ][:limit]
        return [change_event(session, r, settings) for r in records]


def build_feed(archive: Archive, scope: FeedScope, now: dt.datetime | None = None) -> bytes:
    settings = archive.settings
    base = settings.base_url.rstrip("/")
    events = feed_events(archive, scope)
    fg = FeedGenerator()
    fg.id(_tag(settings, scope.path.removesuffix(".atom").lstrip("/")))
    fg.title(f"clausewatch — {scope.title}")
    fg.subtitle("Substantive changes to platform governance documents, recorded by clausewatch")
    fg.author({"name": "clausewatch"})
    fg.link(href=base + scope.path, rel="self", type="application/atom+xml")
    fg.link(href=base + scope.page, rel="alternate", type="text/html")
    fg.language("en")
    latest = [dt.datetime.fromisoformat(e["data"]["recorded_at"]) for e in events]
    fg.updated(max(latest) if latest else dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    for event in reversed(events):  # feedgen prepends: the newest ends up first
        data = event["data"]
        recorded = dt.datetime.fromisoformat(data["recorded_at"])
        direction = f" — {data['direction']}" if data["direction"] else ""
        entry = fg.add_entry()
        entry.id(_tag(settings, f"changes/{data['id']}"))
        entry.title(
            f"[{data['severity']}] {data['platform_name']} {data['document_type']} "
            f"changed{direction}"
        )
        entry.link(href=data["url"], rel="alternate", type="text/html")
        entry.updated(recorded)
        entry.published(recorded)
        reasons = "; ".join(to_plain_line(r) for r in data["reasons"])
        summary = summary_line(data["summary"])  # the reader text, on one line
        entry.summary(summary + (f" Why: {reasons}" if reasons else ""))
        entry.category(term=data["severity"], label=f"Severity: {data['severity']}")
    out: bytes = fg.atom_str(pretty=True)
    return out
