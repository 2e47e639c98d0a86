"""Compact captures (migration 0011): the four SHA-256 columns hold the digests' 32 bytes, a
final URL or import key equal to the capture's URL is stored as "" and read as the URL
(`storage.models.Capture`), and the import key stays unique (an index on the key as read). An
archive migrated to it shows the same pages and API output and its hash chain verifies; the
downgrade gives back every value as it was stored."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from archive_fixtures import *  # noqa: F403
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from starlette.testclient import TestClient
from test_archive import check, platform_decl

from clausewatch.archive import evidence
from clausewatch.archive.evidence import verify_archive
from clausewatch.archive.service import Archive
from clausewatch.ids import format_id
from clausewatch.importers.ota import import_history, read_jsonl
from clausewatch.provisions.service import build
from clausewatch.storage.models import Capture, Document, Provision, Version

URL = "https://live.example/terms"
MOVED = "https://live.example/legal/terms"  # where the first fetch was redirected to
T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
DIGESTS = ("snapshot_sha256", "text_sha256", "chain_prev", "chain_hash")
COLUMNS = ("id", "url", "final_url", "import_ref", *DIGESTS)
BODY = " ".join(f"Clause {i}: we may process your data for purpose {i}." for i in range(40))


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


def _live(archive: Archive) -> int:
    """A document captured three times: redirected to MOVED, then at its URL, then failed."""
    archive.sync_registry([platform_decl("live", url=URL, doc_type="Privacy Policy")])
    doc = next(d.id for d in archive.documents() if d.doc_type == "Privacy Policy")
    for day, final in enumerate((MOVED, URL, None)):
        at = T0 + dt.timedelta(days=day)
        check(archive, doc, BODY if final else None, at, url=URL, final_url=final)
    return doc


def _archive(archive: Archive, tmp_path: Path) -> int:
    import_history(archive, read_jsonl(_history(tmp_path)))
    build(archive)
    return _live(archive)


def _read(archive: Archive) -> list[tuple[Any, ...]]:
    """Every capture's URLs and digests as the models read them."""
    with archive.sessions() as session:
        rows = session.execute(
            select(*(getattr(Capture, c) for c in COLUMNS)).order_by(Capture.id)
        ).all()
        objects = session.scalars(select(Capture).order_by(Capture.id)).all()
        assert [tuple(getattr(o, c) for c in COLUMNS) for o in objects] == [tuple(r) for r in rows]
    return [tuple(r) for r in rows]


def _stored(archive: Archive) -> list[tuple[Any, ...]]:
    """The same columns as stored (raw SQL), bytes as bytes."""
    with archive.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {', '.join(COLUMNS)} FROM captures ORDER BY id")).all()
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows]


def _set_revision(archive: Archive, revision: str) -> None:

    from clausewatch.storage.migrate import downgrade, upgrade

    if revision == "head":
        upgrade(archive.engine)
        return
    downgrade(archive.engine, revision)


def test_captures_store_digests_as_bytes_and_the_url_once(archive: Archive, tmp_path) -> None:
    _archive(archive, tmp_path)
    stored, read = _stored(archive), _read(archive)
    imported = [r for r in read if r[1].startswith("ota:")]
    live = [r for r in read if r[1] == URL]
    assert len(imported) == 3 and len(live) == 3
    for row in stored:
        assert all(d is None or (isinstance(d, bytes) and len(d) == 32) for d in row[4:])
        if row[1].startswith("ota:"):
            assert row[2] == "" and row[3] == ""  # each the url, stored once
    assert [r[2:4] for r in stored if r[1] == URL] == [(MOVED, None), ("", None), ("", None)]
    # read as before
    for row in imported:
        assert row[2] == row[1] and row[3] == row[1]
    assert [r[2:4] for r in live] == [(MOVED, None), (URL, None), (URL, None)]
    for row in read:
        assert all(d is None or (len(d) == 64 and int(d, 16) >= 0) for d in row[4:])
    assert live[2][4] is None and live[2][5] is None  # the failed fetch: no snapshot, no text
    # SQL sees the values as read, too
    with archive.sessions() as session:
        moved = session.scalars(select(Capture.id).where(Capture.final_url == MOVED)).all()
        same = session.scalars(select(Capture.id).where(Capture.final_url == URL)).all()
        ref = imported[1][1]
        by_ref = session.scalars(select(Capture.id).where(Capture.import_ref == ref)).all()
        by_hash = session.scalars(select(Capture.id).where(Capture.chain_hash == read[2][7]))
        assert by_hash.all() == [read[2][0]]
        assert session.scalar(select(Capture.id).where(Capture.import_ref.is_(None))) == live[0][0]
        report = verify_archive(session, archive.store)
    assert moved == [live[0][0]] and same == [live[1][0], live[2][0]]
    assert by_ref == [imported[1][0]]
    assert report.ok, report.problems


