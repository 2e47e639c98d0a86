"""A JSON column stored as one zstd frame (bytes) for large JSON that is only ever read whole:
the version layouts, about 14 KB of JSON per version and four fifths of the database of the pga
history before they were compressed (docs/benchmarks.md § Import)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from typing import Any

import zstandard
from sqlalchemy import LargeBinary, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

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


# -- version layouts: segments as columns of differences (migration 0010) -----------------------

_LAYOUT_FORMAT = "columns-1"


def encode_layout(rows: list[list[Any]]) -> Any:
    """``[[provision_id, start, end, kind, label, path index], ...]`` as columns, each number as
    the difference from the row before (ID from ID, start from the previous end; the length for
    the end), so that a provision unchanged in the next version is the same run of small numbers
    wherever it moved: a third smaller once compressed than the rows. Anything else, or anything
    that would not read back as the same rows, is kept as it is."""
    try:
        ids, gaps, lengths = [], [], []
        previous_id = previous_end = 0
        for provision_id, start, end, *_ in rows:
            ids.append(provision_id - previous_id)
            gaps.append(start - previous_end)
            lengths.append(end - start)
            previous_id, previous_end = provision_id, end
        rest: list[list[Any]] = [[r[k] for r in rows] for k in (3, 4, 5)]
        encoded = {"format": _LAYOUT_FORMAT, "columns": [ids, gaps, lengths, *rest]}
    except (TypeError, ValueError, IndexError):
        return rows
    if any(len(r) != 6 for r in rows) or decode_layout(encoded) != rows:
        return rows
    return encoded


def decode_layout(value: Any) -> Any:
    """The rows of :func:`encode_layout`'s columns; any other value as it is (rows stored before
    migration 0010)."""
    if not isinstance(value, dict) or value.get("format") != _LAYOUT_FORMAT:
        return value
    ids, gaps, lengths, kinds, labels, paths = value["columns"]
    rows: list[list[Any]] = []
    provision_id = end = 0
    for d_id, gap, length, kind, label, path in zip(
        ids, gaps, lengths, kinds, labels, paths, strict=True
    ):
        provision_id += d_id
        start = end + gap
        end = start + length
        rows.append([provision_id, start, end, kind, label, path])
    return rows


class LayoutJSON(CompressedJSON):
    """A layout's segment rows in, the same rows out; stored as :func:`encode_layout` columns in
    one zstd frame. Rows stored as plain lists (before migration 0010) read as they are."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        return super().process_bind_param(None if value is None else encode_layout(value), dialect)

    def process_result_value(self, value: bytes | str | None, dialect: Dialect) -> Any:
        return decode_layout(super().process_result_value(value, dialect))


# -- version layouts as deltas of a keyframe layout (migration 0012) -----------------------------

# A layout is kept as a delta of its document's keyframe layout when the delta is at most this
# fraction of its whole frames; otherwise it becomes a keyframe itself. Measured on the pga
# history's 1,714 layouts (segments + heading paths): 2.91 MB whole, 0.95 MB this way.
LAYOUT_DELTA_RATIO = 0.5


class StoredFrame(TypeDecorator[Any]):
    """A stored cell as it is: a zstd frame (bytes), or JSON text written before migration
    0009; `layout_json_text` reads it."""

    impl = LargeBinary
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return bytes(value) if isinstance(value, memoryview) else value


