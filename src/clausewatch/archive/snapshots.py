"""Content-addressed blob store for raw snapshots and version texts.

Blobs are keyed by the SHA-256 of their uncompressed bytes, so identical content is stored once.
Other backends (an object store) implement the same `SnapshotStore` protocol and are chosen by URL
in `open_store`.

**Format** (docs/archive.md § Storage). New objects go to one SQLite file, ``objects.sqlite``
(table ``objects``: ``sha256``, ``base``, ``size``, ``frame``), written in one transaction each
(WAL, ``synchronous=FULL``), so a crash never leaves a half-written object and thousands of small
objects do not each take a file-system block. An object is one zstd frame: either the whole
content (``base`` NULL, a *keyframe*) or a *delta*: the content compressed with a keyframe's
bytes as a raw-content dictionary (``base`` names that keyframe). ``put(data, base=sha)`` takes
the predecessor (the document's previous snapshot or text) as a hint; the delta is made against
the hint's keyframe, and ``data`` becomes a keyframe itself when the delta is not much smaller
than a whole frame or when the keyframe already has `MAX_DEPENDENTS` deltas.

One more level is allowed for an object *derived* from another (``put(text, base=snapshot,
derived=True)``: a version text normalised from its raw snapshot): it is a delta of that object's
own content even when the object is itself a delta, since a text is nearly its snapshot and far
from the snapshot's keyframe (on the pga history the version texts take 2.2 MB this way against
5.8 MB as deltas of keyframes). So a base is a keyframe or a delta of a keyframe, and any read is
at most one keyframe and two deltas: O(1), whatever the length of the history. A damaged
keyframe spoils its deltas and the objects derived from them (`dependents` names them all).

Archives written before this format (one file per object, ``ab/cd/<sha256>.zst``, one whole
zstd frame) are read as they are, and can be bases of new deltas; ``layout="files"`` keeps writing
such files (atomically: temp file, fsync, rename) for a store on a network file system, where
SQLite must not be shared between machines.

Reads are strict: an object must be exactly one complete zstd frame whose content re-hashes to its
name, and a delta's keyframe must be intact too, or `get` raises `SnapshotDamaged` naming the
object and why (for a damaged keyframe: ``damaged base``, naming the keyframe), so that a damaged
or altered object is never served as the document's bytes.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlparse

import zstandard

_LEVEL = 12
# Keyframes, stored once and read as every delta's dictionary, at a higher level: on the pga
# history's 498 keyframes (31.9 MB raw) level 16 took 7.06 -> 6.85 MB for 3.9 s more CPU in all
# (level 19: 6.83 MB, 7.5 s). The ratio test against a delta stays at _LEVEL.
_KEYFRAME_LEVEL = 16
# Deltas (a keyframe as dictionary) at the same level: level 9 compressed 471 pga version pairs
# 5x faster for 1.8 % more bytes, but the larger deltas crossed DELTA_RATIO more often and the
# pga store grew 16.2 -> 17.4 MB (46 more keyframes): the time saved was not worth it.
_DELTA_LEVEL = _LEVEL
# A delta is kept when it is at most this fraction of the whole frame; otherwise the object
# becomes a keyframe. Measured on the pga history (bench/import_history.py): 0.2 and 50 give
# the smallest store (larger ratios keep deltas against an old keyframe that grow with every
# version; more dependents do the same).
DELTA_RATIO = 0.2
# Sampled pga texts compress 1.3-8.6:1 whole at level 12 (median 3.2). A delta under
# DELTA_RATIO / 50 of the raw bytes is kept without compressing whole: it is under DELTA_RATIO
# of the whole frame unless the text compresses past 50:1, and then it is tiny all the same.
_MAX_TEXT_RATIO = 50
MAX_DEPENDENTS = 50
PACK_NAME = "objects.sqlite"
# Per thread: keyframes held as precomputed dictionaries (about 2 MB each at level 12 for a
# 90 kB text). An import applies records in time order, every document in turn, so the cache
# must hold about as many keyframes as documents being imported, or every delta misses: a miss
# (read the keyframe, build its tables) cost 11.6 ms against 2.6 ms for a hit on the pga texts.
_CACHED_KEYFRAMES = 64

# Format 2 (new packs): the SHA-256 of an object and of its base as 32 bytes, 1 KiB pages (less
# of each frame's last overflow page unused): the pga history's pack 12.48 -> 11.16 MB, the
# same frames. (An integer key with ``base`` as the base's key saved 0.37 MB more, but a delta
# whose base row is lost could no longer name it.) Format 1 (packs written before): hex keys,
# 4 KiB pages; read and written as it is until `upgrade_pack` copies it into format 2.
_PAGE_SIZE = 1024
# One transaction: another thread or process never sees the objects without the format row.
_SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS objects (
    sha256 BLOB PRIMARY KEY NOT NULL,  -- 32 bytes, of the uncompressed bytes
    base BLOB,                         -- NULL: a keyframe; else the dictionary object's sha256
    size INTEGER NOT NULL,             -- uncompressed bytes
    frame BLOB NOT NULL                -- one zstd frame
);
CREATE INDEX IF NOT EXISTS objects_base ON objects (base) WHERE base IS NOT NULL;
CREATE TABLE IF NOT EXISTS format (name TEXT NOT NULL);
INSERT INTO format SELECT 'clausewatch-objects 2' WHERE NOT EXISTS (SELECT 1 FROM format);
COMMIT;
"""
_ROW = "SELECT base, frame FROM objects WHERE sha256 = ?"
_DELTAS = "SELECT count(*) FROM objects WHERE base = ?"
_INSERT = "INSERT OR IGNORE INTO objects (sha256, base, size, frame) VALUES (?, ?, ?, ?)"
_DEPENDENTS = (  # the deltas of an object and the objects derived from them
    "SELECT sha256 FROM objects WHERE base = ?1 UNION SELECT sha256 FROM objects"
    " WHERE base IN (SELECT sha256 FROM objects WHERE base = ?1)"
)
# how each format keys an object (a hex digest in, ``_hex`` out)
_FORMATS: dict[str, Callable[[str], str | bytes]] = {
    "clausewatch-objects 1": str,
    "clausewatch-objects 2": bytes.fromhex,
}


