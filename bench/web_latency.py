"""Web latency with ~100,000 provisions, on SQLite and on PostgreSQL.

    nice -n 10 .venv/bin/python bench/web_latency.py [--provisions 100000] [--requests 200]
        [--no-postgres] [--no-uvicorn] [--base DATA_DIR] [--write-docs]

How the data is built (the full pipeline cannot make 100,000 provisions in reasonable time on a
small machine):

1. The bundled sample of real history (`src/clausewatch/data/pga-sample.jsonl.xz`: 65 versions of
   13 documents of 6 platforms) is imported and analysed once through the product's own pipeline
   (`import` + `analyse`) into a base SQLite archive.
2. Every row of that base archive is copied into a fresh target database N times (N = the number
   of copies that reaches `--provisions`), with bulk inserts through SQLAlchemy Core: copy k adds
   k × (max id + 1) to every table's own integer id and to every foreign key that points at that
   table, and to the provision ids stored in JSON (version layouts' segments, provision analyses'
   `similar`, change items' `related`). Platforms get the slug `<slug>-k` and the name
   `<name> (copy k)`; copy 0 is the original. Texts stay real: copied versions keep their
   `text_sha256`, so they read the same texts from the base archive's snapshot store. Capture
   rows are copied with a new `chain_hash` (sha256 of copy number and original), so the capture
   log's hash chain is not valid for the copies (nothing here runs `verify`). Classifications,
   provision analyses (rarity, similarity) and change-record assessments are copied, not
   recomputed: a copy's "how others handle it" points at the original platform's provisions.
3. The same copies go into a scratch PostgreSQL database (`clausewatch_bench_<pid>` on
   127.0.0.1:5432, user postgres; dropped afterwards).

Measured: the provision page (`/provisions/P-…`), the provision API (`/api/v1/provisions/P-…`)
and a list API (`/api/v1/provisions?limit=50&offset=…`), each for `--requests` random current
provisions (or offsets): in-process with Starlette's TestClient (sequential), and over HTTP with
uvicorn on 127.0.0.1 and an httpx2 client with 8 requests in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import write_section
from sqlalchemy import Table, create_engine, func, select, text, update
from sqlalchemy.engine import Engine

from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.importers.sample import SAMPLE_PATH, import_sample
from clausewatch.storage.models import Base, Document, Provision, ProvisionAnalysis

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BATCH = 5000


def build_base(folder: Path) -> Archive:
    from clausewatch.analysis.service import analyse
    from clausewatch.provisions.service import build

    archive = Archive.open(Settings(data_dir=folder))
    start = time.perf_counter()
    import_sample(archive)
    build(archive)
    analyse(archive)
    took = time.perf_counter() - start
    print(f"base archive (import + build + analyse of the sample): {took:.0f} s")
    return archive


def _own_id(table: Table) -> bool:
    pk = list(table.primary_key.columns)
    return len(pk) == 1 and pk[0].name == "id" and not pk[0].foreign_keys


def replicate(source: Engine, target: Engine, copies: int) -> float:
    """Copy every row of ``source`` into ``target`` ``copies`` times (see the module docstring)."""
    tables = [t for t in Base.metadata.sorted_tables]
    with source.connect() as conn:
        rows = {t.name: [dict(r._mapping) for r in conn.execute(select(t))] for t in tables}
        offsets = {
            t.name: (conn.scalar(select(func.max(t.c.id))) or 0) + 1 for t in tables if _own_id(t)
        }
    start = time.perf_counter()
    with target.begin() as conn:
        for k in range(copies):
            for table in tables:
                if k and table.name in ("log_head", "narrative_cache", "alembic_version"):
                    continue
                batch = [_shift(table, row, k, offsets) for row in rows[table.name]]
                for i in range(0, len(batch), BATCH):
                    conn.execute(table.insert(), batch[i : i + BATCH])
            # documents.current_version_id was inserted empty (versions come after documents)
            docs = Document.__table__
            for row in rows["documents"]:
                if row["current_version_id"] is not None:
                    conn.execute(
                        update(docs)
                        .where(docs.c.id == row["id"] + k * offsets["documents"])
                        .values(
                            current_version_id=row["current_version_id"] + k * offsets["versions"]
                        )
                    )
    return time.perf_counter() - start


def _shift(table: Table, row: dict[str, Any], k: int, offsets: dict[str, int]) -> dict[str, Any]:
    out = dict(row)
    for column in table.columns:
        value = out[column.name]
        if value is None:
            continue
        if column.name == "id" and _own_id(table):
            out["id"] = value + k * offsets[table.name]
        for fk in column.foreign_keys:
            out[column.name] = value + k * offsets[fk.column.table.name]
    if table.name == "documents":
        out["current_version_id"] = None
    if k == 0:
        return out
    p = k * offsets["provisions"]
    if table.name == "platforms":
        out["slug"] = f"{row['slug']}-{k}"
        out["name"] = f"{row['name']} (copy {k})"
    elif table.name == "captures":
        out["chain_hash"] = hashlib.sha256(f"{k}:{row['chain_hash']}".encode()).hexdigest()
        if row.get("import_ref"):  # unique (migration 0006)
            out["import_ref"] = f"{row['import_ref']}#copy-{k}"
    elif table.name == "version_layouts":
        out["segments"] = [[s[0] + p if s[0] else s[0], *s[1:]] for s in row["segments"]]
    elif table.name == "provision_analyses":
        # similar wording stays pointed at the original platforms' provisions
        out["similar"] = row["similar"]
    elif table.name == "change_items":
        out["related"] = [r + p for r in row["related"]]
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def targets(engine: Engine, n: int, seed: int = 7) -> dict[str, list[str]]:
    with engine.connect() as conn:
        current = list(
            conn.scalars(select(ProvisionAnalysis.provision_id).where(ProvisionAnalysis.current))
        )
    rng = random.Random(seed)
    chosen = rng.sample(current, min(n, len(current)))
    ids = [f"P-{pid:06d}" for pid in chosen]
    offsets = [rng.randrange(0, max(1, len(current) - 50)) for _ in range(n)]
    return {
        "provision page": [f"/provisions/{i}" for i in ids],
        "provision API": [f"/api/v1/provisions/{i}" for i in ids],
        "list API (50 a page)": [f"/api/v1/provisions?limit=50&offset={o}" for o in offsets],
    }


def summarise(latencies_ms: list[float], wall_s: float) -> tuple[float, float, float]:
    return (
        statistics.median(latencies_ms),
        percentile(latencies_ms, 0.95),
        len(latencies_ms) / wall_s,
    )


def measure_inprocess(settings: Settings, urls: dict[str, list[str]]) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from clausewatch.web import create_app

    results = {}
    with TestClient(create_app(settings)) as client:
        for name, paths in urls.items():
            for path in paths[:5]:  # warm caches and the connection pool
                assert client.get(path).status_code == 200, path
            latencies = []
            wall = time.perf_counter()
            for path in paths:
                start = time.perf_counter()
                response = client.get(path)
                latencies.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            results[name] = summarise(latencies, time.perf_counter() - wall)
    return results


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def uvicorn_server(settings: Settings) -> Iterator[str]:
    port = free_port()
    env = os.environ | {
        "CLAUSEWATCH_DATA_DIR": str(settings.data_dir),
        "CLAUSEWATCH_DATABASE_URL": settings.resolved_database_url,
        "CLAUSEWATCH_SNAPSHOT_STORE": settings.resolved_snapshot_store,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "clausewatch", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(10)


def measure_http(base: str, urls: dict[str, list[str]], concurrency: int = 8) -> dict[str, Any]:
    import httpx2

    async def run() -> dict[str, Any]:
        results = {}
        async with httpx2.AsyncClient(base_url=base, timeout=120) as client:
            for name, paths in urls.items():
                for path in paths[:concurrency]:
                    (await client.get(path)).raise_for_status()
                results[name] = await _concurrent(client, paths, concurrency)
        return results

    return asyncio.run(run())


async def _concurrent(client: Any, paths: list[str], concurrency: int) -> tuple[float, ...]:
    queue = list(paths)
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            path = queue.pop()
            begin = time.perf_counter()
            response = await client.get(path)
            latencies.append((time.perf_counter() - begin) * 1000)
            assert response.status_code == 200, (path, response.status_code)

    wall = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summarise(latencies, time.perf_counter() - wall)


@contextlib.contextmanager
def scratch_postgres() -> Iterator[str]:
    name = f"clausewatch_bench_{os.getpid()}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def row(*cells: Any) -> str:
    label, client, name, p50, p95, rps = cells
    return f"| {label} | {client} | {name} | {p50:.1f} | {p95:.1f} | {rps:.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--provisions", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-uvicorn", action="store_true")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument(
        "--base", type=Path, help="reuse this data folder (the sample imported and analysed)"
    )
    args = parser.parse_args()
    rows: list[str] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = (
            Archive.open(Settings(data_dir=args.base))
            if args.base
            else build_base(Path(tmp) / "base")
        )
        with base.sessions() as session:
            per_copy = session.scalar(select(func.count()).select_from(Provision)) or 1
        copies = -(-args.provisions // per_copy)
        store = base.settings.resolved_snapshot_store
        backends: list[tuple[str, Any]] = [
            ("SQLite", lambda: contextlib.nullcontext(f"sqlite:///{tmp}/bench.db"))
        ]
        if not args.no_postgres:
            backends.append(("PostgreSQL", scratch_postgres))
        for label, make_url in backends:
            with make_url() as url:
                settings = Settings(
                    data_dir=Path(tmp) / "target", database_url=url, snapshot_store=store
                )
                target = Archive.open(settings)  # creates the schema
                # the migration's own rows (e.g. the capture log head) make way for the copies
                with target.engine.begin() as conn:
                    for table in reversed(Base.metadata.sorted_tables):
                        conn.execute(table.delete())
                took = replicate(base.engine, target.engine, copies)
                if target.engine.dialect.name == "postgresql":
                    with target.engine.connect() as conn:
                        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                            text("VACUUM ANALYZE")
                        )
                total = target.counts()
                with target.sessions() as session:
                    provisions = session.scalar(select(func.count()).select_from(Provision))
                target.close()
                notes.append(
                    f"{label}: {provisions:,} provisions, {total['versions']:,} versions, "
                    f"{total['documents']:,} documents, {total['platforms']:,} platforms "
                    f"({copies} copies, bulk-inserted in {took:.0f} s)"
                )
                print(notes[-1])
                urls = targets(create_engine(url), args.requests)
                for name, (p50, p95, rps) in measure_inprocess(settings, urls).items():
                    rows.append(row(label, "TestClient, 1 at a time", name, p50, p95, rps))
                    print(rows[-1])
                if not args.no_uvicorn:
                    with uvicorn_server(settings) as server:
                        for name, (p50, p95, rps) in measure_http(server, urls).items():
                            rows.append(
                                row(label, "uvicorn + httpx2, 8 in flight", name, p50, p95, rps)
                            )
                            print(rows[-1])
        base.close()
    body = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} "
            f"({platform.python_version()}, {os.cpu_count()} cores shared with other work), "
            f"`nice -n 10 .venv/bin/python bench/web_latency.py --provisions {args.provisions} "
            f"--requests {args.requests}`; {args.requests} random current provisions (list: "
            "random offsets) per row. Data: the bundled sample imported and analysed, then "
            f"copied under synthetic platform slugs (the script's docstring; {SAMPLE_PATH.name}):",
            "",
            *(f"- {n}" for n in notes),
            "",
            "| database | client | request | p50 ms | p95 ms | requests/s |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(body)
    if args.write_docs:
        write_section("web-latency", body)


if __name__ == "__main__":
    main()
