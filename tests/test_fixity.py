"""Fixity: `verify` names every damaged or altered stored object (its hash, its reason and the
record that references it) and goes on; reads of a damaged object fail with a clear error that
names it, never a decompression traceback."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
import zstandard
from archive_fixtures import *  # noqa: F403
from loopback import LoopbackServer, Response, policy_page
from test_archive import platform_decl

from clausewatch.archive import snapshots
from clausewatch.archive.cycle import CaptureCycle
from clausewatch.archive.decide import Outcome
from clausewatch.archive.evidence import check_blob, verify_archive
from clausewatch.archive.service import Archive, CheckInput, CheckRecord, SourceCapture
from clausewatch.archive.snapshots import (
    LocalSnapshotStore,
    SnapshotDamaged,
    SnapshotNotFound,
    open_store,
    sha256_hex,
)
from clausewatch.capture.http import HttpFetcher
from clausewatch.extract import normalise_for_hash, text_sha256
from clausewatch.ids import format_id

T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
TEXT = normalise_for_hash(
    " ".join(f"Clause {i}: the service may process your data for purpose {i}." for i in range(40))
)


def _document(archive: Archive, url: str = "https://example.com/terms") -> int:
    archive.sync_registry([platform_decl(url=url)])
    return archive.documents()[0].id


def _capture(
    archive: Archive, doc: int, raw: bytes, at: dt.datetime, base: str | None = None
) -> CheckRecord:
    """One live-like check: a raw snapshot (bytes differ each time) whose text is TEXT;
    ``base``: the store's delta hint for the snapshot."""
    url = archive.document(doc).declaration["sources"][0]["url"]
    archive.store.put(TEXT.encode())
    return archive.record_check(
        CheckInput(
            document_id=doc,
            captures=[
                SourceCapture(
                    url=url,
                    final_url=url,
                    fetcher="http",
                    started_at=at,
                    status_code=200,
                    headers={"content-type": "text/html"},
                    snapshot_sha256=archive.store.put(raw, base=base),
                    size=len(raw),
                )
            ],
            checked_at=at,
            text=TEXT,
            text_sha256=text_sha256(TEXT),
            extractor_version="test",
        )
    )


def _raw(i: int) -> bytes:
    # incompressible, so zstd stores it in raw blocks: a flipped byte in the middle changes the
    # content without breaking the frame
    return b"<html><body>" + random.Random(i).randbytes(6000) + b"</body></html>"


def _path(store: object, sha: str) -> Path:
    assert isinstance(store, LocalSnapshotStore)
    return store._path(sha)


class _Stored:
    """The stored frame of one object, wherever it is: a row of the pack (``objects.sqlite``)
    or a file of its own (archives written before the pack, ``layout="files"``)."""

    def __init__(self, store: object, sha: str) -> None:
        assert isinstance(store, LocalSnapshotStore)
        self.store, self.sha, self.path = store, sha, store._path(sha)
        self.key = bytes.fromhex(sha)  # a row's key in a pack of format 2

    def _pack(self) -> sqlite3.Connection:
        return sqlite3.connect(self.store.pack_path, isolation_level=None)

    def read_bytes(self) -> bytes:
        if self.path.exists():
            return self.path.read_bytes()
        with closing(self._pack()) as db:
            row = db.execute("SELECT frame FROM objects WHERE sha256 = ?", (self.key,)).fetchone()
            return bytes(row[0])

    def write_bytes(self, frame: bytes) -> None:
        if self.path.exists():
            self.path.write_bytes(frame)
            return
        with closing(self._pack()) as db:
            db.execute("UPDATE objects SET frame = ? WHERE sha256 = ?", (frame, self.key))

    def unlink(self) -> None:
        if self.path.exists():
            self.path.unlink()
            return
        with closing(self._pack()) as db:
            db.execute("DELETE FROM objects WHERE sha256 = ?", (self.key,))


