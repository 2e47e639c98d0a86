"""Which watches a change record concerns.

- Only substantive change records alert: never non_substantive (noise at clause level),
  technical (re-extraction) or retracted (a flip-flop folded into a variant).
- The record's severity must reach the watch's `min_severity`; a record not (yet) assessed
  counts as Low.
- The target must match: platform (the record's document's platform), document (the record's
  document), provision (a substantive item of the record touches it), clause type (a provision
  touched by a substantive item is classified with that type in the old or the new revision,
  any rank, or is that type's primary provision analysis).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from clausewatch.alerts.watchlist import SEVERITY_RANK
from clausewatch.ids import format_id
from clausewatch.storage.models import (
    ChangeItem,
    ChangeRecord,
    Classification,
    Document,
    ProvisionAnalysis,
    ProvisionRevision,
    Watch,
)

ALERTING_STATUS = "substantive"


def record_severity(record: ChangeRecord) -> str:
    return record.severity if record.severity in SEVERITY_RANK else "Low"


@dataclass(frozen=True)
class ChangeTargets:
    """Everything a change record can be watched through."""

    platform: str  # slug
    document: str  # D-00001
    provisions: frozenset[str]  # P-000001 touched by substantive items
    clause_types: frozenset[str]


def change_targets(session: Session, record: ChangeRecord) -> ChangeTargets:
    document = session.get(Document, record.document_id)
    assert document is not None
    items = list(
        session.scalars(
            select(ChangeItem).where(
                ChangeItem.change_id == record.id, ChangeItem.substantive.is_(True)
            )
        )
    )
    provision_ids = sorted({i.provision_id for i in items})
    types: set[str] = set()
    if provision_ids:
        versions = [v for v in (record.from_version_id, record.to_version_id) if v is not None]
        types.update(
            session.scalars(
                select(Classification.type_id)
                .join(ProvisionRevision, ProvisionRevision.id == Classification.revision_id)
                .where(
                    ProvisionRevision.provision_id.in_(provision_ids),
                    ProvisionRevision.version_id.in_(versions),
                )
            )
        )
        types.update(
            t
            for t in session.scalars(
                select(ProvisionAnalysis.primary_type).where(
                    ProvisionAnalysis.provision_id.in_(provision_ids)
                )
            )
            if t
        )
    return ChangeTargets(
        platform=document.platform.slug,
        document=document.public_id,
        provisions=frozenset(format_id("P", p) for p in provision_ids),
        clause_types=frozenset(types),
    )


def target_matches(watch: Watch, targets: ChangeTargets) -> bool:
    kind, value = watch.target_kind, watch.target
    if kind == "platform":
        return value == targets.platform
    if kind == "document":
        return value == targets.document
    if kind == "provision":
        return value in targets.provisions
    if kind == "clause_type":
        return value in targets.clause_types
    return False


def severity_reaches(record: ChangeRecord, minimum: str) -> bool:
    return SEVERITY_RANK[record_severity(record)] >= SEVERITY_RANK.get(minimum, 0)


def watch_matches(watch: Watch, record: ChangeRecord, targets: ChangeTargets) -> bool:
    return (
        record.status == ALERTING_STATUS
        and severity_reaches(record, watch.min_severity)
        and target_matches(watch, targets)
    )


def matching_watches(
    session: Session, record: ChangeRecord, watches: Iterable[Watch]
) -> list[Watch]:
    """The watches (among `watches`) that `record` concerns; [] for a record that is not
    substantive."""
    if record.status != ALERTING_STATUS:
        return []
    candidates = [w for w in watches if severity_reaches(record, w.min_severity)]
    if not candidates:
        return []
    targets = change_targets(session, record)
    return [w for w in candidates if target_matches(w, targets)]


def watches_for(session: Session, record: ChangeRecord) -> list[Watch]:
    """Every watch, of every account, that `record` concerns."""
    return matching_watches(session, record, session.scalars(select(Watch)))


def substantive_changes(
    session: Session, since: object = None, until: object = None
) -> Sequence[ChangeRecord]:
    query = select(ChangeRecord).where(ChangeRecord.status == ALERTING_STATUS)
    if since is not None:
        query = query.where(ChangeRecord.recorded_at >= since)
    if until is not None:
        query = query.where(ChangeRecord.recorded_at < until)
    return list(session.scalars(query.order_by(ChangeRecord.recorded_at, ChangeRecord.id)))
