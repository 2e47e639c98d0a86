"""Compact provision rows (migration 0012): `provisions` no longer stores first and last seen (the
versions' `recorded_at`), its text hash (the latest revision's) nor its heading path's JSON (one
`heading_paths` row per distinct path, pointed at by id); `storage.models.Provision` reads all
four under their old names, in Python and in SQL. An archive migrated to it shows the same pages,
API output and exports; the downgrade gives back every value as it was stored."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from archive_fixtures import *  # noqa: F403
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import aliased
from starlette.testclient import TestClient

from clausewatch.analysis.service import analyse
from clausewatch.archive import evidence
from clausewatch.archive.evidence import verify_archive
from clausewatch.archive.service import Archive
from clausewatch.exports import export_jsonl
from clausewatch.ids import format_id
from clausewatch.importers.ota import import_history, read_jsonl
from clausewatch.provisions.queries import list_provisions
from clausewatch.provisions.service import build
from clausewatch.storage.compressed import heading_path_json, heading_path_key
from clausewatch.storage.models import (
    Document,
    HeadingPath,
    Provision,
    ProvisionRevision,
    Version,
    VersionLayout,
)

DROPPED = ("first_seen_at", "last_seen_at", "heading_path", "text_sha256")
READ = ("id", "first_version_id", "last_version_id", "revisions", "title", *DROPPED)
ACCENTED = "3. Données personnelles et sécurité"


def _body(sections: int = 12) -> str:
    preamble = "These terms apply to everyone who uses the service, in every country.\n\n"
    return preamble + "\n\n".join(
        f"## {i}. Section {i}\n\nWe may process your data for purpose {i} and keep it for "
        f"{i + 1} months, as the law allows.\n\nYou may ask us to delete the data of purpose "
        f"{i} at any time, by writing to our data protection officer."
        for i in range(1, sections)
    )


def _record(at: str, text: str) -> str:
    record = {"service": "Example", "terms_type": "Terms of Service", "recorded_at": at}
    return json.dumps({**record, "text": text}) + "\n"


def _history(tmp_path: Path) -> Path:
    body = _body()
    second = body.replace("for purpose 7 and", "for purpose seven and")
    third = second.replace("## 3. Section 3", f"## {ACCENTED}").replace(
        "for 5 months", "for 15 months"
    )
    path = tmp_path / "h.jsonl"
    path.write_text(
        _record("2024-03-01T12:00:00Z", body)
        + _record("2024-06-01T12:00:00Z", second)
        + _record("2024-09-01T12:00:00Z", third)
    )
    return path


def _add_version(archive: Archive, tmp_path: Path, at: str, edit: Any) -> None:
    """One more record of the document: the latest version's text through ``edit``."""
    with archive.sessions() as session:
        latest = session.scalars(select(Version).order_by(Version.id.desc()).limit(1)).one()
        text_now = archive.version_text(latest)
    path = tmp_path / f"more-{at[:10]}.jsonl"
    path.write_text(_record(at, edit(text_now)))
    import_history(archive, read_jsonl(path))
    build(archive)


def _archive(archive: Archive, tmp_path: Path) -> None:
    import_history(archive, read_jsonl(_history(tmp_path)))
    build(archive)


def _columns(archive: Archive, table: str) -> set[str]:
    return {c["name"] for c in inspect(archive.engine).get_columns(table)}


def _read(archive: Archive) -> list[tuple[Any, ...]]:
    """Every provision as the model reads it: ORM objects and a Core select agree."""
    with archive.sessions() as session:
        columns = [getattr(Provision, c) for c in READ]
        rows = [tuple(r) for r in session.execute(select(*columns).order_by(Provision.id))]
        objects = session.scalars(select(Provision).order_by(Provision.id)).all()
        assert [tuple(getattr(o, c) for c in READ) for o in objects] == rows
        conn = session.connection()  # Core, as provisions/queries.py reads a page
        core = conn.execute(select(*columns).order_by(Provision.id)).all()
        assert [tuple(getattr(r, c) for c in READ) for r in core] == rows
    return rows


def _stored(archive: Archive) -> list[tuple[Any, ...]]:
    """The dropped columns as 0011 stored them (raw SQL; JSON decoded, digests as hex, times
    as read back through the model's type)."""
    with archive.engine.connect() as conn:
        stored = conn.execute(
            text(f"SELECT id, {', '.join(DROPPED)} FROM provisions ORDER BY id")
        ).all()
    out = []
    for row_id, first, last, path, sha in stored:
        out.append(
            (
                row_id,
                _as_utc(first),
                _as_utc(last),
                json.loads(path) if isinstance(path, str) else path,
                bytes(sha).hex(),
            )
        )
    return out


