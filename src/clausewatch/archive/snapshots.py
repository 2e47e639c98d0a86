"""Content-addressed blob store for raw snapshots and version texts.

Blobs are keyed by the SHA-256 of their uncompressed bytes, stored zstd-compressed and written
atomically (temp file, fsync, rename), so identical content is stored once and a crash never
leaves a half-written blob under a real name. Other backends (an object store) implement the same
`SnapshotStore` protocol and are chosen by URL in `open_store`.

Reads are strict: a blob must be exactly one complete zstd frame whose content re-hashes to its
name, or `get` raises `SnapshotDamaged` naming the blob and why, so that a damaged or altered
object is never served as the document's bytes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import zstandard

_LEVEL = 12


class SnapshotNotFound(KeyError):
    pass


class SnapshotDamaged(ValueError):
    """A stored blob that is not the bytes it is named after: ``reason`` is one of
    ``truncated``, ``trailing bytes``, ``corrupt frame``, ``hash mismatch`` or ``unreadable``,
    ``detail`` says more."""

    def __init__(self, sha256: str, reason: str, detail: str = "") -> None:
        self.sha256, self.reason, self.detail = sha256, reason, detail
        super().__init__(f"snapshot {sha256} is damaged: {self.describe()}")

    def describe(self) -> str:
        return f"{self.reason} ({self.detail})" if self.detail else self.reason


class SnapshotStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; return its SHA-256. Idempotent."""
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


def _check_hash(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


class LocalSnapshotStore:
    """`<root>/ab/cd/<sha256>.zst` on the local disk."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()  # zstd contexts are not thread-safe

    def _path(self, sha256: str) -> Path:
        sha256 = _check_hash(sha256)
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.zst"

    def _compressor(self) -> zstandard.ZstdCompressor:
        if not hasattr(self._local, "c"):
            self._local.c = zstandard.ZstdCompressor(level=_LEVEL)
            self._local.d = zstandard.ZstdDecompressor()
        return self._local.c

    def put(self, data: bytes) -> str:
        sha256 = sha256_hex(data)
        path = self._path(sha256)
        if path.exists():
            return sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        compressed = self._compressor().compress(data)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(compressed)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha256

    def get(self, sha256: str) -> bytes:
        path = self._path(sha256)
        try:
            compressed = path.read_bytes()
        except FileNotFoundError:
            raise SnapshotNotFound(sha256) from None
        except OSError as exc:
            raise SnapshotDamaged(sha256, "unreadable", exc.strerror or str(exc)) from None
        data = self._decompress(sha256, compressed)
        actual = sha256_hex(data)
        if actual != sha256:
            raise SnapshotDamaged(sha256, "hash mismatch", f"the stored bytes re-hash to {actual}")
        return data

    def _decompress(self, sha256: str, compressed: bytes) -> bytes:
        """Exactly one complete zstd frame, nothing before or after it."""
        self._compressor()
        stream = self._local.d.decompressobj()
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

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()

    def iter_hashes(self) -> Iterator[str]:
        for path in sorted(self.root.glob("*/*/*.zst")):
            yield path.stem

    def stored_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.glob("*/*/*.zst"))


def open_store(url: str) -> SnapshotStore:
    """A store from its URL: ``file:///path`` or a plain path."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return LocalSnapshotStore(Path(parsed.path if parsed.scheme else url))
    raise ValueError(f"snapshot_store: unsupported scheme {parsed.scheme!r} in {url!r}")
