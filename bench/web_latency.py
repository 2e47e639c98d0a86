"""Web latency with ~100,000 provisions, on SQLite and on PostgreSQL.

    nice -n 10 .venv/bin/python bench/web_latency.py [--provisions 100000] [--requests 200]
        [--no-postgres] [--no-sqlite] [--no-uvicorn] [--base DATA_DIR] [--keep DIR]
        [--only ROUTE ...] [--label TEXT] [--write-docs]

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
   127.0.0.1:5432, user postgres; dropped afterwards), followed by `VACUUM ANALYZE`.

`--keep DIR` keeps what it builds (the base archive in `DIR/base`, the SQLite copy in
`DIR/bench.db`, the PostgreSQL copy in the database `clausewatch_bench_keep`) and a later run with
the same `--keep DIR` measures them again without rebuilding (opening them runs any newer
migration first, so the same data measures the code before and after a schema change).

Measured: the provision page (`/provisions/P-…`), the provision API (`/api/v1/provisions/P-…`),
a list API (`/api/v1/provisions?limit=50&offset=…`) and the search page (`/search?q=` two words of
a fixed list), each for `--requests` random current provisions (offsets, queries), the same URLs
on both databases: in-process with Starlette's TestClient (sequential), and over HTTP with uvicorn
on 127.0.0.1 and an httpx2 client with 8 requests in flight. Each row first asks its first five
URLs once (the connection pool, the figures kept per archive state): those five are then answered
from the rendered-response cache within the row, as they would be in service. Both targets are
analysed first (`ANALYZE` on SQLite, `VACUUM ANALYZE` on PostgreSQL). The in-process run also
counts the SQL statements each request sends (a `before_cursor_execute` listener on the app's
engine; transaction control such as SQLite's `BEGIN` is not counted) and times each statement: the
one with the highest median time of each route is then explained with the parameters of its
slowest run, `EXPLAIN (ANALYZE, BUFFERS)` on PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite.
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
from sqlalchemy import Table, create_engine, event, func, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.importers.sample import SAMPLE_PATH, import_sample
from clausewatch.storage.models import (
    Base,
    Document,
    Provision,
    ProvisionAnalysis,
    VersionLayout,
)

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
KEPT_PG = "clausewatch_bench_keep"
BATCH = 5000
# two-word queries of the search page (bench/http_load.py asks the same kind)
SEARCH_WORDS = [
    "data",
    "account",
    "terms",
    "arbitration",
    "content",
    "privacy",
    "cookies",
    "third",
    "parties",
    "law",
    "payment",
    "refund",
    "license",
    "terminate",
    "share",
    "advertising",
    "location",
    "children",
    "delete",
    "security",
    "rights",
]


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
    with Session(source) as session:  # each layout as it reads (a delta needs its keyframe)
        layouts = {
            layout.version_id: (layout.segments, layout.heading_paths)
            for layout in session.scalars(select(VersionLayout))
        }
    start = time.perf_counter()
    with target.begin() as conn:
        for k in range(copies):
            for table in tables:
                if k and table.name in (
                    "log_head",
                    "narrative_cache",
                    "alembic_version",
                    "archive_state",
                ):
                    continue
                batch = [_shift(table, row, k, offsets, layouts) for row in rows[table.name]]
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


def _shift(
    table: Table,
    row: dict[str, Any],
    k: int,
    offsets: dict[str, int],
    layouts: dict[int, tuple[list[list[Any]], list[list[str]]]],
) -> dict[str, Any]:
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
        if row.get("import_ref") is not None:  # unique (migration 0006); "" is the url (0011)
            out["import_ref"] = f"{row['import_ref'] or row['url']}#copy-{k}"
    elif table.name == "version_layouts":  # stored whole in the copies, ids shifted
        segments, heading_paths = layouts[row["version_id"]]
        shifted = [[s[0] + p if s[0] else s[0], *s[1:]] for s in segments]
        copy = VersionLayout.make(
            out["version_id"], row["segmenter_version"], shifted, heading_paths
        )
        out["segments"], out["heading_paths"] = copy.segments_frame, copy.heading_paths_frame
        out["base_version_id"] = None
    elif table.name == "provisions" and row["heading_path_id"] is not None:
        out["heading_path_id"] = row["heading_path_id"] + k * offsets["heading_paths"]
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
    pairs = [(a, b) for a in SEARCH_WORDS for b in SEARCH_WORDS if a != b]
    rng.shuffle(pairs)
    return {
        "provision page": [f"/provisions/{i}" for i in ids],
        "provision API": [f"/api/v1/provisions/{i}" for i in ids],
        "list API (50 a page)": [f"/api/v1/provisions?limit=50&offset={o}" for o in offsets],
        "search page": [f"/search?q={a}+{b}" for a, b in pairs[:n]],
    }


def summarise(latencies_ms: list[float], wall_s: float) -> tuple[float, float, float]:
    return (
        statistics.median(latencies_ms),
        percentile(latencies_ms, 0.95),
        len(latencies_ms) / wall_s,
    )


class QueryLog:
    """Every SQL statement an engine sends (the bench's requests run one at a time): how many per
    request, and per statement text its times and the parameters of its slowest run."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.count = 0
        self.times: dict[str, list[float]] = {}
        self.worst: dict[str, tuple[float, Any]] = {}
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        took = (time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())) * 1000
        if statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT")):
            return
        self.count += 1
        self.times.setdefault(statement, []).append(took)
        if took >= self.worst.get(statement, (-1.0, None))[0]:
            self.worst[statement] = (took, parameters)

    def slowest(self) -> tuple[float, str, Any]:
        """(median ms, statement, parameters of its slowest run) of the statement with the
        highest median time: on a shared machine one run's time says more about the scheduler
        than about the query."""
        if not self.times:
            return (0.0, "", None)
        statement = max(self.times, key=lambda st: statistics.median(self.times[st]))
        return (statistics.median(self.times[statement]), statement, self.worst[statement][1])

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


