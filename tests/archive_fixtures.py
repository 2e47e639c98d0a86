"""Storage fixtures: every archive test runs on SQLite and on the local PostgreSQL server."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
import zstandard
from sqlalchemy import create_engine, text

from clausewatch.archive.service import Archive
from clausewatch.archive.snapshots import PACK_NAME, LocalSnapshotStore
from clausewatch.config import Settings

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PG_ADMIN_URL = os.environ.get(
    "CLAUSEWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means: no server here
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A database of its own for this test process, dropped at the end."""
    why = _pg_reachable()
    if why:
        pytest.skip(why)
    name = (
        f"clausewatch_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:8]}"
    )
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _fresh_pg(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def make_settings(tmp_path: Path, database_url: str | None = None, **extra: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        confirm_delay=0.0,
        per_host_delay=0.0,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """The database URL for one backend (None = the embedded SQLite default)."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("pg_server_url")
    _fresh_pg(url)
    return url


@pytest.fixture
def archive(backend: str | None, tmp_path: Path) -> Iterator[Archive]:
    opened = Archive.open(make_settings(tmp_path, backend))
    yield opened
    opened.close()


@pytest.fixture
def sqlite_archive(tmp_path: Path) -> Iterator[Archive]:
    opened = Archive.open(make_settings(tmp_path))
    yield opened
    opened.close()


def stored_bases(data_dir: Path) -> set[str]:
    """The stored objects that other objects are deltas of (their keyframes)."""
    pack = data_dir / "snapshots" / PACK_NAME
    if not pack.exists():
        return set()
    with contextlib.closing(sqlite3.connect(pack)) as db:
        rows = db.execute("SELECT DISTINCT base FROM objects WHERE base IS NOT NULL")
        return {row[0].hex() for row in rows}  # format 2: digests as 32 bytes


def independent_snapshot(data_dir: Path, shas: Iterable[str]) -> str:
    """The first of ``shas`` that no other stored object is a delta of (removing a keyframe
    would also damage its deltas, e.g. the version text made from that snapshot)."""
    bases = stored_bases(data_dir)
    return next(sha for sha in shas if sha not in bases)


@contextlib.contextmanager
def snapshot_removed(data_dir: Path, sha256: str, *, detach: bool = False) -> Iterator[None]:
    """The stored object ``sha256`` taken out of the local store (a row of the pack, or a file of
    an older archive) for the duration of the block, then put back byte for byte. It must have
    no deltas (see `independent_snapshot`), unless ``detach``: then the objects stored as deltas
    of it (a version text derived from its snapshot) are stored whole meanwhile."""
    root = data_dir / "snapshots"
    files = list(root.rglob(f"{sha256}.zst"))
    if files:
        saved = files[0].read_bytes()
        files[0].unlink()
        try:
            yield
        finally:
            files[0].write_bytes(saved)
        return
    with contextlib.closing(sqlite3.connect(root / PACK_NAME, isolation_level=None)) as pack:
        key = bytes.fromhex(sha256)  # format 2: the digest as 32 bytes
        cursor = pack.execute("SELECT * FROM objects WHERE sha256 = ?", (key,))
        columns = [c[0] for c in cursor.description]
        row = cursor.fetchone()
        assert row is not None, f"{sha256} is not in the store"
        dependents = pack.execute("SELECT * FROM objects WHERE base = ?", (key,)).fetchall()
        assert detach or not dependents, f"{sha256} is the base of other objects"
        store = LocalSnapshotStore(root)
        for dependent in dependents:
            whole = zstandard.ZstdCompressor().compress(store.get(dependent[0].hex()))
            pack.execute(
                "UPDATE objects SET base = NULL, frame = ? WHERE sha256 = ?", (whole, dependent[0])
            )
        store.close()
        pack.execute("DELETE FROM objects WHERE sha256 = ?", (key,))
        try:
            yield
        finally:
            marks = ", ".join("?" for _ in columns)
            insert = f"INSERT OR REPLACE INTO objects ({', '.join(columns)}) VALUES ({marks})"
            pack.executemany(insert, [row, *dependents])
