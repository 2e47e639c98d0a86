"""`clausewatch import` on several processes ends as a single-process import does: the same
outcomes, versions, provisions and change records, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import lzma
from collections import Counter
from pathlib import Path

import pytest
from archive_fixtures import *  # noqa: F403
from archive_fixtures import _fresh_pg, make_settings
from sqlalchemy import select

from clausewatch.archive.evidence import verify_archive
from clausewatch.archive.service import Archive
from clausewatch.importers.ota import ImportFormatError
from clausewatch.importers.parallel import import_source
from clausewatch.jobs import pool
from clausewatch.provisions.service import build
from clausewatch.storage.models import ChangeRecord, Document, Provision, Version

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ota-sample.jsonl.xz"


def _shape(archive: Archive) -> dict[str, object]:
    """What an import leaves, without the database IDs (processes interleave them)."""
    with archive.sessions() as session:
        slug = {d.id: f"{d.platform.slug}/{d.doc_type}" for d in session.scalars(select(Document))}
        versions = Counter(
            (slug[v.document_id], v.text_sha256, v.kind, v.status, v.recorded_at.isoformat())
            for v in session.scalars(select(Version))
        )
        provisions = Counter(
            (slug[p.document_id], p.title, p.text_sha256, p.revisions)
            for p in session.scalars(select(Provision))
        )
        changes = Counter(
            (slug[c.document_id], c.status, json.dumps(c.counts, sort_keys=True), c.summary)
            for c in session.scalars(select(ChangeRecord))
        )
    return {"versions": versions, "provisions": provisions, "changes": changes}


def test_two_processes_end_as_one(
    backend: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "MIN_SHARE_WEIGHT", 1)  # the sample is far under one share
    shapes, reports = [], []
    for name, workers in (("one", 1), ("two", 2)):
        if backend is not None and name == "two":  # a fresh schema for the second import
            _fresh_pg(backend)
        archive = Archive.open(make_settings(tmp_path / name, backend))
        try:
            seen: list[int] = []
            report = import_source(archive, SAMPLE, workers=workers, progress=seen.append)
            built = build(archive, workers=workers)
            assert sum(seen) == report.records == 30
            with archive.sessions() as session:
                assert verify_archive(session, archive.store).ok
            shapes.append(_shape(archive))
            reports.append((report.outcomes, report.rejected, report.documents, built))
        finally:
            archive.close()
    assert reports[0] == reports[1]
    assert shapes[0] == shapes[1]
    assert sum(shapes[0]["provisions"].values()) > 100  # type: ignore[attr-defined]


def test_a_faulty_record_stops_after_the_records_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "MIN_SHARE_WEIGHT", 1)
    with lzma.open(SAMPLE, "rt") as fh:
        lines = fh.read().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*lines[:12], '{"service": "x"', *lines[12:]]) + "\n")
    archive = Archive.open(make_settings(tmp_path))
    try:
        with pytest.raises(ImportFormatError, match=r"bad\.jsonl:13") as caught:
            import_source(archive, bad, workers=2)
        assert caught.value.report is not None and caught.value.report.records == 12
        assert archive.counts()["captures"] == 12
    finally:
        archive.close()


def test_shares_are_balanced_by_weight() -> None:
    weights = {"a": 50, "b": 40, "c": 30, "d": 20, "e": 10}
    pool.MIN_SHARE_WEIGHT, saved = 1, pool.MIN_SHARE_WEIGHT
    try:
        shares = pool.balance(weights, 2)
        assert sorted(sum(weights[k] for k in s) for s in shares) == [70, 80]
        assert pool.balance(weights, 9) == [["a"], ["b"], ["c"], ["d"], ["e"]]
    finally:
        pool.MIN_SHARE_WEIGHT = saved
    assert pool.balance(weights, 4) == [list(weights)]  # too little work for a second process


def test_a_build_reading_every_predecessor_back_ends_as_one_keeping_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build keeps the rows it has just written for a document's next version, for a
    bounded number of documents; with none kept (every predecessor read back from the database)
    it leaves the same provisions, layouts and change records."""
    from clausewatch.provisions import service
    from clausewatch.storage.models import ChangeItem, VersionLayout

    def built(name: str) -> tuple[dict[str, object], list[tuple[object, ...]]]:
        archive = Archive.open(make_settings(tmp_path / name, None))
        try:
            import_source(archive, SAMPLE, workers=1)
            build(archive, workers=1)
            with archive.sessions() as session:
                order = select(VersionLayout).order_by(VersionLayout.version_id)
                layouts = [
                    (lay.version_id, json.dumps(lay.segments), json.dumps(lay.heading_paths))
                    for lay in session.scalars(order)
                ]
                items = [
                    (i.change_id, i.provision_id, i.kind, i.similarity, json.dumps(i.sentences))
                    for i in session.scalars(select(ChangeItem).order_by(ChangeItem.id))
                ]
            return _shape(archive), layouts + items
        finally:
            archive.close()

    kept = built("kept")
    monkeypatch.setattr(service, "WRITTEN_DOCUMENTS", 0)
    assert built("read-back") == kept
    assert len(kept[1]) > 50
