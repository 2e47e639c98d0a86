"""Analyse the Platform Governance Archive history (4,842 versions of 133 documents).

    .venv/bin/python bench/analysis_run.py [--workers N] [--data DIR] [--write-docs]

Imports the jsonl into a fresh archive and builds its provisions (or copies ``--data``, an
archive where that is done and nothing is analysed yet), then times a cold
``analyse`` (every revision classified, per-provision rows, similarity, change records), a no-op
re-run, the similarity refresh alone and the provision-page analysis read path; prints what the
analysis found (severity mix, change-record directions).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import ROOT, SHARED_DATA, write_section
from sqlalchemy import func, select

from clausewatch.analysis.queries import provision_page_analysis
from clausewatch.analysis.service import analyse, refresh_similarity
from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.importers.parallel import import_source
from clausewatch.jobs.pool import default_workers
from clausewatch.provisions.service import build
from clausewatch.storage.models import ChangeRecord, ProvisionAnalysis

JSONL = SHARED_DATA / "ota" / "pga-versions.jsonl.xz"


def timed(fn, *args, **kw):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args, **kw)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--data", type=Path, help="an imported and built archive to copy")
    args = parser.parse_args()
    load_before = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        import_s = build_s = 0.0
        if args.data:
            shutil.copytree(args.data, tmp, dirs_exist_ok=True)
        archive = Archive.open(Settings(data_dir=Path(tmp)))
        if not args.data:
            _, import_s = timed(import_source, archive, JSONL, workers=args.workers)
            _, build_s = timed(build, archive, workers=args.workers)
        cold, cold_s = timed(analyse, archive, workers=args.workers)
        noop, noop_s = timed(analyse, archive)
        _, sim_s = timed(refresh_similarity, archive)
        with archive.sessions() as session:
            current = list(
                session.scalars(
                    select(ProvisionAnalysis.provision_id).where(ProvisionAnalysis.current)
                )
            )
            severity = Counter(
                dict(
                    session.execute(
                        select(ProvisionAnalysis.severity, func.count())
                        .where(ProvisionAnalysis.current)
                        .group_by(ProvisionAnalysis.severity)
                    ).all()
                )
            )
            directions = Counter(
                dict(
                    session.execute(
                        select(ChangeRecord.direction, func.count())
                        .where(ChangeRecord.status == "substantive")
                        .group_by(ChangeRecord.direction)
                    ).all()
                )
            )
        sample = random.Random(7).sample(current, min(200, len(current)))
        latencies = [timed(provision_page_analysis, archive, pid)[1] * 1000 for pid in sample]
        archive.close()
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} "
        f"({platform.python_version()}, 2 cores, load average before the run {load_before}), "
        f"SQLite, `.venv/bin/python bench/analysis_run.py --workers {args.workers}` (import of "
        "the whole jsonl and provision build first, "
        + (f"{import_s:.0f} s + {build_s:.0f} s" if not args.data else "copied from `--data`")
        + ", not counted):",
        "",
        "| figure | value |",
        "|---|---|",
        f"| revisions classified (cold `analyse`) | {cold.revisions:,} "
        f"({cold.classifications:,} clause types) |",
        f"| documents refreshed / change records assessed | {cold.documents} / "
        f"{cold.change_records:,} |",
        f"| cold `analyse`, whole run | {cold_s:.1f} s "
        f"({cold.revisions / cold_s:,.0f} revisions/s end to end) |",
        f"| no-op re-run (nothing stale) | {noop_s:.2f} s ({noop.revisions} revisions) |",
        f"| similarity refresh alone ({len(current):,} current provisions) | {sim_s:.1f} s |",
        f"| provision-page analysis read path, {len(sample)} random provisions | p50 "
        f"{statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms |",
        "| current provisions by severity | "
        + ", ".join(f"{k or 'no clause type'}: {v:,}" for k, v in severity.most_common())
        + " |",
        "| substantive change records by direction | "
        + ", ".join(f"{k}: {v:,}" for k, v in directions.most_common())
        + " |",
    ]
    print("\n".join(lines))
    if args.write_docs:
        write_section("analysis-run", "\n".join(lines))
        write_section("analysis-run", "\n".join(lines), ROOT / "docs" / "analysis.md")


if __name__ == "__main__":
    main()
