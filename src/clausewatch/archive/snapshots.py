"""Content-addressed blob store for raw snapshots and version texts.

Blobs are keyed by the SHA-256 of their uncompressed bytes, stored zstd-compressed and written
atomically (temp file, fsync, rename), so identical content is stored once and a crash never
leaves a half-written blob under a real name. Other backends (an object store) implement the same
`SnapshotStore` protocol and are chosen by URL in `open_store`.
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


class SnapshotStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; return its SHA-256. Idempotent."""
        ...

    def get(self, sha256: str) -> bytes: ...

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
        self._compressor()
        return self._local.d.decompress(compressed)

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
