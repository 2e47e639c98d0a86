"""Provisions and change records in the archive: segment each version, carry provision IDs across
versions by alignment, and write one change record per new version.

`build(archive)` is incremental and idempotent: it processes, in ID order, the versions that have
no layout yet, each in one transaction (predecessors always have smaller IDs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from clausewatch.archive.service import Archive
from clausewatch.changes.parameters import (
    Parameter,
    ParameterChange,
    compare_parameters,
    extract_parameters,
)
from clausewatch.changes.redline import (
    DiffOp,
    is_substantive,
    redline,
    sentence_changes,
    split_sentences,
)
from clausewatch.changes.summary import effective_date, summarise_change
from clausewatch.config import Settings
from clausewatch.extract.normalise import text_sha256
from clausewatch.jobs.pool import balance, report_progress, run_shares
from clausewatch.provisions.align import Match, align
from clausewatch.provisions.segment import Segment, segment
from clausewatch.storage.compressed import heading_path_json, heading_path_key
from clausewatch.storage.db import transaction
from clausewatch.storage.models import (
    ChangeItem,
    ChangeRecord,
    HeadingPath,
    Provision,
    ProvisionRevision,
    Version,
    VersionLayout,
)

SEGMENTER_VERSION = "1"


@dataclass
class BuildReport:
    versions: int = 0
    provisions_created: int = 0
    change_records: int = 0


def pending_versions(session: Session) -> list[int]:
    laid_out = select(VersionLayout.version_id)
    return list(
        session.scalars(select(Version.id).where(Version.id.not_in(laid_out)).order_by(Version.id))
    )


def build(
    archive: Archive,
    *,
    progress: Callable[[int], None] | None = None,
    total: Callable[[int], None] | None = None,
    workers: int = 1,
) -> BuildReport:
    """Build every pending version; with ``workers`` > 1, documents are shared out among that
    many processes (jobs/pool.py), each building its documents' versions in order."""
    with archive.sessions() as session:
        todo = pending_versions(session)
        weights = _document_weights(session, todo) if workers > 1 and todo else {}
    if total:
        total(len(todo))
    shares = balance(weights, workers)
    if len(shares) > 1:
        per_document: dict[int, list[int]] = {}
        with archive.sessions() as session:
            for version_id, document_id in session.execute(
                select(Version.id, Version.document_id).where(Version.id.in_(todo))
            ):
                per_document.setdefault(document_id, []).append(version_id)
        work = [
            (archive.settings, sorted(v for d in share for v in per_document[d]))
            for share in shares
        ]
        return _merged(run_shares(_build_share, work, progress=progress))
    report = BuildReport()
    written: Written = {}
    for version_id in todo:
        build_one(archive, version_id, report, written)
        if progress:
            progress(1)
    return report


# A provision's row as the build reads it: text SHA-256, title, heading path, revisions.
Stored = tuple[str, str, tuple[str, ...], int]
# Document id -> (version id, its layout's (provision id, segment) pairs, those provisions'
# rows) of the last version this process built: its successor, built next (ID order), aligns
# with it and compares with the rows without reading them back (no other version of the
# document is written in between: one process builds a document's versions).
Written = dict[int, tuple[int, list[tuple[int, Segment]], dict[int, Stored]]]
# At most this many documents are kept (the least recently built are dropped and read back if
# needed): an interleaved history of thousands of documents must not hold them all in memory.
WRITTEN_DOCUMENTS = 256


def build_one(
    archive: Archive, version_id: int, report: BuildReport, written: Written | None = None
) -> None:
    """One version: segmented, aligned and compared outside the write transaction (the costly
    part, so that processes building other documents run side by side on SQLite too), then its
    provisions, layout and change record written in one short transaction."""
    with archive.sessions() as session:
        plan = plan_version(archive, session, version_id, written)
    if plan is None:
        return
    with transaction(archive.sessions) as session:
        built = build_version(archive, session, version_id, report, plan)
    if written is not None and built is not None:  # committed
        ids, rows = built
        written.pop(plan.document_id, None)  # re-inserted last: the dict's order is recency
        written[plan.document_id] = (version_id, _as_stored(plan.segments, ids), rows)
        if len(written) > WRITTEN_DOCUMENTS:  # bounded memory on a history of many documents
            del written[next(iter(written))]


