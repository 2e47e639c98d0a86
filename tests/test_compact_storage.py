"""Compact storage, database side: version layouts are stored as zstd frames of their JSON
(migration 0009), read back as the same lists, and an archive migrated from the plain JSON
columns keeps every layout."""

from __future__ import annotations

import json
from pathlib import Path

from archive_fixtures import *  # noqa: F403
from sqlalchemy import select, text

from clausewatch.archive.evidence import verify_archive
from clausewatch.archive.service import Archive
from clausewatch.importers.ota import import_history, read_jsonl
from clausewatch.provisions.service import build
from clausewatch.storage.compressed import ZSTD_MAGIC
from clausewatch.storage.models import VersionLayout

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "clausewatch" / "data"


def _history(tmp_path: Path) -> Path:
    body = "\n\n".join(
        f"## {i}. Section {i}\n\nWe may process your data for purpose {i} and keep it "
        f"for {i + 1} months, as the law allows." * 2
        for i in range(1, 30)
    )
    records = [
        {"service": "Example", "terms_type": "Terms of Service", "recorded_at": at, "text": t}
        for at, t in [
            ("2024-03-01T12:00:00Z", body),
            ("2024-06-01T12:00:00Z", body.replace("purpose 7 ", "purpose seven ")),
            ("2024-09-01T12:00:00Z", body.replace("12 months", "24 months")),
        ]
    ]
    path = tmp_path / "h.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _layouts(archive: Archive) -> dict[int, tuple[list[object], list[object]]]:
    with archive.sessions() as session:
        rows = session.scalars(select(VersionLayout).order_by(VersionLayout.version_id))
        return {r.version_id: (r.segments, r.heading_paths) for r in rows}


def test_layouts_are_stored_compressed_and_read_as_lists(archive: Archive, tmp_path: Path) -> None:
    import_history(archive, read_jsonl(_history(tmp_path)))
    build(archive)
    layouts = _layouts(archive)
    assert len(layouts) == 3
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
    from alembic import command

    from clausewatch.storage.migrate import alembic_config, upgrade

    import_history(archive, read_jsonl(_history(tmp_path)))
    build(archive)
    before = _layouts(archive)
    cfg = alembic_config(archive.engine)
    with archive.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
    with archive.engine.connect() as conn:
        plain = conn.execute(text("SELECT segments FROM version_layouts")).scalars().all()
    # plain JSON again (SQLite: text; PostgreSQL: jsonb, read as lists)
    assert all(isinstance(p, str | list) for p in plain)
    upgrade(archive.engine)
    assert _layouts(archive) == before