def _as_utc(value: Any) -> dt.datetime:
    if isinstance(value, str):  # SQLite
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def test_provision_rows_hold_ids_and_read_the_rest_from_versions_revisions_and_paths(
    archive: Archive, tmp_path: Path
) -> None:
    _archive(archive, tmp_path)
    assert not set(DROPPED) & _columns(archive, "provisions")
    assert "heading_path_id" in _columns(archive, "provisions")
    rows = _read(archive)
    with archive.sessions() as session:
        recorded = dict(session.execute(select(Version.id, Version.recorded_at)).all())
        latest: dict[int, tuple[int, str]] = {}
        for r in session.scalars(select(ProvisionRevision).order_by(ProvisionRevision.id)):
            if r.provision_id not in latest or latest[r.provision_id][0] < r.version_id:
                latest[r.provision_id] = (r.version_id, r.text_sha256)
        last_paths = {
            layout.version_id: layout
            for layout in session.scalars(select(VersionLayout).order_by(VersionLayout.version_id))
        }
        for layout in last_paths.values():  # read in the session: a delta needs its keyframe
            layout.heading_path_of(0)
        paths = session.execute(select(HeadingPath.id, HeadingPath.key, HeadingPath.path)).all()
        ids = dict(session.execute(select(Provision.id, Provision.heading_path_id)).all())
    for pid, first_v, last_v, _, _, first, last, path, sha in rows:
        assert (first, last) == (recorded[first_v], recorded[last_v])
        assert sha == latest[pid][1]
        assert path == last_paths[last_v].heading_path_of(pid)  # the latest layout's
        assert (ids[pid] is None) == (path == [])
    assert [r for r in rows if r[7] == []], "the preamble has no heading: NULL, read as []"
    renamed = [r for r in rows if r[7] == [ACCENTED]]
    assert renamed and all(r[2] == 3 for r in renamed)
    edited = [r for r in rows if r[3] == 1]  # "purpose seven", "15 months"
    assert len(edited) == 2 and {latest[r[0]][0] for r in edited} == {2, 3}
    # each distinct path once (the one renamed away stays), as compact JSON under its key
    stored = {tuple(p) for _, _, p in paths}
    assert len(stored) == len(paths)
    assert stored == {tuple(r[7]) for r in rows if r[7]} | {("3. Section 3",)}
    for _, key, path in paths:
        assert key == heading_path_key(heading_path_json(path))
    with archive.engine.connect() as conn:
        raw = conn.execute(text("SELECT path FROM heading_paths ORDER BY id")).scalars().all()
    assert f'["{ACCENTED}"]' in raw and '["1. Section 1"]' in raw


def test_the_read_columns_work_in_sql_and_beside_a_join_of_their_own_tables(
    archive: Archive, tmp_path: Path
) -> None:
    _archive(archive, tmp_path)
    rows = _read(archive)
    with archive.sessions() as session:
        third = session.get(Version, 3)
        assert third is not None
        # filters and order on the read columns, in SQL
        seen_last = session.scalars(
            select(Provision.id)
            .where(Provision.last_seen_at == third.recorded_at)
            .order_by(Provision.first_seen_at, Provision.id)
        ).all()
        first = {r[0]: r[5] for r in rows}
        assert seen_last == sorted((r[0] for r in rows if r[2] == 3), key=lambda i: (first[i], i))
        accented = session.scalars(
            select(Provision.id).where(Provision.heading_path == [ACCENTED]).order_by(Provision.id)
        ).all()
        assert accented == [r[0] for r in rows if r[7] == [ACCENTED]]
        # a query that joins versions, heading paths and revisions itself: the read columns
        # still look up the provision's own rows (not correlated with the outer join)
        other = aliased(Version)
        joined = session.execute(
            select(Provision.id, Provision.first_seen_at, Provision.text_sha256, Version.id)
            .join(Version, Version.id == Provision.last_version_id)
            .join(ProvisionRevision, ProvisionRevision.provision_id == Provision.id)
            .join(other, other.id == ProvisionRevision.version_id)
            .order_by(Provision.id, ProvisionRevision.version_id)
        ).all()
        by_id = {r[0]: r for r in rows}
        for pid, first, sha, _ in joined:
            assert (first, sha) == (by_id[pid][5], by_id[pid][8])


def test_the_build_stores_each_heading_path_once_and_follows_renames(
    archive: Archive, tmp_path: Path
) -> None:
    _archive(archive, tmp_path)
    with archive.sessions() as session:
        before = session.execute(select(HeadingPath.id, HeadingPath.path)).all()
        renamed = session.scalars(select(Provision).where(Provision.heading_path == [ACCENTED]))
        assert [p.heading_path for p in renamed] == [[ACCENTED], [ACCENTED]]
    # version 3 renamed section 3: its provisions point at a new row, the old one stays
    assert sum(p == ["3. Section 3"] for _, p in before) == 1
    assert sum(p == [ACCENTED] for _, p in before) == 1
    # a later version under the same headings adds no row
    _add_version(
        archive,
        tmp_path,
        "2024-12-01T12:00:00Z",
        lambda t: t.replace("for purpose 2 and", "for purpose two and"),
    )
    with archive.sessions() as session:
        assert session.execute(select(HeadingPath.id, HeadingPath.path)).all() == before
        fourth = session.get(Version, 4)
        edited = session.scalars(select(Provision).where(Provision.last_version_id == 4)).all()
        assert fourth is not None and edited
        assert all(p.last_seen_at == fourth.recorded_at for p in edited)
        two = [p for p in edited if p.revisions == 1 and p.heading_path == ["2. Section 2"]]
        assert len(two) == 1
        revision = session.scalars(
            select(ProvisionRevision).where(
                ProvisionRevision.provision_id == two[0].id, ProvisionRevision.version_id == 4
            )
        ).one()
        assert two[0].text_sha256 == revision.text_sha256