def _document_weights(session: Session, version_ids: Sequence[int]) -> dict[int, int]:
    """Document id -> characters of its pending versions (what segmenting and aligning cost)."""
    weights: dict[int, int] = {}
    rows = session.execute(
        select(Version.document_id, Version.text_length).where(Version.id.in_(version_ids))
    )
    for document_id, length in rows:
        weights[document_id] = weights.get(document_id, 0) + length
    return weights


def _build_share(settings: Settings, version_ids: list[int]) -> BuildReport:
    """A worker process's share: these versions, in ID order (predecessors first)."""
    archive = Archive.open(settings, migrate=False)
    try:
        report = BuildReport()
        written: Written = {}
        for version_id in version_ids:
            build_one(archive, version_id, report, written)
            report_progress(1)
        return report
    finally:
        archive.close()


_CONTEXT_KINDS = ("list_item", "table_row")


def fill_contexts(archive: Archive, progress: Callable[[int], None] | None = None) -> int:
    """Record where each list item's lead-in and table row's header sits
    (``ProvisionRevision.context_start``/``context_end``) for revisions built before migration
    0016, by segmenting their versions again (the same segmenter, so the same spans a build
    writes today). Idempotent, one transaction per version; returns the revisions updated."""
    with archive.sessions() as session:
        versions = list(
            session.scalars(
                select(ProvisionRevision.version_id)
                .where(ProvisionRevision.kind.in_(_CONTEXT_KINDS))
                .distinct()
                .order_by(ProvisionRevision.version_id)
            )
        )
    updated = 0
    for version_id in versions:
        with transaction(archive.sessions) as session:
            version = session.get(Version, version_id)
            assert version is not None
            spans = {
                (s.start, s.end): s.context_span
                for s in segment(archive.version_text(version))
                if s.context_span
            }
            rows = session.execute(
                select(
                    ProvisionRevision.id,
                    ProvisionRevision.start,
                    ProvisionRevision.end,
                    ProvisionRevision.context_start,
                    ProvisionRevision.context_end,
                ).where(
                    ProvisionRevision.version_id == version_id,
                    ProvisionRevision.kind.in_(_CONTEXT_KINDS),
                )
            ).all()
            for row in rows:
                span = spans.get((row.start, row.end))
                if (row.context_start, row.context_end) != (span or (None, None)):
                    session.execute(
                        update(ProvisionRevision)
                        .where(ProvisionRevision.id == row.id)
                        .values(
                            context_start=span[0] if span else None,
                            context_end=span[1] if span else None,
                        )
                    )
                    updated += 1
        if progress is not None:
            progress(1)
    return updated


def _merged(reports: Sequence[BuildReport]) -> BuildReport:
    return BuildReport(
        versions=sum(r.versions for r in reports),
        provisions_created=sum(r.provisions_created for r in reports),
        change_records=sum(r.change_records for r in reports),
    )


def layout_segments(text: str, layout: VersionLayout) -> list[tuple[int, Segment]]:
    """The (provision id, segment) pairs of a stored layout."""
    out = []
    for provision_id, start, end, kind, label, path_index in layout.segments:
        heading_path = layout.heading_paths[path_index]
        out.append(
            (
                provision_id,
                Segment(
                    start=start,
                    end=end,
                    text=text[start:end],
                    heading_path=tuple(heading_path),
                    kind=kind,
                    label=label,
                ),
            )
        )
    return out


def _as_stored(segments: Sequence[Segment], ids: dict[int, int]) -> list[tuple[int, Segment]]:
    """What :func:`layout_segments` reads back from the layout :func:`new_layout` writes."""
    return [
        (ids[j], Segment(s.start, s.end, s.text, s.heading_path, s.kind, s.label))
        for j, s in enumerate(segments)
    ]


def new_layout(
    version_id: int,
    segments: Sequence[Segment],
    ids: dict[int, int],
    keyframe: VersionLayout | None = None,
) -> VersionLayout:
    paths: dict[tuple[str, ...], int] = {}
    rows = [
        [ids[j], s.start, s.end, s.kind, s.label, paths.setdefault(s.heading_path, len(paths))]
        for j, s in enumerate(segments)
    ]
    return VersionLayout.make(
        version_id, SEGMENTER_VERSION, rows, [list(p) for p in paths], keyframe
    )


def keyframe_layout(session: Session, version_id: int | None) -> VersionLayout | None:
    """The keyframe layout a successor of ``version_id`` is stored against: its layout, or the
    keyframe that layout is a delta of."""
    layout = session.get(VersionLayout, version_id) if version_id is not None else None
    if layout is None or layout.base_version_id is None:
        return layout
    return session.get(VersionLayout, layout.base_version_id)


