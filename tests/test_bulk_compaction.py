"""After a bulk write (`clausewatch import`), a SQLite database that grew by a quarter or more is
rebuilt (``VACUUM``): index entries written out of key order leave pages part-filled."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from archive_fixtures import pg_server_url  # noqa: F401  (a fixture)
from typer.testing import CliRunner

from clausewatch.archive.evidence import verify_archive
from clausewatch.archive.service import Archive
from clausewatch.cli import app
from clausewatch.config import Settings
from clausewatch.importers.sample import SAMPLE_PATH
from clausewatch.storage.db import compact_after_bulk_write, database_bytes, make_engine


def _hashes(db: sqlite3.Connection, start: int, n: int) -> None:
    rows = ((hashlib.sha256(str(i).encode()).hexdigest(),) for i in range(start, start + n))
    db.executemany("INSERT INTO t (h) VALUES (?)", rows)  # random order for the unique index


def test_a_database_grown_out_of_key_order_is_rebuilt_smaller(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, h TEXT UNIQUE)")
    engine = make_engine(f"sqlite:///{path}")
    before = database_bytes(engine)
    assert before is not None
    with closing(sqlite3.connect(path)) as db, db:
        _hashes(db, 0, 20_000)
    done = compact_after_bulk_write(engine, before)
    assert done is not None
    grown, after = done
    assert after < grown and database_bytes(engine) == after
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM t").fetchone() == (20_000,)
    # grown by less than a quarter: left alone
    with closing(sqlite3.connect(path)) as db, db:
        _hashes(db, 20_000, 500)
    assert compact_after_bulk_write(engine, after) is None
    engine.dispose()


@pytest.mark.postgres
def test_nothing_to_do_on_postgresql(pg_server_url: str) -> None:  # noqa: F811
    engine = make_engine(pg_server_url)
    assert database_bytes(engine) is None and compact_after_bulk_write(engine, None) is None
    engine.dispose()


def test_the_import_command_rebuilds_the_database_it_grew(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = CliRunner().invoke(app, ["import", str(SAMPLE_PATH), "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert "database rebuilt:" in result.output
    archive = Archive.open(Settings(data_dir=data))
    try:
        with archive.sessions() as session:
            assert verify_archive(session, archive.store).ok
        with archive.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA freelist_count").scalar_one() == 0
    finally:
        archive.close()
    # importing it again writes nothing: no rebuild
    again = CliRunner().invoke(app, ["import", str(SAMPLE_PATH), "--data-dir", str(data)])
    assert again.exit_code == 0 and "database rebuilt" not in again.output


def test_db_upgrade_rebuilds_a_database_it_migrated(tmp_path: Path) -> None:

    from clausewatch.storage.migrate import current_revision, downgrade

    data = tmp_path / "data"
    first = CliRunner().invoke(app, ["import", str(SAMPLE_PATH), "--data-dir", str(data)])
    assert first.exit_code == 0, first.output
    archive = Archive.open(Settings(data_dir=data))
    head = current_revision(archive.engine)
    downgrade(archive.engine, "0013")
    archive.close()
    # the command itself, not Archive.open (which also migrates)
    result = CliRunner().invoke(app, ["db", "upgrade", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert f"schema at revision {head}" in result.output and "database rebuilt:" in result.output
    again = CliRunner().invoke(app, ["db", "upgrade", "--data-dir", str(data)])
    assert again.exit_code == 0 and "database rebuilt" not in again.output
    archive = Archive.open(Settings(data_dir=data))
    try:
        with archive.sessions() as session:
            assert verify_archive(session, archive.store).ok
    finally:
        archive.close()