def _flip(path: _Stored, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


# how each object is damaged, and the reason verify must give
DAMAGE = {
    "flipped content byte": "hash mismatch",
    "flipped frame header byte": "corrupt frame",
    "truncated": "truncated",
    "appended bytes": "trailing bytes",
    "deleted": "missing",
    "replaced by another valid blob": "hash mismatch",
}


def _damage(store: object, sha: str, how: str) -> None:
    path = _Stored(store, sha)
    if how == "flipped content byte":
        _flip(path, len(path.read_bytes()) // 2)
    elif how == "flipped frame header byte":
        _flip(path, 0)
    elif how == "truncated":
        frame = path.read_bytes()
        path.write_bytes(frame[: len(frame) // 2])
    elif how == "appended bytes":
        path.write_bytes(path.read_bytes() + b"\x00 appended")
    elif how == "deleted":
        path.unlink()
    elif how == "replaced by another valid blob":
        path.write_bytes(zstandard.ZstdCompressor().compress(b"<html>another page</html>"))
    else:  # pragma: no cover
        raise AssertionError(how)


def _damaged_archive(archive: Archive) -> tuple[dict[str, tuple[str, list[str]]], list[str]]:
    """Nine captures of one document. Six snapshots are damaged, one way each (one of them is
    referenced by two captures), and the version text is truncated. Returns the damaged
    objects as {sha: (reason, records that reference it)} and the intact snapshots."""
    doc = _document(archive)
    raws = [_raw(i) for i in range(8)] + [_raw(2)]  # the ninth fetch repeats the third's bytes
    records = [_capture(archive, doc, raw, T0 + dt.timedelta(days=i)) for i, raw in enumerate(raws)]
    assert records[0].outcome == Outcome.FIRST_VERSION
    assert {r.outcome for r in records[1:]} == {Outcome.VERIFIED}
    shas = [c.snapshot_sha256 or "" for c in archive.captures(doc)]
    assert len(shas) == len(raws) and all(shas)
    cap = [format_id("CAP", r.capture_ids[0]) for r in records]
    damaged: dict[str, tuple[str, list[str]]] = {}
    for i, (how, reason) in enumerate(DAMAGE.items(), start=1):
        sha = shas[i]
        _damage(archive.store, sha, how)
        damaged[sha] = (reason, [cap[j] for j in range(len(raws)) if shas[j] == sha])
    assert len(damaged[shas[2]][1]) == 2  # the repeated snapshot: both captures are named
    version = archive.versions(doc)[0]
    _damage(archive.store, version.text_sha256, "truncated")
    damaged[version.text_sha256] = ("truncated", [format_id("V", version.id)])
    intact = [s for s in shas if s not in damaged]
    assert len(intact) == 2
    return damaged, intact


def test_verify_names_every_damaged_object_and_goes_on(archive: Archive) -> None:
    damaged, intact = _damaged_archive(archive)
    with archive.sessions() as session:
        report = verify_archive(session, archive.store)
    assert not report.ok
    assert report.captures == 9 and report.versions == 1
    for sha, (reason, records) in damaged.items():
        named = [p for p in report.problems if sha in p.what]
        assert sorted(p.record for p in named) == sorted(records), (sha, reason, named)
        assert all(reason in p.what for p in named), (reason, named)
    for sha in intact:
        assert not any(sha in p.what for p in report.problems)
    # nothing else is wrong with this archive: every problem is one of the damaged objects
    assert all(any(sha in p.what for sha in damaged) for p in report.problems)


def test_clausewatch_verify_names_them_with_exit_code_1_and_no_traceback(
    archive: Archive, backend: str | None
) -> None:
    damaged, _ = _damaged_archive(archive)
    env = {**os.environ, "COLUMNS": "1000"}
    if backend is not None:
        env["CLAUSEWATCH_DATABASE_URL"] = backend
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "clausewatch",
            "verify",
            "--data-dir",
            str(archive.settings.data_dir),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for sha, (reason, records) in damaged.items():
        for record in records:
            assert any(sha in line and reason in line and record in line for line in lines), (
                sha,
                reason,
                record,
                done.stdout,
            )
    assert f"problems: {sum(len(r) for _, r in damaged.values())}" in done.stdout


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_a_damaged_object_is_never_read_as_the_document(tmp_path: Path, how: str) -> None:
    store = LocalSnapshotStore(tmp_path / "blobs")
    sha = store.put(_raw(1))
    _damage(store, sha, how)
    if how == "deleted":
        with pytest.raises(SnapshotNotFound):
            store.get(sha)
    else:
        with pytest.raises(SnapshotDamaged, match=sha) as raised:
            store.get(sha)
        assert raised.value.reason == DAMAGE[how] and raised.value.sha256 == sha
    checked = check_blob(store, sha)
    assert not checked["verified"] and sha in checked["problem"]


def test_a_damaged_current_text_fails_the_check_with_a_reason(
    sqlite_archive: Archive, loopback: LoopbackServer
) -> None:
    """The capture cycle reads the current version's text to judge a new one: damaged, the
    check is a failed capture that names the object, and the run goes on."""
    archive = sqlite_archive
    doc = _document(archive, loopback.url("/doc"))
    _capture(archive, doc, _raw(0), T0)
    text_sha = archive.versions(doc)[0].text_sha256
    _damage(archive.store, text_sha, "appended bytes")
    with pytest.raises(SnapshotDamaged, match=text_sha):
        archive.version_text(archive.versions(doc)[0])
    loopback.route("/doc", Response(body=policy_page("Terms of Service")))

    async def go() -> CheckRecord:
        fetcher = HttpFetcher(per_host_delay=0, timeout=5.0, retries=1, backoff_base=0.01)
        try:
            return await CaptureCycle(archive, fetcher.fetch, confirm_delay=0).check(
                archive.document(doc)
            )
        finally:
            await fetcher.aclose()

    record = asyncio.run(go())
    assert record.outcome == Outcome.FAILED
    assert record.reason and text_sha in record.reason and "trailing bytes" in record.reason
    assert len(archive.versions(doc)) == 1


# -- deltas: objects stored as a zstd frame with a keyframe's bytes as dictionary -------------


def _page(i: int) -> bytes:
    """Version ``i`` of a long page: each version changes one clause of the one before."""
    rng = random.Random(7)
    words = [f"w{rng.randrange(10**6)}" for _ in range(8000)]
    for j in range(i):
        words[(j * 997) % len(words)] = f"changed{j}"
    return " ".join(words).encode()


def _keyframe_and_deltas(store: LocalSnapshotStore, n: int = 4) -> tuple[str, list[str]]:
    shas: list[str] = []
    for i in range(n):
        shas.append(store.put(_page(i), base=shas[-1] if shas else None))
    return shas[0], shas[1:]


def _bases(store: LocalSnapshotStore) -> dict[str, str | None]:
    with closing(sqlite3.connect(store.pack_path)) as db:
        rows = db.execute("SELECT sha256, base FROM objects")
        return {sha.hex(): base.hex() if base else None for sha, base in rows}


def test_deltas_are_small_and_read_in_one_step(tmp_path: Path) -> None:
    store = LocalSnapshotStore(tmp_path / "blobs")
    keyframe, deltas = _keyframe_and_deltas(store, n=6)
    bases = _bases(store)
    # every delta is made against the keyframe, never against another delta: one step to read
    assert bases == {keyframe: None, **dict.fromkeys(deltas, keyframe)}
    assert store.dependents(keyframe) == sorted(deltas)
    whole = len(_Stored(store, keyframe).read_bytes())
    assert all(len(_Stored(store, d).read_bytes()) < whole / 20 for d in deltas)
    for i, sha in enumerate([keyframe, *deltas]):
        assert store.get(sha) == _page(i) and store.exists(sha)
    assert list(store.iter_hashes()) == sorted([keyframe, *deltas])
    # a hint that resembles nothing, or names nothing stored, gives a keyframe
    other = store.put(_raw(5), base=keyframe)
    unknown = store.put(_page(30), base="0" * 64)
    assert _bases(store)[other] is None and _bases(store)[unknown] is None
    assert store.get(other) == _raw(5) and store.get(unknown) == _page(30)


def test_a_keyframe_has_at_most_max_dependents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshots, "MAX_DEPENDENTS", 3)
    store = LocalSnapshotStore(tmp_path / "blobs")
    shas: list[str] = []
    for i in range(9):
        shas.append(store.put(_page(i), base=shas[-1] if shas else None))
    bases = _bases(store)
    first, second = [None, *[shas[0]] * 3], [None, *[shas[4]] * 3]
    assert [bases[s] for s in shas] == [*first, *second, None]
    assert [store.get(s) for s in shas] == [_page(i) for i in range(9)]


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_a_damaged_keyframe_is_named_by_every_delta_built_on_it(tmp_path: Path, how: str) -> None:
    store = LocalSnapshotStore(tmp_path / "blobs")
    keyframe, deltas = _keyframe_and_deltas(store)
    _damage(store, keyframe, how)
    for sha in deltas:
        with pytest.raises(SnapshotDamaged, match=sha) as raised:
            store.get(sha)
        assert raised.value.reason == "damaged base" and raised.value.base == keyframe
        # a flipped byte in compressed text may also break the frame itself
        expected = {DAMAGE[how]} | ({"corrupt frame"} if how == "flipped content byte" else set())
        assert keyframe in raised.value.detail
        assert any(reason in raised.value.detail for reason in expected)
        checked = check_blob(store, sha)
        assert not checked["verified"] and keyframe in checked["problem"]
    # no new delta is built on a damaged keyframe: the next object is a keyframe itself
    fresh = store.put(_page(20), base=deltas[-1])
    assert _bases(store)[fresh] is None and store.get(fresh) == _page(20)


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_a_damaged_delta_is_named_and_its_siblings_still_read(tmp_path: Path, how: str) -> None:
    store = LocalSnapshotStore(tmp_path / "blobs")
    keyframe, (first, damaged, last) = _keyframe_and_deltas(store)
    _damage(store, damaged, how)
    if how == "deleted":
        with pytest.raises(SnapshotNotFound):
            store.get(damaged)
    else:
        with pytest.raises(SnapshotDamaged, match=damaged) as raised:
            store.get(damaged)
        # a flipped byte inside a small compressed delta may also break the frame itself
        expected = {DAMAGE[how]} | ({"corrupt frame"} if how == "flipped content byte" else set())
        assert raised.value.reason in expected and raised.value.base is None
    assert [store.get(s) for s in (keyframe, first, last)] == [_page(0), _page(1), _page(3)]


def _normalised(page: bytes) -> bytes:
    """A version text made from its snapshot: nearly the snapshot."""
    return page.replace(b"changed", b"Changed") + b"\n"


def test_a_text_derived_from_a_delta_is_a_delta_of_that_delta(tmp_path: Path) -> None:
    store = LocalSnapshotStore(tmp_path / "blobs")
    keyframe = store.put(_page(0))
    snapshot = store.put(_page(300), base=keyframe)  # 300 words from its keyframe
    text = store.put(_normalised(_page(300)), base=snapshot, derived=True)
    hinted = store.put(_normalised(_page(301)), base=snapshot)  # not derived: the keyframe
    bases = _bases(store)
    assert bases[snapshot] == keyframe and bases[text] == snapshot and bases[hinted] == keyframe
    assert len(_Stored(store, text).read_bytes()) < len(_Stored(store, hinted).read_bytes()) / 4
    assert store.get(text) == _normalised(_page(300))
    assert store.get(hinted) == _normalised(_page(301))
    # at most two levels: an object derived from a derived one, or hinted by one, is a delta
    # of the keyframe under it
    again = store.put(_normalised(_page(300)) + b"more", base=text, derived=True)
    later = store.put(_page(302), base=text)
    assert _bases(store)[again] == keyframe and _bases(store)[later] == keyframe
    assert store.get(again) == _normalised(_page(300)) + b"more"
    assert store.get(later) == _page(302)
    # derived from a keyframe: an ordinary delta of it
    plain = store.put(_normalised(_page(0)), base=keyframe, derived=True)
    assert _bases(store)[plain] == keyframe
    assert text in store.dependents(keyframe) and store.dependents(snapshot) == [text]


@pytest.mark.parametrize("damaged", ["keyframe", "source"])
def test_a_damaged_object_under_a_derived_one_is_named(tmp_path: Path, damaged: str) -> None:
    store = LocalSnapshotStore(tmp_path / "blobs")
    keyframe, (first, *_) = _keyframe_and_deltas(store, n=2)
    text = store.put(_normalised(_page(1)), base=first, derived=True)
    assert _bases(store)[text] == first
    _damage(store, keyframe if damaged == "keyframe" else first, "truncated")
    with pytest.raises(SnapshotDamaged, match=text) as raised:
        store.get(text)
    assert raised.value.reason == "damaged base" and raised.value.base == first
    assert first in raised.value.detail and "truncated" in raised.value.detail
    if damaged == "keyframe":
        assert keyframe in raised.value.detail
        assert store.dependents(keyframe) == sorted([first, text])
    checked = check_blob(store, text)
    assert not checked["verified"] and first in checked["problem"]
    # nothing new is derived from a damaged object
    fresh = store.put(_normalised(_page(1)) + b"!", base=first, derived=True)
    assert _bases(store)[fresh] != first and store.get(fresh) == _normalised(_page(1)) + b"!"


def test_a_delta_of_a_delta_of_a_delta_is_refused_as_damage(tmp_path: Path) -> None:
    """Written by nothing here: the reader holds to two levels all the same."""
    store = LocalSnapshotStore(tmp_path / "blobs")
    _, (first, *_) = _keyframe_and_deltas(store, n=2)
    text = store.put(_normalised(_page(1)), base=first, derived=True)
    data = _normalised(_page(1)) + b"deep"
    dictionary = zstandard.ZstdCompressionDict(
        store.get(text), dict_type=zstandard.DICT_TYPE_RAWCONTENT
    )
    frame = zstandard.ZstdCompressor(dict_data=dictionary).compress(data)
    with closing(sqlite3.connect(store.pack_path)) as db, db:
        db.execute(
            "INSERT INTO objects VALUES (?, ?, ?, ?)",
            (bytes.fromhex(sha256_hex(data)), bytes.fromhex(text), len(data), frame),
        )
    with pytest.raises(SnapshotDamaged, match="used as a base") as raised:
        store.get(sha256_hex(data))
    assert raised.value.reason == "damaged base" and raised.value.base == text


def test_verify_names_a_damaged_keyframe_and_every_record_of_its_deltas(
    archive: Archive,
) -> None:
    doc = _document(archive)
    shas: list[str] = []
    for i in range(4):
        record = _capture(
            archive, doc, _page(i), T0 + dt.timedelta(days=i), base=shas[-1] if shas else None
        )
        (capture,) = [c for c in archive.captures(doc) if c.id == record.capture_ids[0]]
        assert capture.snapshot_sha256
        shas.append(capture.snapshot_sha256)
    cap = [format_id("CAP", c.id) for c in sorted(archive.captures(doc), key=lambda c: c.id)]
    keyframe, deltas = shas[0], shas[1:]
    assert isinstance(archive.store, LocalSnapshotStore)
    assert archive.store.dependents(keyframe) == sorted(deltas)
    with archive.sessions() as session:
        assert verify_archive(session, archive.store).ok
    _damage(archive.store, keyframe, "truncated")
    with archive.sessions() as session:
        report = verify_archive(session, archive.store)
    problems = {p.record: p.what for p in report.problems}
    assert set(problems) == set(cap)
    assert "truncated" in problems[cap[0]] and "3 stored deltas depend on it" in problems[cap[0]]
    for rid, sha in zip(cap[1:], deltas, strict=True):
        assert sha in problems[rid] and "damaged base" in problems[rid]
        assert keyframe in problems[rid] and "truncated" in problems[rid]


def test_objects_of_archives_written_before_the_pack_still_read(tmp_path: Path) -> None:
    """One file per object (``ab/cd/<sha256>.zst``): read as before, usable as a delta's
    keyframe, and still written by ``layout="files"`` (a store on a network file system)."""
    old = open_store(f"file://{tmp_path / 'blobs'}?layout=files")
    assert isinstance(old, LocalSnapshotStore) and old.layout == "files"
    first = old.put(_page(0))
    assert old.put(_page(1), base=first)  # files: never a delta
    assert _path(old, first).exists() and not old.pack_path.exists()
    store = open_store(str(tmp_path / "blobs"))
    assert isinstance(store, LocalSnapshotStore) and store.layout == "pack"
    assert store.get(first) == _page(0) and store.exists(first)
    delta = store.put(_page(2), base=first)
    assert _bases(store) == {delta: first} and store.get(delta) == _page(2)
    assert list(store.iter_hashes()) == sorted([first, sha256_hex(_page(1)), delta])
    _damage(store, first, "appended bytes")
    with pytest.raises(SnapshotDamaged, match="trailing bytes") as raised:
        store.get(delta)
    assert raised.value.reason == "damaged base" and raised.value.base == first


def test_reading_an_archive_creates_no_pack(tmp_path: Path) -> None:
    store = LocalSnapshotStore(tmp_path / "blobs")
    with pytest.raises(SnapshotNotFound):
        store.get("0" * 64)
    assert not store.exists("0" * 64) and list(store.iter_hashes()) == []
    assert not store.pack_path.exists()


def test_a_pack_still_being_created_is_not_taken_for_a_stored_object(tmp_path: Path) -> None:
    # A thread that looked into the pack file before another thread had created its table kept
    # that connection; its next look failed with "no such table", which counted as "stored,
    # though unreadable": its snapshot was never written and `verify` found it missing (a Redis
    # queue test with two worker threads, in CI).
    store = LocalSnapshotStore(tmp_path / "snapshots")
    store.pack_path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(store.pack_path)) as creating:  # the file, not yet its table
        creating.execute("PRAGMA journal_mode=WAL")
    sha = sha256_hex(b"an object")
    assert store.exists(sha) is False
    assert store.exists(sha) is False  # again, on the connection the first look kept
    assert store.put(b"an object") == sha
    assert store.exists(sha) and store.get(sha) == b"an object"