@dataclass
class VersionPlan:
    """What building a version needs that depends only on texts: its segments, the alignment
    with its predecessor's layout and the content of its change items."""

    document_id: int
    text: str
    segments: list[Segment]
    previous: list[tuple[int, Segment]]
    matches: list[Match]
    changes: dict[int, _ItemContent]  # index in ``matches`` -> content of its change item
    effective: dt.date | None = None  # the effective date the text states (change records)
    stored: dict[int, Stored] | None = None  # the previous provisions' rows, when known
    record: _RecordContent | None = None  # the change record's counts and reader text


def plan_version(
    archive: Archive, session: Session, version_id: int, written: Written | None = None
) -> VersionPlan | None:
    """The plan of a version without a layout; None when it has one. Reads only."""
    version = session.get(Version, version_id)
    assert version is not None
    if session.get(VersionLayout, version_id) is not None:
        return None
    text = archive.version_text(version)
    segments = segment(text)
    previous: list[tuple[int, Segment]] = []
    stored = None
    known = (written or {}).get(version.document_id)
    if known is not None and known[0] == version.predecessor_id:
        _, previous, stored = known
    elif version.predecessor_id is not None:
        layout = session.get(VersionLayout, version.predecessor_id)
        if layout is None:
            raise RuntimeError(f"V-{version.predecessor_id:06d} has no layout yet")
        predecessor = session.get(Version, version.predecessor_id)
        assert predecessor is not None
        previous = layout_segments(archive.version_text(predecessor), layout)
    matches = (
        align([s for _, s in previous], segments)
        if previous
        else [Match(old=None, new=j, kind="added", similarity=0.0) for j in range(len(segments))]
    )
    changes = (
        {
            i: _item_content(m, segments, previous)
            for i, m in enumerate(matches)
            if m.kind != "unchanged"
        }
        if version.predecessor_id is not None
        else {}
    )
    for m in matches:  # texts that will be new revisions: their parameters, computed now
        if m.new is not None and m.kind != "unchanged":
            extract_parameters(segments[m.new].text)  # memoised for the write's revisions
    plan = VersionPlan(version.document_id, text, list(segments), previous, list(matches), changes)
    plan.stored = stored
    if version.predecessor_id is not None:  # outside the write transaction, as all of this
        plan.effective = effective_date(text)
        plan.record = _record_content(plan)
    return plan


def build_version(
    archive: Archive,
    session: Session,
    version_id: int,
    report: BuildReport,
    plan: VersionPlan | None = None,
) -> tuple[dict[int, int], dict[int, Stored]] | None:
    """Write a version's provisions, layout and change record in the caller's transaction,
    from ``plan`` (made now when not given). Its segment index -> provision id, and the rows
    of those provisions; None when a concurrent run built it."""
    # Locked (PostgreSQL; SQLite's write lock is already held), so that a concurrent build
    # waits here and then sees the layout the first one stored.
    version = session.get(Version, version_id, with_for_update=True)
    assert version is not None
    if session.get(VersionLayout, version_id) is not None:
        return None  # built by a concurrent run
    plan = plan or plan_version(archive, session, version_id)
    assert plan is not None
    ids, rows = _assign_ids(session, version, plan, report)
    keyframe = keyframe_layout(session, version.predecessor_id)
    session.add(new_layout(version.id, plan.segments, ids, keyframe))
    report.versions += 1
    if version.predecessor_id is not None:
        _change_record(session, version, plan, ids)
        report.change_records += 1
    return ids, rows


