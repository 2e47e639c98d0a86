"""Where an archive's bytes go: the snapshot store by kind of object (raw snapshots, version
texts; keyframes, deltas, one-file-per-object), the database by table and index (SQLite's
``dbstat``), and the disk space counting whole file-system blocks.

    .venv/bin/python bench/storage_breakdown.py DATA_DIR [--columns]

`bench/import_history.py` prints the same breakdown after its import.
"""

from __future__ import annotations

import argparse
import sqlite3
from collections import Counter
from pathlib import Path

from clausewatch.archive.snapshots import PACK_NAME


def _on_disk(paths: list[Path]) -> tuple[int, int]:
    """(bytes, bytes counting whole blocks)."""
    stats = [p.stat() for p in paths if p.is_file()]
    return sum(s.st_size for s in stats), sum(s.st_blocks * 512 for s in stats)


def _hex(digest: str | bytes) -> str:
    """A stored SHA-256 as hex: 64 hex characters, or its 32 bytes."""
    return digest.hex() if isinstance(digest, bytes) else digest


def breakdown(data_dir: Path) -> tuple[list[str], dict[str, int]]:
    """Markdown lines, and the totals: ``database``, ``store`` (bytes) and ``disk`` (blocks)."""
    db_path = data_dir / "clausewatch.db"
    store = data_dir / "snapshots"
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    texts = {r[0] for r in db.execute("SELECT text_sha256 FROM versions")}
    texts |= {r[0] for r in db.execute("SELECT text_sha256 FROM variants")}
    raws = {
        _hex(r[0])  # 32 bytes since migration 0011
        for r in db.execute(
            "SELECT snapshot_sha256 FROM captures WHERE snapshot_sha256 IS NOT NULL"
        )
    }
    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()

    def kind_of(sha: str) -> str:
        return (
            "version texts" if sha in texts else "raw snapshots" if sha in raws else "unreferenced"
        )

    files = list(store.glob("*/*/*.zst"))
    for path in files:
        key = f"{kind_of(path.stem)}, one file each (zstd)"
        sizes[key] += path.stat().st_size
        counts[key] += 1
    pack_files = list(store.glob(PACK_NAME + "*"))
    if (store / PACK_NAME).exists():
        pack = sqlite3.connect(f"file:{store / PACK_NAME}?mode=ro", uri=True)
        for sha, base, frame in pack.execute(
            "SELECT sha256, base IS NULL, length(frame) FROM objects"
        ):
            sha = sha.hex() if isinstance(sha, bytes) else sha  # format 2 keys are 32 bytes
            key = f"{kind_of(sha)}, packed {'keyframes' if base else 'deltas'}"
            sizes[key] += frame
            counts[key] += 1
        pack.close()
    file_bytes, file_blocks = _on_disk(files)
    pack_bytes, pack_blocks = _on_disk(pack_files)
    db_bytes, db_blocks = _on_disk(list(data_dir.glob("clausewatch.db*")))
    lines = ["| where | objects | bytes |", "|---|---|---|"]
    for key in sorted(sizes):
        lines.append(f"| store: {key} | {counts[key]:,} | {sizes[key] / 1e6:.2f} MB |")
    if pack_files:
        lines.append(
            f"| store: `{PACK_NAME}` file (objects + SQLite pages) | | {pack_bytes / 1e6:.2f} MB |"
        )
    dirs = [p for p in store.rglob("*") if p.is_dir()]
    dir_blocks = sum(p.stat().st_blocks * 512 for p in dirs)
    if files:
        overhead = (file_blocks - file_bytes) / 1e6
        lines.append(
            f"| store: {len(files):,} object files on disk, whole blocks | | "
            f"{file_blocks / 1e6:.2f} MB (of which block overhead {overhead:.2f} MB) |"
        )
    if dirs:
        lines.append(f"| store: {len(dirs):,} directories | | {dir_blocks / 1e6:.2f} MB |")
    try:
        tables = db.execute(
            "SELECT d.name, coalesce(m.type, 'table'), sum(d.pgsize) FROM dbstat d "
            "LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY d.name ORDER BY 3 DESC"
        ).fetchall()
    except sqlite3.OperationalError:  # SQLite built without dbstat
        tables = []
    shown, index_bytes, rest = 0, 0, 0
    for name, kind, size in tables:
        if kind == "index":
            index_bytes += size
        elif shown < 6:
            lines.append(f"| database: table `{name}` | | {size / 1e6:.2f} MB |")
            shown += 1
        else:
            rest += size
    if tables:
        lines.append(f"| database: the other tables | | {rest / 1e6:.2f} MB |")
        lines.append(f"| database: indexes | | {index_bytes / 1e6:.2f} MB |")
    db.close()
    lines.append(f"| database file(s) | | {db_bytes / 1e6:.2f} MB |")
    disk = db_blocks + pack_blocks + file_blocks + dir_blocks
    lines.append(
        f"| **disk used, counting whole blocks** (database + store) | | {disk / 1e6:.2f} MB |"
    )
    return lines, {"database": db_bytes, "store": file_bytes + pack_bytes, "disk": disk}


# The tables that hold most of an imported archive's database (docs/benchmarks.md § Import),
# and the heading paths that `provisions` points at (migration 0012; absent before: no rows).
COLUMN_TABLES = (
    "provisions",
    "heading_paths",
    "captures",
    "provision_revisions",
    "version_layouts",
)


def column_payloads(data_dir: Path, tables: tuple[str, ...] = COLUMN_TABLES) -> list[str]:
    """Markdown lines: the bytes each column of ``tables`` holds (``sum(length(column))``,
    before SQLite's record headers and page space), largest first."""
    db = sqlite3.connect(f"file:{data_dir / 'clausewatch.db'}?mode=ro", uri=True)
    lines = ["| table | column | bytes |", "|---|---|---|"]
    try:
        for table in tables:
            columns = [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]
            sizes = {
                column: db.execute(
                    f'SELECT coalesce(sum(length(CAST("{column}" AS BLOB))), 0) FROM "{table}"'
                ).fetchone()[0]
                for column in columns
            }
            for column, size in sorted(sizes.items(), key=lambda item: -item[1]):
                lines.append(f"| `{table}` | `{column}` | {size / 1e6:.2f} MB |")
    finally:
        db.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument(
        "--columns", action="store_true", help="also the bytes of each column of the largest tables"
    )
    args = parser.parse_args()
    lines, _ = breakdown(args.data_dir)
    if args.columns:
        lines += ["", *column_payloads(args.data_dir)]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