def test_a_record_is_imported_once_and_looked_up_through_the_index(
    archive: Archive, tmp_path
) -> None:
    _archive(archive, tmp_path)
    refs = [r[1] for r in _read(archive) if r[1].startswith("ota:")]
    with archive.sessions() as session:
        first = session.scalars(select(Capture).where(Capture.import_ref == refs[0])).one()
        copy = Capture(
            **{
                c: getattr(first, c)
                for c in (c.key for c in Capture.__table__.columns)
                if c not in ("id", "chain_hash")
            },
            chain_hash="cd" * 32,
        )
        session.add(copy)
        with pytest.raises(IntegrityError):
            session.commit()
    query = select(Capture.id).where(Capture.import_ref.in_(refs))
    sql = str(query.compile(archive.engine, compile_kwargs={"literal_binds": True}))
    with archive.engine.connect() as conn:
        if archive.engine.dialect.name == "sqlite":
            plan = " ".join(str(r) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        else:  # a handful of rows: a scan would be cheaper; the index must still be usable
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(str(r) for r in conn.exec_driver_sql(f"EXPLAIN {sql}"))
        assert len(conn.execute(query).all()) == 3
    assert "ix_captures_import_ref" in plan


def _shown(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the site and the API show of every document, version and provision (a fresh app;
    the evidence checks' clock pinned)."""
    from clausewatch.web.app import create_app

    monkeypatch.setattr(evidence, "utcnow", lambda: dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    with archive.sessions() as session:
        documents = [format_id("D", i) for i in session.scalars(select(Document.id))]
        versions = [format_id("V", i) for i in session.scalars(select(Version.id))]
        provisions = [format_id("P", i) for i in session.scalars(select(Provision.id).limit(5))]
    urls = [
        *(f"/documents/{d}" for d in documents),
        *(f"/api/v1/documents/{d}/captures" for d in documents),
        *(f"/api/v1/documents/{d}" for d in documents),
        *(f"/versions/{v}" for v in versions),
        *(f"/provisions/{p}" for p in provisions),
        *(f"/api/v1/provisions/{p}" for p in provisions),
    ]
    shown: dict[str, Any] = {}
    with TestClient(create_app(archive.settings)) as client:
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (url, response.text[:300])
            is_json = response.headers["content-type"].startswith("application/json")
            shown[url] = response.json() if is_json else response.text
    return shown


def test_migration_0011_keeps_every_page_api_output_and_the_chain(
    archive: Archive, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _archive(archive, tmp_path)
    read = _read(archive)
    before = _shown(archive, monkeypatch)
    assert any(MOVED in str(page) for page in before.values())
    assert any(r[1] in str(before[url]) for url in before for r in read if r[3])

    _set_revision(archive, "0010")
    # the downgrade gives back every value as 0010 stored it: hex text, the urls themselves
    assert _stored(archive) == read
    assert all(isinstance(d, str) for row in _stored(archive) for d in row[4:] if d is not None)
    indexes = {i["name"]: i for i in inspect(archive.engine).get_indexes("captures")}
    assert indexes["ix_captures_import_ref"]["column_names"] == ["import_ref"]
    assert indexes["ix_captures_import_ref"]["unique"]

    _set_revision(archive, "head")
    stored = _stored(archive)
    assert all(isinstance(d, bytes) for row in stored for d in row[4:] if d is not None)
    assert sum(row[2] == "" for row in stored) == 5 and sum(row[3] == "" for row in stored) == 3
    assert _read(archive) == read
    assert _shown(archive, monkeypatch) == before
    with archive.sessions() as session:
        report = verify_archive(session, archive.store)
    assert report.ok, report.problems
    assert report.captures == len(read)


def test_migration_0011_refuses_an_empty_final_url_it_would_read_as_the_url(
    archive: Archive, tmp_path
) -> None:
    from clausewatch.storage.migrate import current_revision

    _archive(archive, tmp_path)
    _set_revision(archive, "0010")
    with archive.engine.begin() as conn:
        conn.execute(text("UPDATE captures SET final_url = '' WHERE id = 2"))
    with pytest.raises(RuntimeError, match=r"empty final URL or import key .*first: \[2\]"):
        _set_revision(archive, "head")
    assert current_revision(archive.engine) == "0010"  # nothing changed


def test_migration_0011_and_a_digest_that_is_not_hex(archive: Archive, tmp_path) -> None:
    """None is ever written; SQLite keeps such a value as the text it was (it reads as it did),
    PostgreSQL's bytea cannot hold it: the migration stops and names it."""
    from clausewatch.storage.migrate import current_revision

    _archive(archive, tmp_path)
    _set_revision(archive, "0010")
    with archive.engine.begin() as conn:
        conn.execute(
            text("UPDATE captures SET chain_hash = 'x' || substr(chain_hash, 2) WHERE id = 3")
        )
        forged = conn.execute(text("SELECT chain_hash FROM captures WHERE id = 3")).scalar()
    if archive.engine.dialect.name == "sqlite":
        _set_revision(archive, "head")
        assert _read(archive)[2][7] == forged
        assert {type(d) for row in _stored(archive) for d in row[4:] if d is not None} == {
            bytes,
            str,
        }
        with archive.sessions() as session:
            problems = {(p.record, p.what) for p in verify_archive(session, archive.store).problems}
        assert (format_id("CAP", 3), "record altered: its hash does not match") in problems
    else:
        with pytest.raises(RuntimeError, match=r"not converting captures\.chain_hash"):
            _set_revision(archive, "head")
        assert current_revision(archive.engine) == "0010"