def json_text(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _raw_dictionary(base: bytes) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def compress_layout_texts(
    texts: tuple[bytes, bytes], base: tuple[bytes, bytes] | None
) -> tuple[tuple[bytes, bytes], bool]:
    """The stored frames of a layout's two JSON texts (segments, heading paths): deltas of the
    keyframe layout's texts ``base`` when they come to at most `LAYOUT_DELTA_RATIO` of the whole
    frames; whole otherwise. The second value says whether they are deltas."""
    if base is None:
        return (compress_json_text(texts[0]), compress_json_text(texts[1])), False
    deltas = tuple(
        zstandard.ZstdCompressor(level=_LEVEL, dict_data=_raw_dictionary(b)).compress(t)
        for t, b in zip(texts, base, strict=True)
    )
    size = len(deltas[0]) + len(deltas[1])
    if size * 40 <= len(texts[0]) + len(texts[1]):
        return (deltas[0], deltas[1]), True  # small enough unless JSON compressed past 20:1
    whole = (compress_json_text(texts[0]), compress_json_text(texts[1]))
    if size > LAYOUT_DELTA_RATIO * (len(whole[0]) + len(whole[1])):
        return whole, False
    return (deltas[0], deltas[1]), True


def layout_json_text(stored: bytes | str, base: bytes | None = None) -> bytes:
    """The JSON text of a stored layout cell: a whole zstd frame, plain JSON (before migration
    0009), or with ``base`` (the keyframe layout's JSON text of the same column) a delta."""
    if isinstance(stored, str):
        return stored.encode("utf-8")
    data = bytes(stored)
    if data[:4] != ZSTD_MAGIC:
        return data
    if base is None:
        return zstandard.ZstdDecompressor().decompress(data)
    return zstandard.ZstdDecompressor(dict_data=_raw_dictionary(base)).decompress(data)


# -- SHA-256 digests as their 32 bytes (migrations 0010: provisions, 0011: captures) ----------


class Sha256Digest(TypeDecorator[str]):
    """A SHA-256 as lower-case hex in Python, its 32 bytes in the database (half the hex text;
    SQLite BLOB, PostgreSQL bytea). ``""`` (no text yet) is stored as no bytes. Hex text stored
    before the column's migration (0010, 0011) reads as it is. Not for columns that raw SQL
    compares with hex."""

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # SQLite: the column keeps the VARCHAR(64) it was declared with (a declared type is
        # only an affinity there, and a BLOB stays a BLOB under TEXT affinity), so that
        # migration 0010 does not rebuild tables that others reference.
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        digest = bytes.fromhex(value)
        if digest.hex() != value:
            raise ValueError(f"not a lower-case hex digest: {value!r}")
        return digest

    def process_result_value(self, value: bytes | str | None, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return bytes(value).hex()


# -- heading paths stored once (migration 0012) -------------------------------------------------


def heading_path_json(path: Sequence[str]) -> str:
    """The one stored form of a heading path: compact JSON, non-ASCII kept as it is (what
    ``heading_paths.path`` holds and what :func:`heading_path_key` hashes)."""
    return json.dumps(list(path), separators=(",", ":"), ensure_ascii=False)


def heading_path_key(stored: str) -> int:
    """``heading_paths.key``: the first 8 bytes of the SHA-256 of a path's stored JSON, as a
    signed 64-bit integer. Looked up through its index and then compared with the path itself,
    so a collision costs a row, never a wrong path."""
    return int.from_bytes(hashlib.sha256(stored.encode("utf-8")).digest()[:8], "big", signed=True)


class HeadingPathJSON(TypeDecorator[list[str]]):
    """A heading path, list of strings in Python, stored as :func:`heading_path_json` text on
    both backends (compared byte for byte, unlike JSONB). NULL reads as ``[]``: a provision
    with no heading points at no row, and its correlated lookup gives NULL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Sequence[str] | None, dialect: Dialect) -> str | None:
        return None if value is None else heading_path_json(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> list[str]:
        return [] if value is None else list(json.loads(value))


# -- words of a small fixed set as one-letter codes (migration 0014, SQLite) -------------------

SEGMENT_KIND_CODES = (("clause", "c"), ("paragraph", "p"), ("list_item", "l"), ("table_row", "t"))
CHANGE_KIND_CODES = (
    ("added", "a"),
    ("removed", "r"),
    ("modified", "m"),
    ("moved", "v"),
    ("split", "s"),
    ("merged", "g"),
)


class ShortCode(TypeDecorator[str]):
    """A word of a small fixed set (``codes``: word, letter pairs), stored by SQLite as its
    letter: a text cell's bytes are most of such a column (``provision_revisions.kind``, 45,555
    rows of the pga history: 0.41 MB as words). PostgreSQL keeps the word (its rows pay for
    alignment and headers more than for the text). A word outside the set is stored as it is;
    a word stored before migration 0014 reads as it is."""

    impl = String(20)
    cache_ok = True

    def __init__(self, codes: tuple[tuple[str, str], ...]) -> None:
        super().__init__(20)
        self.codes = codes
        self._letters = dict(codes)
        self._words = {letter: word for word, letter in codes}

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or dialect.name != "sqlite":
            return value
        return self._letters.get(value, value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return self._words.get(value, value)