def _assign_ids(
    session: Session, version: Version, plan: VersionPlan, report: BuildReport
) -> tuple[dict[int, int], dict[int, Stored]]:
    """New segment index -> provision id, and the provisions' rows as written. A segment
    matched to an old one (unchanged, modified, moved, the primary piece of a split, the
    survivor of a merge) keeps its provision; added segments and secondary split pieces get
    new provisions.

    Written with bulk statements (an executemany each), not ORM objects: the unit of work's
    bookkeeping was most of the write transaction. Revisions get their IDs in match order, as
    the unit of work gave them."""
    segments, matches = plan.segments, plan.matches
    kept = {
        m.new: plan.previous[m.old][0] for m in matches if m.new is not None and m.old is not None
    }
    stored = plan.stored if plan.stored is not None else _kept_rows(session, list(kept.values()))
    ids: dict[int, int] = {}
    rows: dict[int, Stored] = {}
    same: list[int] = []  # text, title and headings as they were: only "last seen" moves
    for index, provision_id in kept.items():
        seg = segments[index]
        ids[index] = provision_id
        text_sha, title, heading_path, _ = stored[provision_id]
        if (text_sha, title, heading_path) == (text_sha256(seg.text), seg.title, seg.heading_path):
            same.append(provision_id)
            rows[provision_id] = stored[provision_id]
    seen = {"last_version_id": version.id}  # "last seen" is that version's recorded_at
    if same:  # one statement, not one ORM update per provision (most of a version's)
        session.execute(
            update(Provision)
            .where(Provision.id.in_(same))
            .values(**seen)
            .execution_options(synchronize_session=False)
        )
    to_write = {j for m in matches if (j := m.new) is not None and ids.get(j) not in rows}
    path_ids = _heading_path_ids(session, {segments[j].heading_path for j in to_write})
    added = [j for m in matches if (j := m.new) is not None and m.old is None]
    if added:
        new_ids = session.scalars(
            insert(Provision).returning(Provision.id, sort_by_parameter_order=True),
            [_new_provision(version, segments[j], path_ids) for j in added],
        ).all()
        ids.update(zip(added, new_ids, strict=True))
        report.provisions_created += len(added)
    changes = []
    revision_rows = []
    for match in matches:  # revisions in match order, as the unit of work numbered them
        if match.new is None or ids[match.new] in rows:
            continue  # removed, or as it was
        seg = segments[match.new]
        provision_id = ids[match.new]
        sha = text_sha256(seg.text)
        old_sha, _, _, revisions = stored.get(provision_id, ("", "", (), 0))  # new: ""
        if old_sha and sha != old_sha:
            revisions += 1
        rows[provision_id] = (sha, seg.title, seg.heading_path, revisions)
        if match.old is not None:
            changes.append(
                {
                    "id": provision_id,
                    **seen,
                    "title": seg.title,
                    "heading_path_id": path_ids[seg.heading_path],
                    "revisions": revisions,
                }
            )
        if sha != old_sha:  # not a new title or heading path only
            revision_rows.append(_revision_row(provision_id, version, seg, sha))
    if changes:  # ORM bulk UPDATE by primary key: one executemany
        session.execute(update(Provision), changes)
    if revision_rows:
        session.execute(insert(ProvisionRevision), revision_rows)
    return ids, rows


def _kept_rows(session: Session, provision_ids: list[int]) -> dict[int, Stored]:
    """Provision id -> its row as the model reads it, for kept provisions (the text hash is
    the latest revision's, the heading path its ``heading_paths`` row's)."""
    query = select(
        Provision.id, Provision.text_sha256, Provision.title, Provision.heading_path,
        Provision.revisions,
    ).where(Provision.id.in_(provision_ids))  # fmt: skip
    return {row[0]: (row[1], row[2], tuple(row[3]), row[4]) for row in session.execute(query)}


def _heading_path_ids(
    session: Session, paths: Iterable[tuple[str, ...]]
) -> dict[tuple[str, ...], int | None]:
    """Heading path -> its ``heading_paths`` id (``()``: None), adding the paths not stored
    yet: one lookup by key, and one insert (in sorted order) when some are new. The key is not
    unique, so builders on PostgreSQL never wait on each other here; two that add the same
    path at once each get a row, and the lowest id is used from then on."""
    ids: dict[tuple[str, ...], int | None] = {(): None}
    texts = {heading_path_json(p): p for p in paths if p}
    if not texts:
        return ids
    keys = {heading_path_key(t) for t in texts}
    found = session.execute(
        select(HeadingPath.id, HeadingPath.path)
        .where(HeadingPath.key.in_(keys))
        .order_by(HeadingPath.id.desc())  # of equal paths, the lowest id is assigned last
    )
    for path_id, path in found:
        ids[tuple(path)] = path_id
    new = sorted(t for t, p in texts.items() if p not in ids)
    if new:
        rows = [{"key": heading_path_key(t), "path": texts[t]} for t in new]
        new_ids = session.scalars(
            insert(HeadingPath).returning(HeadingPath.id, sort_by_parameter_order=True), rows
        ).all()
        ids.update(zip((texts[t] for t in new), new_ids, strict=True))
    return ids