def _hex(key: str | bytes) -> str:
    return key.hex() if isinstance(key, bytes) else key


class SnapshotNotFound(KeyError):
    pass


class SnapshotDamaged(ValueError):
    """A stored blob that is not the bytes it is named after: ``reason`` is one of
    ``truncated``, ``trailing bytes``, ``corrupt frame``, ``hash mismatch``, ``damaged base``
    (a delta whose keyframe is missing or damaged; ``base`` names it) or ``unreadable``,
    ``detail`` says more."""

    def __init__(self, sha256: str, reason: str, detail: str = "", base: str | None = None):
        self.sha256, self.reason, self.detail, self.base = sha256, reason, detail, base
        super().__init__(f"snapshot {sha256} is damaged: {self.describe()}")

    def describe(self) -> str:
        return f"{self.reason} ({self.detail})" if self.detail else self.reason


class SnapshotStore(Protocol):
    def put(self, data: bytes, base: str | None = None, *, derived: bool = False) -> str:
        """Store ``data``; return its SHA-256. Idempotent. ``base``: the SHA-256 of a stored
        object ``data`` probably resembles (the document's previous snapshot or text), a hint
        a store may use to store ``data`` as a delta; ``derived``: ``data`` was made from
        ``base`` (a text normalised from its snapshot). Neither changes what `get` returns."""
        ...

    def get(self, sha256: str) -> bytes:
        """The stored bytes. Raises `SnapshotNotFound`, or `SnapshotDamaged` when the stored
        object is not exactly the bytes that hash to ``sha256``."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def iter_hashes(self) -> Iterator[str]: ...

    def stored_bytes(self) -> int:
        """Bytes on disk, compressed."""
        ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_BUSY_TRIES = 40  # about 40 s in all


def _busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _check_hash(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


class LocalSnapshotStore:
    """Objects in ``<root>/objects.sqlite`` (``layout="pack"``, the default) or one file each,
    ``<root>/ab/cd/<sha256>.zst`` (``layout="files"``, and every archive written before the
    pack); reads look in both."""

    def __init__(self, root: Path, *, layout: str = "pack") -> None:
        if layout not in ("pack", "files"):
            raise ValueError(f"snapshot store layout: expected 'pack' or 'files', got {layout!r}")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.layout = layout
        self.pack_path = self.root / PACK_NAME
        self._local = threading.local()  # zstd contexts and SQLite connections are per thread

    # -- plumbing ---------------------------------------------------------------------------

    def _path(self, sha256: str) -> Path:
        sha256 = _check_hash(sha256)
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.zst"

    def _compressor(self) -> zstandard.ZstdCompressor:
        if not hasattr(self._local, "c"):
            self._local.c = zstandard.ZstdCompressor(level=_LEVEL)
            self._local.k = zstandard.ZstdCompressor(level=_KEYFRAME_LEVEL)
            self._local.d = zstandard.ZstdDecompressor()
            self._local.keyframes = OrderedDict()
        return self._local.c

    def _keyframe(self, data: bytes) -> bytes:
        """``data`` as a whole frame, at the keyframes' level."""
        self._compressor()
        frame: bytes = self._local.k.compress(data)
        return frame

    def _db(self, *, create: bool = False) -> sqlite3.Connection | None:
        """This thread's connection to the pack; None while there is no pack and ``create`` is
        false (reading an archive never creates one)."""
        conn: sqlite3.Connection | None = getattr(self._local, "db", None)
        if conn is not None and self._local.pid == os.getpid():
            if create and not self._local.schema:
                conn.executescript(_SCHEMA)  # creates nothing in a pack of format 1
                self._local.schema = True
                self._local.format = None
            return conn
        if not create and not self.pack_path.exists():
            return None
        conn = sqlite3.connect(self.pack_path, timeout=60, isolation_level=None)
        conn.execute(f"PRAGMA page_size={_PAGE_SIZE}")  # a new file only; before WAL fixes it
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # committed = on disk, before the archive row
        self._local.db, self._local.pid, self._local.schema = conn, os.getpid(), False
        self._local.format = None
        if create:
            return self._db(create=True)
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'objects'").fetchone():
            return None  # being created by another process right now
        return conn

    def _format(self, conn: sqlite3.Connection) -> str:
        """The format of the pack this thread is connected to."""
        known: str | None = self._local.format
        if known is None:
            row = conn.execute("SELECT name FROM format").fetchone()
            if row is None or row[0] not in _FORMATS:  # not an object's damage: put must fail
                raise OSError(f"{self.pack_path}: unknown snapshot pack format {row}")
            known = self._local.format = row[0]
        return known

    def _key(self, conn: sqlite3.Connection, sha256: str) -> str | bytes:
        return _FORMATS[self._format(conn)](sha256)

    def _row(self, sha256: str) -> tuple[str | None, bytes] | None:
        """(base, frame) of a packed object, or None. A pack that another thread or process
        holds locked (while it creates the pack, say) is waited for: that is no damage, and
        `exists` must not take it for a stored object."""
        for attempt in range(_BUSY_TRIES):
            try:
                conn = self._db()
                if conn is None:
                    row = None
                else:
                    row = conn.execute(_ROW, (self._key(conn, sha256),)).fetchone()
                break
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return None  # the pack is being created by another thread or process
                if not _busy(exc):
                    raise SnapshotDamaged(
                        sha256, "unreadable", f"{self.pack_path.name}: {exc}"
                    ) from None
                stale = getattr(self._local, "db", None)
                if stale is not None:  # connect again: the failure may have been in _db
                    stale.close()
                    self._local.db = None
                if attempt == _BUSY_TRIES - 1:
                    raise OSError(f"{self.pack_path}: still locked: {exc}") from None
                time.sleep(0.05 * (attempt + 1))
            except sqlite3.DatabaseError as exc:
                raise SnapshotDamaged(
                    sha256, "unreadable", f"{self.pack_path.name}: {exc}"
                ) from None
        if row is None:
            return None
        return (_hex(row[0]) if row[0] is not None else None), bytes(row[1])

    # -- writes -----------------------------------------------------------------------------

    def put(self, data: bytes, base: str | None = None, *, derived: bool = False) -> str:
        sha256 = sha256_hex(data)
        if self.exists(sha256):
            return sha256
        frame, keyframe = self._encode(data, sha256, base, derived)
        if self.layout == "files" and keyframe is None:
            self._write_file(sha256, frame)
        else:
            self._insert(sha256, keyframe, len(data), frame)
        return sha256

    def _encode(
        self, data: bytes, sha256: str, hint: str | None, derived: bool = False
    ) -> tuple[bytes, str | None]:
        """(frame, the object it is a delta of, or None for a whole frame)."""
        if self.layout == "files" or not hint or hint == sha256:
            return self._keyframe(data), None  # one whole frame per file
        if derived and (delta := self._derived_delta(data, hint)) is not None:
            return delta, hint
        keyframe = self._keyframe_of(hint)
        compressor = self._delta_compressor(keyframe) if keyframe is not None else None
        if compressor is None:
            return self._keyframe(data), None
        delta = compressor.compress(data)
        if len(delta) <= DELTA_RATIO * len(data) / _MAX_TEXT_RATIO:
            # compressing whole was the costliest step of an import
            return delta, keyframe
        whole = self._compressor().compress(data)
        if len(delta) > DELTA_RATIO * len(whole):
            return self._keyframe(data), None
        return delta, keyframe

    def _derived_delta(self, data: bytes, source: str) -> bytes | None:
        """``data`` as a delta of ``source``'s own content when ``source`` is a delta of a
        keyframe (a keyframe ``source`` is the usual case of `_encode`), intact, with fewer than
        `MAX_DEPENDENTS` objects derived from it, and the delta small enough; else None."""
        try:
            row = self._row(_check_hash(source))
            if row is None or row[0] is None:
                return None  # ``source`` is a keyframe (the usual delta) or not in the pack
            under = self._row(row[0])
            if under is not None and under[0] is not None:
                return None  # ``source`` is derived itself
            if under is None and not self._path(row[0]).exists():
                return None  # its keyframe is lost
            content = self.get(source)
        except (SnapshotNotFound, SnapshotDamaged, ValueError):
            return None
        conn = self._db()
        assert conn is not None  # ``source`` is a row of the pack
        (derived,) = conn.execute(_DELTAS, (self._key(conn, source),)).fetchone()
        if derived >= MAX_DEPENDENTS:
            return None
        # a one-off dictionary: precomputing its tables would cost more than it saves
        dictionary = zstandard.ZstdCompressionDict(
            content, dict_type=zstandard.DICT_TYPE_RAWCONTENT
        )
        delta = zstandard.ZstdCompressor(level=_DELTA_LEVEL, dict_data=dictionary).compress(data)
        if len(delta) <= DELTA_RATIO * len(data) / _MAX_TEXT_RATIO:
            return delta
        return delta if len(delta) <= DELTA_RATIO * len(self._compressor().compress(data)) else None

    def _keyframe_of(self, hint: str) -> str | None:
        """The keyframe a delta of ``hint``'s successor would use: ``hint`` itself when it is
        stored whole, or the keyframe under it; None when there is none or it has enough
        dependents."""
        try:
            row = self._row(_check_hash(hint))
            if row is not None and row[0] is not None:
                under = self._row(row[0])  # ``hint`` derived from a delta: that delta's keyframe
                if under is not None and under[0] is not None:
                    row = under
        except (SnapshotDamaged, ValueError):
            return None
        if row is not None:
            keyframe = row[0] or hint
        elif self._path(hint).exists():
            keyframe = hint
        else:
            return None
        conn = self._db(create=True)
        assert conn is not None
        (dependents,) = conn.execute(_DELTAS, (self._key(conn, keyframe),)).fetchone()
        return keyframe if dependents < MAX_DEPENDENTS else None

    def _delta_compressor(self, keyframe: str) -> zstandard.ZstdCompressor | None:
        """A compressor with ``keyframe``'s bytes as dictionary; None when the keyframe is
        damaged: no delta is ever built on a damaged object (this one becomes a keyframe)."""
        self._compressor()
        cache: OrderedDict[str, tuple[bytes, zstandard.ZstdCompressionDict]]
        cache = self._local.keyframes
        try:
            frame = self._stored_frame(keyframe)
        except (SnapshotDamaged, OSError):
            frame = None
        if keyframe in cache and cache[keyframe][0] == frame:  # as stored when it was checked
            cache.move_to_end(keyframe)
            dictionary = cache[keyframe][1]
        else:
            cache.pop(keyframe, None)
            try:
                content = self._get_keyframe(keyframe)
            except (SnapshotNotFound, SnapshotDamaged):
                return None
            dictionary = zstandard.ZstdCompressionDict(
                content, dict_type=zstandard.DICT_TYPE_RAWCONTENT
            )
            dictionary.precompute_compress(level=_DELTA_LEVEL)  # its tables, built once
            while len(cache) >= _CACHED_KEYFRAMES:
                # The most recently used goes: an import's documents come round in turn, and
                # evicting the least recently used would evict each keyframe just before its
                # document comes back (no hit at all once there are more documents than room).
                cache.popitem(last=True)
            cache[keyframe] = (frame or b"", dictionary)
        # A compressor is cheap on a precomputed dictionary and gives the same frames; keeping
        # one per keyframe would hold its working memory too (about twice as much).
        return zstandard.ZstdCompressor(level=_DELTA_LEVEL, dict_data=dictionary)

    def _stored_frame(self, sha256: str) -> bytes | None:
        row = self._row(sha256)
        if row is not None:
            return row[1]
        path = self._path(sha256)
        return path.read_bytes() if path.exists() else None

    def _insert(self, sha256: str, base: str | None, size: int, frame: bytes) -> None:
        conn = self._db(create=True)
        assert conn is not None
        base_key = self._key(conn, base) if base is not None else None
        conn.execute(_INSERT, (self._key(conn, sha256), base_key, size, frame))

    def _write_file(self, sha256: str, frame: bytes) -> None:
        path = self._path(sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(frame)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- reads ------------------------------------------------------------------------------

    def get(self, sha256: str) -> bytes:
        return self._get_base(_check_hash(sha256), levels=2)

    def _get_base(self, sha256: str, levels: int) -> bytes:
        """An object's bytes, strictly, when it is at most ``levels`` deltas above a keyframe
        (0: a keyframe; 1: a base, which may be a delta of a keyframe; 2: any object)."""
        row = self._row(sha256)
        if row is None:
            return self._get_file(sha256)
        base, frame = row
        if base is None:
            return self._checked(sha256, self._decompress(sha256, frame))
        if levels == 0:
            raise SnapshotDamaged(sha256, "corrupt frame", f"a delta of {base} used as a base")
        what = "keyframe" if levels == 1 else "base"
        try:
            content = self._get_base(base, levels - 1)
        except SnapshotNotFound:
            raise SnapshotDamaged(
                sha256, "damaged base", f"its {what} {base} is missing", base
            ) from None
        except SnapshotDamaged as exc:
            raise SnapshotDamaged(
                sha256, "damaged base", f"its {what} {base} is damaged: {exc.describe()}", base
            ) from None
        dictionary = zstandard.ZstdCompressionDict(
            content, dict_type=zstandard.DICT_TYPE_RAWCONTENT
        )
        decompressor = zstandard.ZstdDecompressor(dict_data=dictionary)
        return self._checked(sha256, self._decompress(sha256, frame, decompressor))

    def _get_keyframe(self, sha256: str) -> bytes:
        """A keyframe's bytes, strictly: a whole object, intact."""
        return self._get_base(sha256, levels=0)

    def _get_file(self, sha256: str) -> bytes:
        try:
            compressed = self._path(sha256).read_bytes()
        except FileNotFoundError:
            raise SnapshotNotFound(sha256) from None
        except OSError as exc:
            raise SnapshotDamaged(sha256, "unreadable", exc.strerror or str(exc)) from None
        return self._checked(sha256, self._decompress(sha256, compressed))

    @staticmethod
    def _checked(sha256: str, data: bytes) -> bytes:
        actual = sha256_hex(data)
        if actual != sha256:
            raise SnapshotDamaged(sha256, "hash mismatch", f"the stored bytes re-hash to {actual}")
        return data

    def _decompress(
        self,
        sha256: str,
        compressed: bytes,
        decompressor: zstandard.ZstdDecompressor | None = None,
    ) -> bytes:
        self._compressor()
        return decompress_frame(sha256, compressed, decompressor or self._local.d)

    def close(self) -> None:
        """Close this thread's connection to the pack (the last one closed folds the write-ahead
        log into the pack file)."""
        conn = getattr(self._local, "db", None)
        if conn is not None:
            conn.close()
            self._local.db = None

    def exists(self, sha256: str) -> bool:
        """Whether ``sha256`` is stored (intact or not: a damaged object is never written
        over). A pack that cannot be read raises `OSError`: `put` must never take an object
        for stored because it could not look (its capture would name bytes never written)."""
        try:
            if self._row(_check_hash(sha256)) is not None:
                return True
        except SnapshotDamaged as exc:
            raise OSError(f"snapshot store {self.pack_path}: {exc.describe()}") from None
        return self._path(sha256).exists()

    def dependents(self, sha256: str) -> list[str]:
        """The objects that cannot be read without ``sha256``: its deltas and the objects
        derived from them."""
        conn = self._db()
        if conn is None:
            return []
        return sorted(_hex(r[0]) for r in conn.execute(_DEPENDENTS, (self._key(conn, sha256),)))

    def iter_hashes(self) -> Iterator[str]:
        conn = self._db()
        packed = {_hex(r[0]) for r in conn.execute("SELECT sha256 FROM objects")} if conn else set()
        files = {path.stem for path in self.root.glob("*/*/*.zst")}
        yield from sorted(packed | files)

    def stored_bytes(self) -> int:
        files = sum(p.stat().st_size for p in self.root.glob("*/*/*.zst"))
        pack = sum(p.stat().st_size for p in self.root.glob(PACK_NAME + "*") if p.is_file())
        return files + pack


@dataclass(frozen=True)
class PackUpgrade:
    objects: int
    bytes_before: int
    bytes_after: int


def upgrade_pack(store: LocalSnapshotStore) -> PackUpgrade | None:
    """Copy a pack of format 1 into format 2 (`clausewatch db upgrade`; no server or worker may
    be running): every row as it is, no frame recompressed, into a new file that replaces the
    pack only once it is complete and on disk. None when there is no pack of format 1."""
    conn = store._db()
    if conn is None or store._format(conn) != "clausewatch-objects 1":
        return None
    store.close()
    old, new = store.pack_path, store.pack_path.with_name(PACK_NAME + ".upgrade")
    before = store.stored_bytes()
    new.unlink(missing_ok=True)
    with closing(sqlite3.connect(old, isolation_level=None)) as source:
        source.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        source.execute("BEGIN EXCLUSIVE")  # no other writer, while it is copied
        try:
            objects = _copy_into_format_2(source, new)
        finally:
            source.execute("ROLLBACK")
    for stale in (old.with_name(PACK_NAME + "-wal"), old.with_name(PACK_NAME + "-shm")):
        if stale.exists() and stale.stat().st_size and stale.name.endswith("-wal"):
            new.unlink()
            raise OSError(f"{stale}: another process is still writing to the pack; stop it")
        stale.unlink(missing_ok=True)
    os.replace(new, old)
    _fsync_dir(old.parent)
    return PackUpgrade(objects, before, store.stored_bytes())


def _copy_into_format_2(source: sqlite3.Connection, target: Path) -> int:
    def key(sha256: str | None) -> bytes | None:
        return bytes.fromhex(sha256) if sha256 is not None else None

    with closing(sqlite3.connect(target, isolation_level=None)) as pack:
        pack.execute(f"PRAGMA page_size={_PAGE_SIZE}")
        pack.executescript(_SCHEMA)
        pack.execute("BEGIN")
        rows = source.execute("SELECT sha256, base, size, frame FROM objects ORDER BY rowid")
        pack.executemany(
            _INSERT, ((key(sha), key(base), size, frame) for sha, base, size, frame in rows)
        )
        pack.execute("COMMIT")
        (copied,) = pack.execute("SELECT count(*) FROM objects").fetchone()
    (expected,) = source.execute("SELECT count(*) FROM objects").fetchone()
    if copied != expected:
        raise OSError(f"{target}: {copied} objects copied of {expected}")
    with open(target, "rb+") as fh:
        os.fsync(fh.fileno())
    return int(copied)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def decompress_frame(
    sha256: str, compressed: bytes, decompressor: zstandard.ZstdDecompressor
) -> bytes:
    """Exactly one complete zstd frame, nothing before or after it (every store reads so)."""
    stream = decompressor.decompressobj()
    try:
        data: bytes = stream.decompress(compressed)
    except zstandard.ZstdError as exc:
        detail = str(exc).removeprefix("zstd decompressor error: ")
        raise SnapshotDamaged(sha256, "corrupt frame", detail) from None
    if not stream.eof:
        detail = f"the compressed frame ends early, after {len(compressed)} bytes"
        raise SnapshotDamaged(sha256, "truncated", detail)
    if stream.unused_data:
        detail = f"{len(stream.unused_data)} bytes after the end of the compressed frame"
        raise SnapshotDamaged(sha256, "trailing bytes", detail)
    return data


def open_store(url: str) -> SnapshotStore:
    """A store from its URL: ``file:///path`` or a plain path; ``?layout=files`` writes one file
    per object (for a store shared by several machines over a network file system).
    ``s3://bucket/prefix?endpoint_url=…&region=…``: an S3-compatible object store
    (`clausewatch.archive.s3store`, imported only then: boto3 is an optional dependency)."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        from clausewatch.archive.s3store import open_s3_store

        return open_s3_store(url)
    if parsed.scheme in ("", "file"):
        if not parsed.scheme:
            return LocalSnapshotStore(Path(url))
        layout = parse_qs(parsed.query).get("layout", ["pack"])[-1]
        return LocalSnapshotStore(Path(parsed.path), layout=layout)
    raise ValueError(f"snapshot_store: unsupported scheme {parsed.scheme!r} in {url!r}")
