"""A JSON column stored as one zstd frame (bytes) for large JSON that is only ever read whole:
the version layouts, about 14 KB of JSON per version and four fifths of the database of the pga
history before they were compressed (docs/benchmarks.md § Import)."""

from __future__ import annotations

import json
import threading
from typing import Any

import zstandard
from sqlalchemy import LargeBinary, TypeDecorator
from sqlalchemy.engine import Dialect

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_LEVEL = 12
_local = threading.local()


def compress_json_text(text: bytes) -> bytes:
    """One zstd frame of the JSON text's bytes (the column's stored form)."""
    if not hasattr(_local, "c"):
        _local.c = zstandard.ZstdCompressor(level=_LEVEL)
    frame: bytes = _local.c.compress(text)
    return frame


def load_json(stored: bytes | str) -> Any:
    """The JSON value of a stored cell: a zstd frame, or the plain JSON text of a row written
    before the column was compressed."""
    if isinstance(stored, str):
        return json.loads(stored)
    data = bytes(stored)
    if data[:4] == ZSTD_MAGIC:
        data = zstandard.ZstdDecompressor().decompress(data)
    return json.loads(data)


class CompressedJSON(TypeDecorator[Any]):
    """JSON in, JSON out; stored zstd-compressed (SQLite BLOB, PostgreSQL bytea). Not for
    columns that SQL looks into."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return compress_json_text(text.encode("utf-8"))

    def process_result_value(self, value: bytes | str | None, dialect: Dialect) -> Any:
        return None if value is None else load_json(value)