def _new_provision(
    version: Version, seg: Segment, path_ids: dict[tuple[str, ...], int | None]
) -> dict[str, object]:
    """The row of a provision first seen in ``version`` (its first revision is ``seg``; its
    first and last seen dates are that version's, its text hash that revision's)."""
    return {
        "document_id": version.document_id,
        "first_version_id": version.id,
        "last_version_id": version.id,
        "revisions": 0,
        "title": seg.title,
        "heading_path_id": path_ids[seg.heading_path],
    }


def _revision_row(provision_id: int, version: Version, seg: Segment, sha: str) -> dict[str, object]:
    return {
        "provision_id": provision_id,
        "version_id": version.id,
        "start": seg.start,
        "end": seg.end,
        "text_sha256": sha,
        "kind": seg.kind,
        "label": seg.label,  # its heading path is the layout's (ProvisionRevision.heading_path)
        "parameters": [_parameter_json(p, seg.start) for p in extract_parameters(seg.text)],
        "context_start": seg.context_span[0] if seg.context_span else None,
        "context_end": seg.context_span[1] if seg.context_span else None,
    }


def _parameter_json(parameter: Parameter, offset: int) -> dict[str, object]:
    data = asdict(parameter)
    data["start"] += offset  # offsets into the version text, so quotes can be checked there
    data["end"] += offset
    return data


@dataclass
class _Tally:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[tuple[str, str]] = field(default_factory=list)
    moved: int = 0
    parameter_changes: list[ParameterChange] = field(default_factory=list)
    sentences: dict[str, int] = field(
        default_factory=lambda: {"added": 0, "removed": 0, "modified": 0}
    )


@dataclass
class _ItemContent:
    """The part of a change item that depends only on the two texts."""

    substantive: bool
    sentence_count: int = 0  # of an added or removed provision
    sentences: dict[str, int] | None = None
    parameter_changes: list[ParameterChange] = field(default_factory=list)


def _item_content(
    match: Match, segments: Sequence[Segment], previous: Sequence[tuple[int, Segment]]
) -> _ItemContent:
    """Sentence counts and parameter changes of a touched provision (its redline is not
    stored: :func:`item_redlines` computes it from the two version texts when it is read)."""
    old = previous[match.old][1] if match.old is not None else None
    new = segments[match.new] if match.new is not None else None
    if old is None or new is None:
        substantive = match.kind not in ("split", "merged")
        piece = new or old
        assert piece is not None
        count = len(split_sentences(piece.text)) if substantive else 0
        return _ItemContent(substantive=substantive, sentence_count=count)
    old_text, new_text = old.text, new.text
    if match.kind == "split":  # compare the original with all its pieces together
        new_text = "\n\n".join(segments[k].text for k in sorted([match.new or 0, *match.related]))
    elif match.kind == "merged":
        old_text = "\n\n".join(
            previous[k][1].text for k in sorted([match.old or 0, *match.related])
        )
    content = _ItemContent(substantive=is_substantive(old_text, new_text))
    if content.substantive:
        content.sentences = asdict(sentence_changes(old_text, new_text))
        content.parameter_changes = compare_parameters(
            extract_parameters(old.text), extract_parameters(new.text)
        )
    return content


def _tally_item(
    match: Match,
    content: _ItemContent,
    segments: Sequence[Segment],
    previous: Sequence[tuple[int, Segment]],
    tally: _Tally,
) -> None:
    """What one touched provision adds to its record's counts and reader text."""
    old = previous[match.old][1] if match.old is not None else None
    new = segments[match.new] if match.new is not None else None
    if old is None or new is None:
        if content.substantive:
            side, piece = ("added", new) if new is not None else ("removed", old)
            assert piece is not None
            getattr(tally, side).append(piece.title)
            tally.sentences[side] += content.sentence_count
        return
    if not content.substantive:
        tally.moved += match.kind == "moved"
        return
    assert content.sentences is not None
    tally.parameter_changes.extend(content.parameter_changes)
    tally.modified.append((old.title, new.title))
    for key in tally.sentences:
        tally.sentences[key] += content.sentences[key]


@dataclass
class _RecordContent:
    """The part of a change record that depends only on the two texts."""

    substantive: bool
    counts: dict[str, object]
    summary: str


