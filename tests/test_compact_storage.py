"""Compact storage, database side: version layouts are stored as zstd frames of their JSON
(migration 0009), read back as the same lists, and an archive migrated from the plain JSON
columns keeps every layout. Migration 0010: redlines computed when read instead of stored,
revisions' heading paths read from the layouts, layouts as columns of differences, binary
SHA-256 digests; an archive migrated to it shows the same change records and provisions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from archive_fixtures import *  # noqa: F403
from sqlalchemy import inspect, select, text

from clausewatch.archive.evidence import verify_archive
from clausewatch.archive.service import Archive
from clausewatch.changes.queries import change_detail, change_page
from clausewatch.changes.redline import redline, render_redline
from clausewatch.importers.ota import import_history, read_jsonl
from clausewatch.provisions.queries import provision_detail
from clausewatch.provisions.service import build
from clausewatch.storage.compressed import (
    CHANGE_KIND_CODES,
    SEGMENT_KIND_CODES,
    ZSTD_MAGIC,
    decode_layout,
    encode_layout,
    layout_json_text,
    load_json,
)
from clausewatch.storage.migrate import alembic_config, downgrade, upgrade
from clausewatch.storage.models import (
    ChangeItem,
    ChangeRecord,
    Provision,
    ProvisionRevision,
    Version,
    VersionLayout,
)

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "clausewatch" / "data"


def _history(tmp_path: Path) -> Path:
    body = "\n\n".join(
        f"## {i}. Section {i}\n\nWe may process your data for purpose {i} and keep it "
        f"for {i + 1} months, as the law allows." * 2
        for i in range(1, 30)
    )
    moved = body.replace("## 3. Section 3", "## 3. Section Three").replace("12 months", "24 months")
    records = [
        {"service": "Example", "terms_type": "Terms of Service", "recorded_at": at, "text": t}
        for at, t in [
            ("2024-03-01T12:00:00Z", body),
            ("2024-06-01T12:00:00Z", body.replace("purpose 7 ", "purpose seven ")),
            ("2024-09-01T12:00:00Z", moved),
        ]
    ]
    path = tmp_path / "h.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _built(archive: Archive, tmp_path: Path) -> None:
    """The test history imported and its provisions built."""
    import_history(archive, read_jsonl(_history(tmp_path)))
    build(archive)


def _layouts(archive: Archive) -> dict[int, tuple[list[Any], list[Any]]]:
    with archive.sessions() as session:
        rows = session.scalars(select(VersionLayout).order_by(VersionLayout.version_id))
        return {r.version_id: (r.segments, r.heading_paths) for r in rows}


def test_layouts_are_stored_compressed_and_read_as_lists(archive: Archive, tmp_path: Path) -> None:
    _built(archive, tmp_path)
    layouts = _layouts(archive)
    assert len(layouts) == 3
    with archive.engine.connect() as conn:
        frames = {
            v: (b, s)
            for v, b, s in conn.execute(
                text("SELECT version_id, base_version_id, segments FROM version_layouts")
            )
        }
    # later versions of the document are deltas of the first one's layout (migration 0013)
    assert sorted(b for b, _ in frames.values() if b) == [min(frames)] * 2
    for base, frame in frames.values():  # columns of differences (0010), read back as the rows
        dictionary = layout_json_text(frames[base][1]) if base else None
        assert json.loads(layout_json_text(frame, dictionary))["format"] == "columns-1"
    for segments, headings in layouts.values():
        assert segments and all(isinstance(s, list) and len(s) == 6 for s in segments)
        assert headings and all(isinstance(h, list) for h in headings)
    with archive.engine.connect() as conn:
        stored = conn.execute(text("SELECT segments, heading_paths FROM version_layouts")).all()
    assert all(bytes(cell)[:4] == ZSTD_MAGIC for row in stored for cell in row)
    with archive.sessions() as session:
        assert verify_archive(session, archive.store).ok


def test_migration_0009_compresses_the_layouts_of_an_existing_archive(
    archive: Archive, tmp_path: Path
) -> None:
    _built(archive, tmp_path)
    before = _layouts(archive)
    downgrade(archive.engine, "0008")
    with archive.engine.connect() as conn:
        plain = conn.execute(text("SELECT segments FROM version_layouts")).scalars().all()
    # plain JSON again (SQLite: text; PostgreSQL: jsonb, read as lists)
    assert all(isinstance(p, str | list) for p in plain)
    upgrade(archive.engine)
    assert _layouts(archive) == before


# -- migration 0010 -----------------------------------------------------------------------------


def _columns(archive: Archive, table: str) -> set[str]:
    return {c["name"] for c in inspect(archive.engine).get_columns(table)}


def _shown(archive: Archive) -> dict[str, object]:
    """What the read paths show of every change record and provision."""
    with archive.sessions() as session:
        changes = list(session.scalars(select(ChangeRecord.id).order_by(ChangeRecord.id)))
        provisions = list(session.scalars(select(Provision.id).order_by(Provision.id)))
        paths = {
            r.id: r.heading_path
            for r in session.scalars(select(ProvisionRevision).order_by(ProvisionRevision.id))
        }
    return {
        "changes": [change_page(archive, c) for c in changes],
        "provisions": [provision_detail(archive, p) for p in provisions],
        "revision heading paths": paths,
        "layouts": _layouts(archive),
    }


def test_redlines_are_not_stored_yet_every_change_record_shows_them(
    archive: Archive, tmp_path: Path
) -> None:
    _built(archive, tmp_path)
    assert "redline" not in _columns(archive, "change_items")
    assert "heading_path" not in _columns(archive, "provision_revisions")
    with archive.sessions() as session:
        records = list(session.scalars(select(ChangeRecord).order_by(ChangeRecord.id)))
        assert len(records) == 2
        texts = {v.id: archive.version_text(v) for v in session.scalars(select(Version))}
        spans = {
            layout.version_id: {row[0]: (row[1], row[2]) for row in layout.segments}
            for layout in session.scalars(select(VersionLayout))
        }
    shown = 0
    for record in records:
        page = change_page(archive, record.id)
        detail = change_detail(archive, record.id)
        with archive.sessions() as session:
            items = list(
                session.scalars(select(ChangeItem).where(ChangeItem.change_id == record.id))
            )
        for item, out, line in zip(items, page["items"], detail["items"], strict=True):
            old = spans[record.from_version_id].get(item.provision_id)
            new = spans[record.to_version_id].get(item.provision_id)
            if old is None or new is None:
                assert out["redline_ops"] == [] and line["redline"] == ""
                continue
            ops = redline(
                texts[record.from_version_id][old[0] : old[1]],
                texts[record.to_version_id][new[0] : new[1]],
            )
            assert out["redline_ops"] == [[op.op, op.text] for op in ops]
            assert line["redline"] == render_redline(ops, "text")
            shown += 1
    assert shown >= 2  # "purpose 7" and "12 months" edited
    second = change_detail(archive, records[1].id)
    assert any("[-12-]" in i["redline"] and "{+24+}" in i["redline"] for i in second["items"])


def test_revision_heading_paths_and_digests_come_from_the_layouts_and_bytes(
    archive: Archive, tmp_path: Path
) -> None:
    _built(archive, tmp_path)
    with archive.sessions() as session:
        revisions = list(session.scalars(select(ProvisionRevision)))
        provision = session.get(Provision, revisions[0].provision_id)
        assert provision is not None
        for r in revisions:
            assert len(r.text_sha256) == 64 and int(r.text_sha256, 16) >= 0
        renamed = [r for r in revisions if r.heading_path == ["3. Section Three"]]
        assert renamed and all(r.version_id == 3 for r in renamed)
        assert revisions[0].heading_path == ["1. Section 1"] == provision.heading_path
    with archive.engine.connect() as conn:
        stored = conn.execute(text("SELECT text_sha256 FROM provision_revisions")).scalars()
        assert {len(bytes(s)) for s in stored} == {32}
    with archive.sessions() as session:  # the ORM compares hex with the stored bytes
        found = session.scalars(
            select(ProvisionRevision).where(
                ProvisionRevision.text_sha256 == revisions[0].text_sha256
            )
        ).all()
        assert [r.id for r in found] == [revisions[0].id]


def test_layout_columns_read_back_as_the_same_rows() -> None:
    rows = [
        [7, 0, 10, "paragraph", None, 0],
        [3, 12, 30, "clause", "1.1", 1],
        [9, 31, 40, "x", None, 1],
    ]
    encoded = encode_layout(rows)
    assert encoded["columns"][0] == [7, -4, 6] and decode_layout(encoded) == rows
    assert decode_layout(encode_layout([])) == []
    assert encode_layout([[1, 2]]) == [[1, 2]]  # not a layout: kept as it is
    assert decode_layout([[1, 2]]) == [[1, 2]]  # rows stored before 0010


def _downgrade_to_0009_as_old_builds_stored_it(archive: Archive) -> None:
    """The archive as clausewatch before 0010 stored it: redlines written by build (the old
    build's own computation, ``redline`` of the two spans), heading paths, hex digests."""

    with archive.sessions() as session:
        records = session.scalars(select(ChangeRecord.id).order_by(ChangeRecord.id)).all()
    shown = [change_page(archive, record) for record in records]
    cfg = alembic_config(archive.engine)
    with archive.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
        update = text("UPDATE change_items SET redline = :r WHERE id = :i").bindparams(
            _json_param("r")
        )
        ids = conn.execute(text("SELECT id FROM change_items ORDER BY id")).scalars().all()
        ops = [item["redline_ops"] for page in shown for item in page["items"]]
        assert len(ids) == len(ops)
        conn.execute(update, [{"r": o, "i": i} for i, o in zip(ids, ops, strict=True)])


def _json_param(name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(
        name, type_=sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
    )


def test_migration_0010_keeps_what_every_change_record_and_provision_shows(
    archive: Archive, tmp_path: Path
) -> None:
    _built(archive, tmp_path)
    before = _shown(archive)
    _downgrade_to_0009_as_old_builds_stored_it(archive)
    assert {"redline"} <= _columns(archive, "change_items")
    assert {"heading_path"} <= _columns(archive, "provision_revisions")
    with archive.engine.connect() as conn:
        hexes = conn.execute(text("SELECT text_sha256 FROM provisions")).scalars().all()
        plain = conn.execute(text("SELECT segments FROM version_layouts")).scalars().all()
        paths = conn.execute(text("SELECT heading_path FROM provision_revisions")).scalars().all()
    assert all(isinstance(h, str) and len(h) == 64 for h in hexes)
    assert all(isinstance(load_json(p), list) for p in plain)
    assert ["1. Section 1"] in [json.loads(p) if isinstance(p, str) else p for p in paths]
    upgrade(archive.engine)
    assert "redline" not in _columns(archive, "change_items")
    assert "heading_path" not in _columns(archive, "provision_revisions")
    after = _shown(archive)
    assert after == before
    assert sum(bool(i["redline_ops"]) for c in after["changes"] for i in c["items"]) >= 2  # type: ignore[attr-defined]
    with archive.sessions() as session:
        assert verify_archive(session, archive.store).ok


def test_migration_0010_refuses_to_drop_a_heading_path_the_layout_lacks(
    archive: Archive, tmp_path: Path
) -> None:
    _built(archive, tmp_path)
    _downgrade_to_0009_as_old_builds_stored_it(archive)
    with archive.engine.begin() as conn:
        conn.execute(
            text("UPDATE provision_revisions SET heading_path = :h WHERE id = 1").bindparams(
                _json_param("h")
            ),
            {"h": ["Somewhere else"]},
        )
    with pytest.raises(RuntimeError, match=r"not dropping provision_revisions\.heading_path"):
        upgrade(archive.engine)
    assert "heading_path" in _columns(archive, "provision_revisions")  # nothing dropped


# -- migration 0013: layouts as deltas of a keyframe layout --------------------------------------


def test_migration_0013_stores_an_existing_archives_layouts_as_deltas(
    archive: Archive, tmp_path: Path
) -> None:
    _built(archive, tmp_path)
    before = _layouts(archive)
    downgrade(archive.engine, "0012")
    assert "base_version_id" not in _columns(archive, "version_layouts")
    with archive.engine.connect() as conn:
        whole = conn.execute(text("SELECT segments, heading_paths FROM version_layouts")).all()
    assert [tuple(load_json(c) for c in row) for row in whole] == [
        (encode_layout(s), h) for s, h in before.values()
    ]
    upgrade(archive.engine)
    assert _layouts(archive) == before
    with archive.engine.connect() as conn:
        bases = conn.execute(text("SELECT base_version_id FROM version_layouts")).scalars()
        assert sorted(b for b in bases if b) == [min(before)] * 2


def test_a_layout_whose_keyframe_is_gone_says_so(archive: Archive, tmp_path: Path) -> None:
    _built(archive, tmp_path)
    first = min(_layouts(archive))
    with archive.engine.begin() as conn:
        conn.execute(
            text("UPDATE version_layouts SET base_version_id = 999999 WHERE base_version_id = :v"),
            {"v": first},
        )
    with archive.sessions() as session, pytest.raises(LookupError, match="V-999999 is missing"):
        for layout in session.scalars(select(VersionLayout)):
            layout.segments  # noqa: B018


# -- migration 0014: kinds as one-letter codes ----------------------------------------------------


def _kinds(archive: Archive) -> tuple[list[str], list[str]]:
    with archive.sessions() as session:
        revisions = session.scalars(select(ProvisionRevision.kind).order_by(ProvisionRevision.id))
        items = session.scalars(select(ChangeItem.kind).order_by(ChangeItem.id))
        return list(revisions), list(items)


def _stored_kinds(archive: Archive) -> set[str]:
    with archive.engine.connect() as conn:
        return set(
            conn.execute(
                text("SELECT kind FROM provision_revisions UNION SELECT kind FROM change_items")
            ).scalars()
        )


def test_kinds_are_stored_as_letters_by_sqlite_and_read_as_words(
    archive: Archive, tmp_path: Path
) -> None:
    _built(archive, tmp_path)
    revisions, items = _kinds(archive)
    assert set(revisions) <= {"clause", "paragraph", "list_item", "table_row"}
    assert "modified" in items
    words = set(revisions) | set(items)
    if archive.engine.dialect.name == "sqlite":
        letters = dict(SEGMENT_KIND_CODES + CHANGE_KIND_CODES)
        assert _stored_kinds(archive) == {letters[w] for w in words}
    else:
        assert _stored_kinds(archive) == words  # PostgreSQL keeps the words
    with archive.sessions() as session:  # a filter on the word finds the rows
        modified = session.scalars(select(ChangeItem).where(ChangeItem.kind == "modified")).all()
        assert len(modified) == items.count("modified") > 0
    with archive.sessions() as session:
        change = session.scalars(select(ChangeItem.change_id)).first()
    assert change is not None
    page = change_detail(archive, change)
    downgrade(archive.engine, "0013")
    assert _stored_kinds(archive) == words and _kinds(archive) == (revisions, items)
    upgrade(archive.engine)
    assert _kinds(archive) == (revisions, items) and change_detail(archive, change) == page