def explain(engine: Engine, statement: str, parameters: Any) -> str:
    """The plan of one statement as it ran: EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on
    SQLite (parameters as the driver got them)."""
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(prefix + statement, parameters or ())
        rows = cursor.fetchall()
        raw.rollback()
    finally:
        raw.close()
    if postgres:
        return "\n".join(r[0] for r in rows)
    return "\n".join(f"{'  ' * _depth(rows, r)}{r[-1]}" for r in rows)


def _depth(rows: list[Any], r: Any) -> int:
    parents = {x[0]: x[1] for x in rows}
    depth, parent = 0, r[1]
    while parent in parents:
        depth, parent = depth + 1, parents[parent]
    return depth


def measure_inprocess(
    settings: Settings, urls: dict[str, list[str]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(route → (p50, p95, requests/s), route → (queries p50, queries max, slowest statement
    ms, statement, its plan))."""
    from fastapi.testclient import TestClient

    from clausewatch.web import create_app

    results, queries = {}, {}
    app = create_app(settings)
    engine = app.state.archive.engine
    with TestClient(app) as client:
        for name, paths in urls.items():
            for path in paths[:5]:  # warm caches and the connection pool
                assert client.get(path).status_code == 200, path
            log = QueryLog(engine)
            counts, latencies = [], []
            wall = time.perf_counter()
            for path in paths:
                start = time.perf_counter()
                response = client.get(path)
                latencies.append((time.perf_counter() - start) * 1000)
                counts.append(log.take())
                assert response.status_code == 200, (path, response.status_code)
            results[name] = summarise(latencies, time.perf_counter() - wall)
            log.close()
            took, statement, parameters = log.slowest()
            plan = explain(engine, statement, parameters) if statement else ""
            queries[name] = (statistics.median(counts), max(counts), took, statement, plan)
    return results, queries


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
def scratch_postgres(keep: bool = False) -> Iterator[str]:
    """A database on the local server: a fresh one dropped afterwards, or (``keep``) the kept
    bench database, created when missing and left in place."""
    name = KEPT_PG if keep else f"clausewatch_bench_{os.getpid()}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def short_sql(statement: str, limit: int = 600) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= limit else flat[:limit] + " …"


def fill(settings: Settings, base: Archive, copies: int) -> str:
    """Copy the base archive into the (empty or kept) target; a note of what it holds."""
    target = Archive.open(settings)  # creates the schema, or migrates a kept one
    with target.sessions() as session:
        present = session.scalar(select(func.count()).select_from(Provision)) or 0
    took = None
    if not present:
        # the migration's own rows (e.g. the capture log head) make way for the copies
        with target.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
        took = replicate(base.engine, target.engine, copies)
    if target.engine.dialect.name == "postgresql":
        with target.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    else:
        with target.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
    total = target.counts()
    with target.sessions() as session:
        provisions = session.scalar(select(func.count()).select_from(Provision)) or 0
    target.close()
    how = f"bulk-inserted in {took:.0f} s" if took is not None else "kept from an earlier run"
    return (
        f"{provisions:,} provisions, {total['versions']:,} versions, "
        f"{total['documents']:,} documents, {total['platforms']:,} platforms "
        f"({copies} copies, {how})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--provisions", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-uvicorn", action="store_true")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--only", nargs="*", help="route names to measure (default: all)")
    parser.add_argument("--label", default="", help="a word for the docs (e.g. before / after)")
    parser.add_argument(
        "--base", type=Path, help="reuse this data folder (the sample imported and analysed)"
    )
    parser.add_argument(
        "--keep", type=Path, help=f"build into DIR and the database {KEPT_PG}, reuse them later"
    )
    args = parser.parse_args()
    load = os.getloadavg()
    measured: dict[str, dict[str, Any]] = {}  # database → client → route → figures
    plans: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(args.keep or scratch)
        base_dir = args.base or tmp / "base"
        base = (
            Archive.open(Settings(data_dir=base_dir))
            if (base_dir / "clausewatch.db").exists() or args.base
            else build_base(base_dir)
        )
        with base.sessions() as session:
            per_copy = session.scalar(select(func.count()).select_from(Provision)) or 1
        copies = -(-args.provisions // per_copy)
        store = base.settings.resolved_snapshot_store
        backends: list[tuple[str, Any]] = []
        if not args.no_sqlite:
            backends.append(("SQLite", lambda: contextlib.nullcontext(f"sqlite:///{tmp}/bench.db")))
        if not args.no_postgres:
            backends.append(("PostgreSQL", lambda: scratch_postgres(keep=bool(args.keep))))
        for label, make_url in backends:
            with make_url() as url:
                settings = Settings(
                    data_dir=tmp / f"target-{label.lower()}", database_url=url, snapshot_store=store
                )
                notes.append(f"{label}: {fill(settings, base, copies)}")
                print(notes[-1], flush=True)
                urls = targets(create_engine(url), args.requests)
                if args.only:
                    urls = {k: v for k, v in urls.items() if k in args.only}
                inprocess, plans[label] = measure_inprocess(settings, urls)
                measured.setdefault(label, {})["TestClient, 1 at a time"] = inprocess
                for name, figures in inprocess.items():
                    print(label, name, figures, plans[label][name][:3], flush=True)
                if not args.no_uvicorn:
                    with uvicorn_server(settings) as server:
                        over_http = measure_http(server, urls)
                    measured[label]["uvicorn + httpx2, 8 in flight"] = over_http
                    for name, figures in over_http.items():
                        print(label, "http", name, figures, flush=True)
        base.close()
    body = report(args, load, notes, measured, plans)
    print(body)
    if args.write_docs:
        write_section("web-latency", body)


def report(
    args: argparse.Namespace,
    load: tuple[float, float, float],
    notes: list[str],
    measured: dict[str, dict[str, Any]],
    plans: dict[str, dict[str, Any]],
) -> str:
    databases = list(measured)
    end = os.getloadavg()
    head = "| client | request | " + " | ".join(
        f"{d} p50 ms | {d} p95 ms | {d} req/s" for d in databases
    )
    head += " | " + " | ".join(f"{d} queries (median / max)" for d in databases) + " |"
    lines = [head, "|" + "---|" * (2 + 4 * len(databases))]
    clients = list(dict.fromkeys(c for d in databases for c in measured[d]))
    for client in clients:
        names = list(dict.fromkeys(n for d in databases for n in measured[d].get(client, {})))
        for name in names:
            cells = [client, name]
            for d in databases:
                p50, p95, rps = measured[d].get(client, {}).get(name, (0.0, 0.0, 0.0))
                cells += [f"{p50:.1f}", f"{p95:.1f}", f"{rps:.1f}"]
            for d in databases:
                q = plans[d].get(name) if client.startswith("TestClient") else None
                cells.append(f"{q[0]:.0f} / {q[1]}" if q else "")
            lines.append("| " + " | ".join(cells) + " |")
    command = (
        f"nice -n 10 .venv/bin/python bench/web_latency.py --provisions {args.provisions} "
        f"--requests {args.requests}"
        + (" --no-uvicorn" if args.no_uvicorn else "")
        + (" --keep DIR" if args.keep else "")
    )
    out = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        + (f" ({args.label})" if args.label else "")
        + f" on {platform.machine()} ({platform.python_version()}, {os.cpu_count()} cores shared "
        f"with other work; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the "
        f"start, {end[0]:.1f} / {end[1]:.1f} / {end[2]:.1f} at the end), `{command}`; "
        f"{args.requests} random current provisions (list: random offsets) per row, the same "
        "URLs on both databases. Data: the bundled sample imported and analysed, then copied "
        f"under synthetic platform slugs (the script's docstring; {SAMPLE_PATH.name}):",
        "",
        *(f"- {n}" for n in notes),
        "",
        *lines,
        "",
        "The slowest SQL statement of each route (the highest median time over the route's "
        "requests, in-process run) and its plan, run again with the parameters of its slowest "
        "request:",
    ]
    for d in databases:
        for name, (_, _, took, statement, plan) in plans[d].items():
            out += [
                "",
                f"{d}, {name}: {took:.1f} ms (median, as the client saw it)",
                "",
                f"    {short_sql(statement)}",
                "",
                *(f"    {line}" for line in plan.splitlines()),
            ]
    return "\n".join(out)


if __name__ == "__main__":
    main()
