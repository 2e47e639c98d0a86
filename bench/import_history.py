"""Import the Platform Governance Archive jsonl (4,842 versions) into a fresh archive.

    .venv/bin/python bench/import_history.py [--workers N] [--write-docs]

What `clausewatch import` does: the import (``--workers`` processes, default one per core, at
most 4), then the provisions build with as many, then ``VACUUM`` of the grown database. Reports
wall time of each, records/s, the peak RSS of this process and of its largest worker, bytes
stored (database + snapshot store) against the raw text size, where they go
(`storage_breakdown.py`: store by kind of object, database by table, disk blocks) and what each
record became. ``--keep DIR`` imports into DIR (empty or new) and leaves it there.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from _common import SHARED_DATA, write_section
from storage_breakdown import breakdown

from clausewatch.archive.evidence import verify_archive
from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.importers.parallel import import_source
from clausewatch.jobs.pool import default_workers
from clausewatch.provisions.service import build
from clausewatch.storage.db import compact_after_bulk_write, database_bytes

JSONL = SHARED_DATA / "ota" / "pga-versions.jsonl.xz"


def raw_text_bytes() -> int:
    with lzma.open(JSONL, "rt") as fh:
        return sum(len((json.loads(line)["text"] or "").encode()) for line in fh)


def cpu_seconds() -> float:
    """User + system CPU of this process and of its finished worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--keep", type=Path, help="import into this folder and keep it")
    parser.add_argument("--workers", type=int, default=default_workers())
    args = parser.parse_args()
    load_before = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or Path(scratch)
        archive = Archive.open(Settings(data_dir=Path(tmp)))
        size_before = database_bytes(archive.engine)
        start, cpu = time.perf_counter(), cpu_seconds()
        report = import_source(archive, JSONL, workers=args.workers)
        seconds = time.perf_counter() - start
        import_cpu = cpu_seconds() - cpu
        start, cpu = time.perf_counter(), cpu_seconds()
        built = build(archive, workers=args.workers)
        build_seconds = time.perf_counter() - start
        build_cpu = cpu_seconds() - cpu
        start = time.perf_counter()
        compacted = compact_after_bulk_write(archive.engine, size_before)
        compact_seconds = time.perf_counter() - start
        start = time.perf_counter()
        with archive.sessions() as session:
            verified = verify_archive(session, archive.store)
        verify_seconds = time.perf_counter() - start
        counts = archive.counts()
        archive.close()
        where, totals = breakdown(Path(tmp))
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    raw = raw_text_bytes()
    db_bytes, blob_bytes = totals["database"], totals["store"]
    changes = report.outcomes.get("new_version", 0)
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} "
        f"({platform.python_version()}), SQLite + local snapshot store, "
        f"`.venv/bin/python bench/import_history.py --workers {args.workers}` "
        f"(load average before the run: {load_before}):",
        "",
        "| figure | value |",
        "|---|---|",
        f"| records imported | {report.records:,} ({len(report.documents)} documents) |",
        f"| import, wall time | {seconds:.1f} s ({report.records / seconds:.0f} records/s) |",
        f"| provisions build, wall time | {build_seconds:.1f} s ({built.versions:,} versions, "
        f"{built.provisions_created:,} provisions, {built.change_records:,} change records) |",
        "| database rebuilt (`VACUUM`, as `clausewatch import` does after a bulk write) | "
        + (
            f"{compacted[0] / 1e6:.1f} → {compacted[1] / 1e6:.1f} MB in {compact_seconds:.1f} s |"
            if compacted
            else "no |"
        ),
        f"| **import + provisions** | **{seconds + build_seconds + compact_seconds:.1f} s** |",
        f"| CPU (user + system, all processes): import / provisions build | "
        f"{import_cpu:.1f} s / {build_cpu:.1f} s |",
        f"| peak RSS: this process / the largest worker | {peak_self:.0f} MB / "
        f"{peak_children:.0f} MB |",
        f"| raw text in the export | {raw / 1e6:.1f} MB |",
        f"| stored: database | {db_bytes / 1e6:.1f} MB |",
        f"| stored: snapshots + version texts (zstd, deduplicated) | {blob_bytes / 1e6:.1f} MB |",
        f"| stored in all, of the raw text | {(db_bytes + blob_bytes) / 1e6:.1f} MB: "
        f"{100 * (db_bytes + blob_bytes) / raw:.1f} % |",
        f"| disk used, whole blocks, of the raw text | {totals['disk'] / 1e6:.1f} MB: "
        f"{100 * totals['disk'] / raw:.1f} % |",
        f"| versions kept | {counts['versions']:,} (of which changes: {changes:,}) |",
        f"| what the records became | `{json.dumps(report.outcomes, sort_keys=True)}` |",
        f"| `verify` afterwards | {'ok' if verified.ok else 'FAILED'} in {verify_seconds:.1f} s |",
        "",
        "Where the bytes go:",
        "",
        *where,
    ]
    body = "\n".join(lines)
    print(body)
    if args.write_docs:
        write_section("import", body)


if __name__ == "__main__":
    main()
