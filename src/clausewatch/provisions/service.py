"""Provisions and change records in the archive: segment each version, carry provision IDs across
versions by alignment, and write one change record per new version.

`build(archive)` is incremental and idempotent: it processes, in ID order, the versions that have
no layout yet, each in one transaction (predecessors always have smaller IDs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from clausewatch.archive.service import Archive
from clausewatch.changes.parameters import (
    Parameter,
    ParameterChange,
    compare_parameters,
    extract_parameters,
)
from clausewatch.changes.redline import (
    is_substantive,
    redline,
    sentence_changes,
    split_sentences,
)
from clausewatch.changes.summary import effective_date, summarise_change
from clausewatch.extract.normalise import text_sha256
from clausewatch.provisions.align import Match, align
from clausewatch.provisions.segment import Segment, segment
from clausewatch.storage.db import transaction
from clausewatch.storage.models import (
    ChangeItem,
    ChangeRecord,
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
) -> BuildReport:
    report = BuildReport()
    with archive.sessions() as session:
        todo = pending_versions(session)
    if total:
        total(len(todo))
    for version_id in todo:
        with transaction(archive.sessions) as session:
            build_version(archive, session, version_id, report)
        if progress:
            progress(1)
    return report


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


def new_layout(version_id: int, segments: Sequence[Segment], ids: dict[int, int]) -> VersionLayout:
    paths: dict[tuple[str, ...], int] = {}
    rows = [
        [ids[j], s.start, s.end, s.kind, s.label, paths.setdefault(s.heading_path, len(paths))]
        for j, s in enumerate(segments)
    ]
    return VersionLayout(
        version_id=version_id,
        segmenter_version=SEGMENTER_VERSION,
        segments=rows,
        heading_paths=[list(p) for p in paths],
    )


def build_version(archive: Archive, session: Session, version_id: int, report: BuildReport) -> None:
    # Locked (PostgreSQL; SQLite's write lock is already held), so that a concurrent build
    # waits here and then sees the layout the first one stored.
    version = session.get(Version, version_id, with_for_update=True)
    assert version is not None
    if session.get(VersionLayout, version_id) is not None:
        return  # built by a concurrent run
    text = archive.version_text(version)
    segments = segment(text)
    previous: list[tuple[int, Segment]] = []
    previous_text = ""
    if version.predecessor_id is not None:
        layout = session.get(VersionLayout, version.predecessor_id)
        if layout is None:
            raise RuntimeError(f"V-{version.predecessor_id:06d} has no layout yet")
        predecessor = session.get(Version, version.predecessor_id)
        assert predecessor is not None
        previous_text = archive.version_text(predecessor)
        previous = layout_segments(previous_text, layout)
    matches = (
        align([s for _, s in previous], segments)
        if previous
        else [Match(old=None, new=j, kind="added", similarity=0.0) for j in range(len(segments))]
    )
    ids = _assign_ids(session, version, segments, previous, matches, report)
    session.add(new_layout(version.id, segments, ids))
    report.versions += 1
    if version.predecessor_id is not None:
        _change_record(session, version, text, segments, previous, matches, ids)
        report.change_records += 1


def _assign_ids(
    session: Session,
    version: Version,
    segments: Sequence[Segment],
    previous: Sequence[tuple[int, Segment]],
    matches: Sequence[Match],
    report: BuildReport,
) -> dict[int, int]:
    """New segment index -> provision id. A segment matched to an old one (unchanged, modified,
    moved, the primary piece of a split, the survivor of a merge) keeps its provision; added
    segments and secondary split pieces get new provisions."""
    kept = [m for m in matches if m.new is not None and m.old is not None]
    loaded = {
        p.id: p
        for p in session.scalars(
            select(Provision).where(Provision.id.in_([previous[m.old][0] for m in kept]))  # type: ignore[index]
        )
    }
    provisions: dict[int, Provision] = {}
    with session.no_autoflush:  # one flush for all new provisions, not one per segment
        for match in matches:
            if match.new is None:
                continue
            if match.old is not None:
                provisions[match.new] = loaded[previous[match.old][0]]
                continue
            seg = segments[match.new]
            provisions[match.new] = Provision(
                document_id=version.document_id,
                first_version_id=version.id,
                last_version_id=version.id,
                first_seen_at=version.recorded_at,
                last_seen_at=version.recorded_at,
                revisions=0,
                title=seg.title,
                heading_path=list(seg.heading_path),
                text_sha256="",
            )
            session.add(provisions[match.new])
            report.provisions_created += 1
    session.flush()
    with session.no_autoflush:
        for index, provision in provisions.items():
            _revise(session, provision, version, segments[index])
    return {index: provision.id for index, provision in provisions.items()}


def _revise(session: Session, provision: Provision, version: Version, seg: Segment) -> None:
    sha = text_sha256(seg.text)
    provision.last_version_id = version.id
    provision.last_seen_at = version.recorded_at
    provision.title = seg.title
    provision.heading_path = list(seg.heading_path)
    if sha == provision.text_sha256:
        return
    if provision.text_sha256:
        provision.revisions += 1
    provision.text_sha256 = sha
    session.add(
        ProvisionRevision(
            provision_id=provision.id,
            version_id=version.id,
            start=seg.start,
            end=seg.end,
            text_sha256=sha,
            kind=seg.kind,
            label=seg.label,
            heading_path=list(seg.heading_path),
            parameters=[_parameter_json(p, seg.start) for p in extract_parameters(seg.text)],
        )
    )


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


def _item(
    match: Match,
    segments: Sequence[Segment],
    previous: Sequence[tuple[int, Segment]],
    ids: dict[int, int],
    tally: _Tally,
) -> ChangeItem:
    """One provision touched by the change, with its redline, sentence counts and parameters."""
    old = previous[match.old][1] if match.old is not None else None
    new = segments[match.new] if match.new is not None else None
    # split pieces are new-side indices; merged sources are old-side indices
    related = [ids[k] if match.kind == "split" else previous[k][0] for k in match.related]
    provision_id = ids[match.new] if match.new is not None else previous[match.old or 0][0]
    item = ChangeItem(
        provision_id=provision_id, kind=match.kind, similarity=match.similarity, related=related
    )
    if old is None or new is None:
        text = (new or old).text  # type: ignore[union-attr]
        title = (new or old).title  # type: ignore[union-attr]
        primary_elsewhere = match.kind in ("split", "merged")
        item.substantive = not primary_elsewhere
        if not primary_elsewhere:
            side = "added" if new is not None else "removed"
            getattr(tally, side).append(title)
            tally.sentences[side] += len(split_sentences(text))
        return item
    old_text, new_text = old.text, new.text
    if match.kind == "split":  # compare the original with all its pieces together
        new_text = "\n\n".join(segments[k].text for k in sorted([match.new or 0, *match.related]))
    elif match.kind == "merged":
        old_text = "\n\n".join(
            previous[k][1].text for k in sorted([match.old or 0, *match.related])
        )
    item.redline = [[op.op, op.text] for op in redline(old.text, new.text)]
    item.substantive = is_substantive(old_text, new_text)
    if not item.substantive:
        tally.moved += match.kind == "moved"
        return item
    counts = sentence_changes(old_text, new_text)
    item.sentences = asdict(counts)
    changes = compare_parameters(extract_parameters(old.text), extract_parameters(new.text))
    item.parameter_changes = [{"kind": c.kind, "description": c.describe()} for c in changes]
    tally.parameter_changes.extend(changes)
    tally.modified.append((old.title, new.title))
    for key in tally.sentences:
        tally.sentences[key] += getattr(counts, key)
    return item


def _change_record(
    session: Session,
    version: Version,
    text: str,
    segments: Sequence[Segment],
    previous: Sequence[tuple[int, Segment]],
    matches: Sequence[Match],
    ids: dict[int, int],
) -> ChangeRecord:
    tally = _Tally()
    items = [_item(m, segments, previous, ids, tally) for m in matches if m.kind != "unchanged"]
    if version.kind == "technical":
        status = "technical"  # re-extraction: never a change, whatever the alignment says
    elif version.status == "flip_flop":
        status = "retracted"  # folded into a variant of its predecessor
    else:
        status = "substantive" if any(i.substantive for i in items) else "non_substantive"
    effective = effective_date(text)
    record = ChangeRecord(
        document_id=version.document_id,
        from_version_id=version.predecessor_id,
        to_version_id=version.id,
        recorded_at=version.recorded_at,
        status=status,
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
        effective_date=effective.isoformat() if effective else None,
        items=items,
    )
    session.add(record)
    return record