def _record_content(plan: VersionPlan) -> _RecordContent:
    tally = _Tally()
    for i, match in enumerate(plan.matches):
        if match.kind != "unchanged":
            _tally_item(match, plan.changes[i], plan.segments, plan.previous, tally)
    return _RecordContent(
        substantive=any(content.substantive for content in plan.changes.values()),
        counts={
            "added": len(tally.added),
            "removed": len(tally.removed),
            "modified": len(tally.modified),
            "moved": tally.moved,
            "sentences": tally.sentences,
        },
        summary=summarise_change(
            added=tally.added,
            removed=tally.removed,
            modified=tally.modified,
            moved=tally.moved,
            parameter_changes=tally.parameter_changes,
        ),
    )


def _item_row(
    match: Match,
    content: _ItemContent,
    previous: Sequence[tuple[int, Segment]],
    ids: dict[int, int],
    change_id: int,
) -> dict[str, object]:
    """One provision touched by the change, with its sentence counts and parameters."""
    # split pieces are new-side indices; merged sources are old-side indices
    related = [ids[k] if match.kind == "split" else previous[k][0] for k in match.related]
    provision_id = ids[match.new] if match.new is not None else previous[match.old or 0][0]
    both = match.old is not None and match.new is not None and content.substantive
    return {
        "change_id": change_id,
        "provision_id": provision_id,
        "kind": match.kind,
        "substantive": content.substantive,
        "similarity": match.similarity,
        "sentences": content.sentences if both and content.sentences is not None else {},
        "parameter_changes": [
            {"kind": c.kind, "description": c.describe()} for c in content.parameter_changes
        ]
        if both
        else [],
        "related": related,
        "severity": None,
        "direction": None,
        "assessment": [],
    }


def _change_record(
    session: Session, version: Version, plan: VersionPlan, ids: dict[int, int]
) -> int:
    """The record's row and its items' rows (one executemany); its content was made with the
    plan, outside the write transaction."""
    content = plan.record or _record_content(plan)
    if version.kind == "technical":
        status = "technical"  # re-extraction: never a change, whatever the alignment says
    elif version.status == "flip_flop":
        status = "retracted"  # folded into a variant of its predecessor
    else:
        status = "substantive" if content.substantive else "non_substantive"
    effective = plan.effective  # found in plan_version, outside the write transaction
    change_id = session.scalars(
        insert(ChangeRecord).returning(ChangeRecord.id),
        [
            {
                "document_id": version.document_id,
                "from_version_id": version.predecessor_id,
                "to_version_id": version.id,
                "recorded_at": version.recorded_at,
                "status": status,
                "counts": content.counts,
                "summary": content.summary,
                "effective_date": effective.isoformat() if effective else None,
                "severity": None,
                "direction": None,
                "assessment": [],
                "analyser": None,
            }
        ],
    ).one()
    items = [
        _item_row(m, plan.changes[i], plan.previous, ids, change_id)
        for i, m in enumerate(plan.matches)
        if m.kind != "unchanged"
    ]
    if items:
        session.execute(insert(ChangeItem), items)
    return change_id


# -- redlines, computed when read ---------------------------------------------------------------


def item_redlines(
    archive: Archive, session: Session, record: ChangeRecord, items: Sequence[ChangeItem]
) -> dict[int, list[DiffOp]]:
    """Change item id -> the word-level redline of its provision, from its text in the record's
    old version to its text in the new one (the two versions' stored layouts give the spans).

    Redlines are not stored (they were most of ``change_items``): a provision in both versions
    is what build compared (modified, moved, and the primary of a split or merge keep their
    provision's ID), and ``redline`` is a pure function of the two archived texts, so this is
    what build computed. Items without a provision on both sides (added, removed, secondary
    split pieces and merge sources) have none. Not cached here: the web layer caches whole
    responses (docs/web.md#http-caching); the largest record of the pga history (1,418 items)
    takes about 0.1 s of CPU more than reading stored redlines did."""
    wanted = {i.provision_id for i in items if i.kind != "added" and i.kind != "removed"}
    if not wanted:
        return {}
    sides = []
    for version_id in (record.from_version_id, record.to_version_id):
        version = session.get(Version, version_id)
        layout = session.get(VersionLayout, version_id)
        if version is None or layout is None:
            return {}
        spans = {row[0]: (row[1], row[2]) for row in layout.segments if row[0] in wanted}
        sides.append((archive.version_text(version) if spans else "", spans))
    (old_text, old_spans), (new_text, new_spans) = sides
    out: dict[int, list[DiffOp]] = {}
    for item in items:
        old, new = old_spans.get(item.provision_id), new_spans.get(item.provision_id)
        if old is not None and new is not None:
            out[item.id] = redline(old_text[old[0] : old[1]], new_text[new[0] : new[1]])
    return out
