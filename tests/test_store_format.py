"""The snapshot pack's two formats: packs of format 1 (hex keys, 4 KiB pages) are read and
written as they are; `upgrade_pack` (run by `clausewatch db upgrade`) copies one into format 2
(32-byte keys, 1 KiB pages) without recompressing a frame."""

from __future__ import annotations

import random
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clausewatch.archive.snapshots import (
    PACK_NAME,
    LocalSnapshotStore,
    open_store,
    upgrade_pack,
)

# The schema format 1 wrote (archive/snapshots.py before format 2), verbatim.
FORMAT_1 = """
CREATE TABLE IF NOT EXISTS objects (
    sha256 TEXT PRIMARY KEY NOT NULL,  -- of the uncompressed bytes
    base TEXT,                         -- NULL: a keyframe; else the keyframe used as dictionary
    size INTEGER NOT NULL,             -- uncompressed bytes
    frame BLOB NOT NULL                -- one zstd frame
);
CREATE INDEX IF NOT EXISTS objects_base ON objects (base) WHERE base IS NOT NULL;
CREATE TABLE IF NOT EXISTS format (name TEXT NOT NULL);
INSERT INTO format SELECT 'clausewatch-objects 1' WHERE NOT EXISTS (SELECT 1 FROM format);
"""


def _page(i: int) -> bytes:
    rng = random.Random(11)
    words = [f"w{rng.randrange(10**6)}" for _ in range(6000)]
    for j in range(i):
        words[(j * 991) % len(words)] = f"changed{j}"
    return " ".join(words).encode()


def _format_1_store(root: Path) -> LocalSnapshotStore:
    root.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(root / PACK_NAME, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(FORMAT_1)
    return LocalSnapshotStore(root)


def _pack(store: LocalSnapshotStore) -> dict[str, object]:
    with closing(sqlite3.connect(store.pack_path)) as db:
        rows = db.execute("SELECT sha256, base, typeof(sha256), size, frame FROM objects")
        return {
            "format": db.execute("SELECT name FROM format").fetchall(),
            "page size": db.execute("PRAGMA page_size").fetchone()[0],
            "key types": {r[2] for r in rows.fetchall()},
            "rows": {
                _hex(sha): (_hex(base), size, bytes(frame))
                for sha, base, _, size, frame in db.execute(
                    "SELECT sha256, base, typeof(sha256), size, frame FROM objects"
                )
            },
        }


def _hex(key: str | bytes | None) -> str | None:
    return key.hex() if isinstance(key, bytes) else key


def _history(store: LocalSnapshotStore, older: str | None = None) -> dict[str, bytes]:
    """A keyframe, deltas, a text derived from a delta, and a delta of an older file."""
    stored: dict[str, bytes] = {}
    previous = older
    for i in range(4):
        previous = store.put(_page(i), base=previous)
        stored[previous] = _page(i)
    text = _page(3).replace(b"changed", b"Changed")
    stored[store.put(text, base=previous, derived=True)] = text
    return stored


def test_a_new_pack_is_format_2(tmp_path: Path) -> None:
    store = LocalSnapshotStore(tmp_path / "blobs")
    stored = _history(store)
    pack = _pack(store)
    assert pack["format"] == [("clausewatch-objects 2",)]
    assert pack["page size"] == 1024 and pack["key types"] == {"blob"}
    assert all(store.get(sha) == data for sha, data in stored.items())
    assert upgrade_pack(store) is None  # nothing to do


def test_a_format_1_pack_is_read_written_and_upgraded_without_recompressing(
    tmp_path: Path,
) -> None:
    root = tmp_path / "blobs"
    older = open_store(f"file://{root}?layout=files").put(_page(30))  # an archive before packs
    store = _format_1_store(root)
    stored = _history(store, older) | {older: _page(30)}
    before = _pack(store)
    assert before["format"] == [("clausewatch-objects 1",)] and before["key types"] == {"text"}
    rows = before["rows"]
    assert isinstance(rows, dict) and len(rows) == 5 and rows[next(iter(rows))][0] == older
    dependents = store.dependents(older)
    assert len(dependents) == 5  # its 4 deltas and the text derived from one of them

    done = upgrade_pack(store)
    assert done is not None and done.objects == 5 and done.bytes_after < done.bytes_before
    after = _pack(store)
    assert after["format"] == [("clausewatch-objects 2",)]
    assert after["page size"] == 1024 and after["key types"] == {"blob"}
    assert after["rows"] == before["rows"]  # every key, base, size and frame as it was
    assert not list(root.glob(PACK_NAME + ".upgrade*"))
    reopened = LocalSnapshotStore(root)
    assert all(reopened.get(sha) == data for sha, data in stored.items())
    assert sorted(reopened.iter_hashes()) == sorted(stored)
    assert reopened.dependents(older) == dependents
    # written in format 2 from now on, as a delta of the same keyframe
    newer = reopened.put(_page(5), base=dependents[0])
    assert _pack(reopened)["rows"][newer][0] == older  # type: ignore[index]
    assert upgrade_pack(reopened) is None


def test_db_upgrade_upgrades_the_pack(tmp_path: Path) -> None:
    from clausewatch.cli import app as cli

    data = tmp_path / "data"
    store = _format_1_store(data / "snapshots")
    stored = _history(store)
    store.close()
    result = CliRunner().invoke(cli, ["db", "upgrade", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert "5 objects copied into format 2" in result.output
    upgraded = LocalSnapshotStore(data / "snapshots")
    assert _pack(upgraded)["key types"] == {"blob"}
    assert all(upgraded.get(sha) == data for sha, data in stored.items())
    again = CliRunner().invoke(cli, ["db", "upgrade", "--data-dir", str(data)])
    assert again.exit_code == 0 and "format 2" not in again.output


def test_a_pack_of_unknown_format_refuses_writes_instead_of_skipping_them(tmp_path: Path) -> None:
    """An object is never taken for stored because the pack could not be read (a put that
    found the format row missing once skipped its write: a worker's snapshot went missing)."""
    root = tmp_path / "blobs"
    root.mkdir()
    with closing(sqlite3.connect(root / PACK_NAME, isolation_level=None)) as db:
        db.executescript(FORMAT_1.replace("INSERT INTO format", "-- INSERT INTO format"))
    store = LocalSnapshotStore(root)
    with pytest.raises(OSError, match="unknown snapshot pack format"):
        store.put(_page(0))


def test_threads_creating_the_pack_at_once_store_every_object(tmp_path: Path) -> None:
    store = LocalSnapshotStore(tmp_path / "blobs")
    pages = [_page(i) for i in range(8)]
    barrier = threading.Barrier(len(pages))

    def put(data: bytes) -> str:
        barrier.wait()
        return store.put(data)

    with ThreadPoolExecutor(len(pages)) as pool:
        shas = list(pool.map(put, pages))
    fresh = LocalSnapshotStore(tmp_path / "blobs")
    assert [fresh.get(sha) for sha in shas] == pages