def _shown(archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the site, the API, the CLI's list and the exports show of the provisions (a fresh
    app; the evidence checks' clock pinned)."""
    from clausewatch.web.app import create_app

    monkeypatch.setattr(evidence, "utcnow", lambda: dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    with archive.sessions() as session:
        documents = [format_id("D", i) for i in session.scalars(select(Document.id))]
        provisions = [format_id("P", i) for i in session.scalars(select(Provision.id))]
    urls = [
        *(f"/documents/{d}" for d in documents),
        *(f"/api/v1/documents/{d}" for d in documents),
        *(f"/provisions/{p}" for p in provisions),
        *(f"/api/v1/provisions/{p}" for p in provisions),
        "/api/v1/provisions?limit=100",
        "/search?q=purpose",
        "/api/v1/search?q=purpose",
    ]
    shown: dict[str, Any] = {}
    with TestClient(create_app(archive.settings)) as client:
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (url, response.text[:300])
            shown[url] = response.text
    shown["cli list"] = list_provisions(archive, include_removed=True)
    out = tmp_path / f"export-{len(list(tmp_path.glob('export-*')))}"
    export_jsonl(archive, out, tables=["provisions"])
    shown["provisions.jsonl"] = (out / "provisions.jsonl").read_text()
    return shown


def _set_revision(archive: Archive, revision: str) -> None:

    from clausewatch.storage.migrate import downgrade, upgrade

    if revision == "head":
        upgrade(archive.engine)
        return
    downgrade(archive.engine, revision)


def test_migration_0012_keeps_every_page_api_output_and_export(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _archive(archive, tmp_path)
    analyse(archive)
    read = _read(archive)
    before = _shown(archive, tmp_path, monkeypatch)
    assert ACCENTED in before["provisions.jsonl"]
    assert any("2024-03-01" in page for url, page in before.items() if "/provisions/P" in url)

    _set_revision(archive, "0011")
    # the downgrade gives back every dropped column with the value the model read
    assert set(DROPPED) <= _columns(archive, "provisions")
    assert "heading_paths" not in inspect(archive.engine).get_table_names()
    assert _stored(archive) == [(r[0], *r[5:]) for r in read]

    _set_revision(archive, "head")
    assert not set(DROPPED) & _columns(archive, "provisions")
    assert _read(archive) == read
    assert _shown(archive, tmp_path, monkeypatch) == before
    with archive.sessions() as session:
        report = verify_archive(session, archive.store)
        paths = session.execute(select(HeadingPath.path)).scalars().all()
    assert report.ok, report.problems
    assert len(paths) == len({tuple(r[7]) for r in read if r[7]})
    # new rows get ids after the migrated ones (PostgreSQL: the sequence was moved on)
    _add_version(
        archive,
        tmp_path,
        "2024-12-01T12:00:00Z",
        lambda t: t + "\n\n## 12. A new heading\n\nA brand new clause about arbitration.",
    )
    with archive.sessions() as session:
        new = session.scalars(select(Provision).order_by(Provision.id.desc()).limit(1)).one()
        assert new.heading_path == ["12. A new heading"]
        assert new.heading_path_id == len(paths) + 1


@pytest.mark.parametrize("column", ["first_seen_at", "text_sha256"])
def test_migration_0012_refuses_a_value_it_would_read_otherwise(
    archive: Archive, tmp_path: Path, column: str
) -> None:
    from clausewatch.storage.migrate import current_revision

    _archive(archive, tmp_path)
    _set_revision(archive, "0011")
    with archive.engine.begin() as conn:
        if column == "first_seen_at":  # the second version's time on a row of the first
            conn.execute(
                text(
                    "UPDATE provisions SET first_seen_at = (SELECT recorded_at FROM versions "
                    "WHERE id = 2) WHERE id = 2"
                )
            )
        else:  # another provision's text hash
            conn.execute(
                text(
                    "UPDATE provisions SET text_sha256 = (SELECT text_sha256 FROM provisions "
                    "WHERE id = 1) WHERE id = 2"
                )
            )
    with pytest.raises(RuntimeError, match=rf"1 provisions have a {column} .*first: \[2\]"):
        _set_revision(archive, "head")
    assert current_revision(archive.engine) == "0011"  # nothing changed
    assert column in _columns(archive, "provisions")
