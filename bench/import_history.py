"""Import the Platform Governance Archive jsonl (4,842 versions) into a fresh archive.

    .venv/bin/python bench/import_history.py [--write-docs]

Reports wall time, records/s, bytes stored (database + snapshot store) against the raw text size,
and what each record became.
"""

from __future__ import annotations

import argparse
import json
import lzma
import platform
import tempfile
import time
from pathlib import Path

from _common import SHARED_DATA, write_section

from clausewatch.archive.evidence import verify_archive
from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.importers.ota import import_history, read_jsonl

JSONL = SHARED_DATA / "ota" / "pga-versions.jsonl.xz"


def raw_text_bytes() -> int:
    with lzma.open(JSONL, "rt") as fh:
        return sum(len((json.loads(line)["text"] or "").encode()) for line in fh)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = Archive.open(Settings(data_dir=Path(tmp)))
        start = time.perf_counter()
        report = import_history(archive, read_jsonl(JSONL))
        seconds = time.perf_counter() - start
        db_bytes = sum(p.stat().st_size for p in Path(tmp).glob("clausewatch.db*"))
        blob_bytes = archive.store.stored_bytes()
        start = time.perf_counter()
        with archive.sessions() as session:
            verified = verify_archive(session, archive.store)
        verify_seconds = time.perf_counter() - start
        counts = archive.counts()
        archive.close()
    raw = raw_text_bytes()
    changes = report.outcomes.get("new_version", 0)
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} "
        f"({platform.python_version()}), SQLite + local snapshot store, "
        "`.venv/bin/python bench/import_history.py`:",
        "",
        "| figure | value |",
        "|---|---|",
        f"| records imported | {report.records:,} ({len(report.documents)} documents) |",
        f"| wall time | {seconds:.1f} s ({report.records / seconds:.0f} records/s) |",
        f"| raw text in the export | {raw / 1e6:.1f} MB |",
        f"| stored: database | {db_bytes / 1e6:.1f} MB |",
        f"| stored: snapshots + version texts (zstd, deduplicated) | {blob_bytes / 1e6:.1f} MB |",
        f"| versions kept | {counts['versions']:,} (of which changes: {changes:,}) |",
        f"| what the records became | `{json.dumps(report.outcomes, sort_keys=True)}` |",
        f"| `verify` afterwards | {'ok' if verified.ok else 'FAILED'} in {verify_seconds:.1f} s |",
    ]
    body = "\n".join(lines)
    print(body)
    if args.write_docs:
        write_section("import", body)


if __name__ == "__main__":
    main()
