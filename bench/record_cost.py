"""What recording a check costs the archive, by database and batch size (`Archive.record_checks`).

    .venv/bin/python bench/record_cost.py [--documents 256] [--batches 1,8,32] [--write-docs]

For SQLite (a file in a temporary folder) and PostgreSQL (a fresh database on
``CLAUSEWATCH_BENCH_PG``, dropped at the end): ``--documents`` documents, each recorded once as a
first version and then once as verified (the same text a day later), in batches of each size.
Reports wall and CPU milliseconds of this process per check and the SQL statements per batch. The
checks are built in memory (blobs stored first, as the capture cycle does), so the figure is the
record alone: what a worker's writer thread spends per check (docs/jobs.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import time
from typing import Any

from _common import ROOT, write_section
from sqlalchemy import create_engine, event, text

from clausewatch.archive.service import Archive
from clausewatch.config import Settings

sys.path.insert(0, str(ROOT / "tests"))
# the checks the batch-recording tests build: one source, a 40-clause text, a validator
from test_capture_batch import BODY, T0, check_of, documents

PG_ADMIN = os.environ.get("CLAUSEWATCH_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def admin(sql: str) -> None:
    engine = create_engine(f"{PG_ADMIN}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def measure(database: str, n: int, batch: int) -> list[dict[str, Any]]:
    tmp = tempfile.mkdtemp(prefix="clausewatch-record-")
    name = f"clausewatch_record_{os.getpid()}_{batch}"
    if database == "PostgreSQL":
        admin(f'CREATE DATABASE "{name}"')
        database_url = f"{PG_ADMIN}/{name}"
    else:
        database_url = f"sqlite:///{tmp}/archive.db"
    settings = Settings(
        data_dir=f"{tmp}/data",  # type: ignore[arg-type]
        database_url=database_url,
        snapshot_store=f"file://{tmp}/snapshots?layout=files",
        confirm_delay=0,
    )
    archive = Archive.open(settings)
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    event.listen(archive.engine, "before_cursor_execute", count)
    rows = []
    try:
        ids = documents(archive, n)
        for outcome, at in (("first version", T0), ("verified", T0 + dt.timedelta(days=1))):
            checks = [check_of(archive, d, i, BODY, at) for i, d in enumerate(ids)]
            statements[0] = 0
            wall, cpu = time.perf_counter(), time.process_time()
            for start in range(0, len(checks), batch):
                archive.record_checks(checks[start : start + batch])
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            batches = -(-len(checks) // batch)
            rows.append(
                {
                    "database": database,
                    "outcome": outcome,
                    "batch": batch,
                    "wall_ms": 1000 * wall / len(checks),
                    "cpu_ms": 1000 * cpu / len(checks),
                    "statements": statements[0] / batches,
                }
            )
            print(rows[-1], flush=True)
    finally:
        archive.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if database == "PostgreSQL":
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=256)
    parser.add_argument("--batches", default="1,8,32", help="batch sizes, comma-separated")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()
    rows = [
        row
        for database in ("SQLite", "PostgreSQL")
        for batch in (int(b) for b in args.batches.split(","))
        for row in measure(database, args.documents, batch)
    ]
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on x86_64 ({platform.python_version()}), "
        f"{os.cpu_count()} cores, {args.documents} documents, 1-minute load average "
        f"{load[0]:.1f} before and {os.getloadavg()[0]:.1f} after, "
        f"`.venv/bin/python bench/record_cost.py --documents {args.documents} "
        f"--batches {args.batches}`:",
        "",
        "| database | check | batch | wall ms per check | CPU ms per check "
        "| statements per batch |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['database']} | {r['outcome']} | {r['batch']} | {r['wall_ms']:.2f} "
        f"| {r['cpu_ms']:.2f} | {r['statements']:.1f} |"
        for r in rows
    ]
    report = "\n".join(lines)
    print(report)
    if args.write_docs:
        write_section("record-cost", report)


if __name__ == "__main__":
    main()
