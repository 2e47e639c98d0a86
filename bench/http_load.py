"""HTTP load on `clausewatch serve` over ~100,000 provisions, with wrk (issue #13).

    nice -n 10 .venv/bin/python bench/http_load.py [--provisions 100000] [--duration 10]
        [--workers 1] [--data DIR] [--keep DIR] [--database-url URL] [--pythonpath SRC]
        [--only ROW ...] [--cache cold|warm ...] [--label TEXT] [--write-docs]
        [--checks-per-second R [--checks-batch B]]

The archive is built as in `bench/web_latency.py` (its docstring: the bundled sample imported and
analysed, then bulk-copied under synthetic platform slugs), on SQLite; `--keep DIR` keeps it
(`DIR/bench.db` + `DIR/base`), `--data DIR` reuses one. `--data DIR --database-url URL` serves
another database holding the same copies instead of `DIR/bench.db`: the PostgreSQL one that
`bench/web_latency.py --keep DIR` keeps (`postgresql+psycopg://postgres@127.0.0.1:5432/
clausewatch_bench_keep`, texts from `DIR/base`). `clausewatch serve` (`--workers N`) runs
on 127.0.0.1 in a subprocess; `wrk` (`/usr/bin/wrk`, Debian package `wrk`) drives it with a
Lua script that walks a list of URLs, at 8 and then 32 connections in flight, `--duration`
seconds per row, and reports requests/s, p50 and p95 (wrk's latency histogram) and the server's
resident memory after the row (VmRSS, all its processes summed, and the largest).

Rows: a static file served by the same stack (the baseline), the provision page, the provision
API, the list API (50 a page, random offsets), the home page, the search page and the search API
(two-word queries of 47 words; each search row first asks one one-word search, not among its
URLs, so that the process's one-time costs, the template and route lookups, are not counted as a
cold search). Cache-cold: every URL of the row is different (8,000 random provisions and offsets,
2,000 queries), none asked for before, so each request renders; a cold row that asked more
requests than it has URLs (the list starts again, and a repeat may be answered from the
response cache) is marked "wrapped" in its errors column. Warm: 200 URLs of the row, each
asked for once before the run (with `--workers N`, by 6 × N connections at once, so that every
process has answered it: each keeps its own response cache). `--pythonpath SRC` runs the
server with another source tree first on PYTHONPATH (the "before" measurement of an older
checkout).

`--checks-per-second R` runs a capture cycle's writes beside every row: a process (with the
server's source tree) records R verified checks a second, `--checks-batch` per transaction (as
`BatchRecorder` writes them), of the archive's documents in turn, each the real
`Archive.record_checks` of a fetch that found the current text. It shows what the cached pages
and per-state figures survive while the archive watches unchanged documents.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
from _common import write_section
from sqlalchemy import create_engine, func, select
from web_latency import SEARCH_WORDS, build_base, free_port, replicate

from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.storage.models import Base, Provision, ProvisionAnalysis

WRK = shutil.which("wrk") or "/usr/bin/wrk"
WORDS = [
    *SEARCH_WORDS,
    "services",
    "information",
    "personal",
    "dispute",
    "liability",
    "warranty",
    "notice",
    "consent",
    # issue #13: enough words for 2,000 different two-word queries (29 words made 812, which
    # a faster server asked again within a row: answered from the response cache, not cold)
    "use",
    "service",
    "policy",
    "legal",
    "provide",
    "agreement",
    "users",
    "platform",
    "access",
    "community",
    "contact",
    "device",
    "request",
    "email",
    "claims",
    "partners",
    "termination",
    "jurisdiction",
]  # and a few more
LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%d\\n", summary.requests,
    summary.duration, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.timeout))
end
"""


def build(folder: Path, provisions: int) -> Settings:
    base = build_base(folder / "base")
    with base.sessions() as session:
        per_copy = session.scalar(select(func.count()).select_from(Provision)) or 1
    settings = Settings(
        data_dir=folder / "target",
        database_url=f"sqlite:///{folder}/bench.db",
        snapshot_store=base.settings.resolved_snapshot_store,
    )
    target = Archive.open(settings)
    with target.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    took = replicate(base.engine, target.engine, -(-provisions // per_copy))
    print(f"copied in {took:.0f} s")
    target.close()
    base.close()
    return settings


# URLs of a cold row: more than a row asks for at the rates measured (2,000 were used up within
# 6 s by `serve --workers 2` at 470 requests/s, and the rest of the row was partly warm)
COLD_URLS = 8000


def url_sets(database_url: str, seed: int = 11) -> dict[str, list[str]]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        current = list(
            conn.scalars(select(ProvisionAnalysis.provision_id).where(ProvisionAnalysis.current))
        )
    engine.dispose()
    rng = random.Random(seed)
    ids = [f"P-{pid:06d}" for pid in rng.sample(current, min(COLD_URLS, len(current)))]
    pairs = [f"{a}+{b}" for a in WORDS for b in WORDS if a != b]
    rng.shuffle(pairs)
    return {
        "static file (baseline)": ["/static/style.css"],
        "provision page": [f"/provisions/{i}" for i in ids],
        "provision API": [f"/api/v1/provisions/{i}" for i in reversed(ids)],
        "list API (50 a page)": [
            f"/api/v1/provisions?limit=50&offset={o}"
            for o in rng.sample(range(max(1, len(current) - 50)), COLD_URLS)
        ],
        "home page": ["/"],
        "search page": [f"/search?q={q}" for q in pairs[:2000]],
        "search API": [f"/api/v1/search?q={q}" for q in reversed(pairs[:2000])],
    }


# Asked once on each fresh server before a search row (a one-word query: never one of the
# row's URLs): the search page's template, route lookups and first statements are made once
# per process, and a row's first requests, in flight together, otherwise all paid for them.
PRIME = {"search page": "/search?q=privacy", "search API": "/api/v1/search?q=privacy"}


@contextlib.contextmanager
def server(settings: Settings, workers: int, pythonpath: str | None) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = _server_env(settings, pythonpath)
    command = [sys.executable, "-m", "clausewatch", "serve", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            with contextlib.suppress(httpx2.TransportError):
                if httpx2.get(f"{base}/static/style.css", timeout=5).status_code == 200:
                    break
            time.sleep(0.1)
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(30)


def _server_env(settings: Settings, pythonpath: str | None) -> dict[str, str]:
    env = os.environ | {
        "CLAUSEWATCH_DATA_DIR": str(settings.data_dir),
        "CLAUSEWATCH_DATABASE_URL": settings.resolved_database_url,
        "CLAUSEWATCH_SNAPSHOT_STORE": settings.resolved_snapshot_store,
    }
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    return env


def prime(base: str, paths: list[str], workers: int) -> None:
    """Ask ``paths`` before a row: a server process computes its per-state figures on its first
    requests. With several processes the kernel hands each new connection to one of them, so
    each path is asked by 6 connections per process at once: every process gets some (a row
    that timed a process's start-up instead was the trouble with `--workers 2` before)."""
    at_once = 1 if workers == 1 else 6 * workers
    with ThreadPoolExecutor(at_once) as pool:
        for path in paths:
            list(pool.map(lambda url: httpx2.get(url, timeout=600), [base + path] * at_once))


@contextlib.contextmanager
def checks_running(
    settings: Settings, rate: float, batch: int, pythonpath: str | None
) -> Iterator[None]:
    """A process recording ``rate`` verified checks a second while the block runs."""
    if rate <= 0:
        yield
        return
    env = _server_env(settings, pythonpath)
    command = [sys.executable, __file__, "--write-checks", str(rate), "--checks-batch", str(batch)]
    process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, text=True)
    try:
        yield
    finally:
        assert process.stdin is not None
        process.stdin.close()  # the writer stops when its stdin closes
        process.wait(60)


def write_checks(rate: float, batch: int) -> None:
    """Record verified checks of the archive's documents (``CLAUSEWATCH_*`` settings) until
    stdin closes: the writes of a capture cycle that finds every document unchanged."""
    import datetime as dt
    import threading

    from clausewatch.archive.service import CheckInput, SourceCapture
    from clausewatch.storage.models import Document, Version

    archive = Archive.open(Settings())
    with archive.sessions() as session:
        current = session.execute(
            select(Document.id, Document.declaration, Version.text_sha256).join(
                Version, Version.id == Document.current_version_id
            )
        ).all()
    sources = []
    for document_id, declaration, text_sha in current:
        urls = [s["url"] for s in declaration.get("sources", [])]
        snapshots = [archive.last_snapshot(document_id, url) for url in urls]
        sources.append((document_id, text_sha, list(zip(urls, snapshots, strict=True))))
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    done, outcomes, start, i = 0, {}, time.monotonic(), 0
    while not stop.is_set():
        checks = []
        for _ in range(batch):
            document_id, text_sha, pairs = sources[i % len(sources)]
            i += 1
            now = dt.datetime.now(dt.UTC)
            captures = [
                SourceCapture(url=u, final_url=u, fetcher="http", started_at=now,
                              status_code=200, snapshot_sha256=snap)
                for u, snap in pairs
            ]  # fmt: skip
            checks.append(CheckInput(document_id, captures, now, text_sha256=text_sha))
        for record in archive.record_checks(checks):
            outcomes[record.outcome.value] = outcomes.get(record.outcome.value, 0) + 1
        done += len(checks)
        stop.wait(max(0.0, start + done / rate - time.monotonic()))
    print(f"checks written: {done} in {time.monotonic() - start:.1f} s, {outcomes}", flush=True)
    archive.close()


def rss_mb(pid: int) -> tuple[float, float]:
    """(sum, largest) VmRSS in MB of the process and its children."""
    pids = [pid, *_children(pid)]
    sizes = []
    for p in pids:
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{p}/status").read_text()
            kb = re.search(r"VmRSS:\s+(\d+)", status)
            if kb and b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes():
                sizes.append(int(kb.group(1)) / 1024)
    return sum(sizes), max(sizes, default=0.0)


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def wrk(base: str, paths: list[str], connections: int, duration: int, tmp: Path) -> tuple:
    listing = tmp / "paths.txt"
    listing.write_text("\n".join(paths) + "\n")
    script = tmp / "paths.lua"
    script.write_text(LUA % listing)
    out = subprocess.run(
        [
            WRK,
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, micros, p50, p95, errors = line.split()[1:]
    return int(requests) / (int(micros) / 1e6), float(p50), float(p95), int(errors)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--provisions", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--data", type=Path, help="reuse DIR (bench.db + base) from --keep")
    parser.add_argument("--keep", type=Path, help="build the archive into DIR and keep it")
    parser.add_argument("--pythonpath", help="source tree to run the server from")
    parser.add_argument(
        "--database-url", help="with --data: serve this database (e.g. PostgreSQL) instead"
    )
    parser.add_argument("--label", default="")
    parser.add_argument("--only", nargs="*", help="row names to run (default: all)")
    parser.add_argument(
        "--cache", nargs="*", default=["cold", "warm"], help="cold and/or warm (default: both)"
    )
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--checks-per-second", type=float, default=0.0)
    parser.add_argument("--checks-batch", type=int, default=4)
    parser.add_argument("--write-checks", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_checks:
        write_checks(args.write_checks, args.checks_batch)
        return
    if args.database_url and not args.data:
        parser.error("--database-url needs --data DIR (the texts of the copies it holds)")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        folder = args.data or args.keep or tmp / "data"
        if args.data:
            base_store = f"file://{folder}/base/snapshots"
            settings = Settings(
                data_dir=folder / "target",
                database_url=args.database_url or f"sqlite:///{folder}/bench.db",
                snapshot_store=base_store,
            )
        else:
            settings = build(folder, args.provisions)
        urls = url_sets(settings.resolved_database_url)
        engine = create_engine(settings.resolved_database_url)
        database = "PostgreSQL" if engine.dialect.name == "postgresql" else "SQLite"
        with engine.connect() as conn:
            provisions = conn.scalar(select(func.count()).select_from(Provision))
            current = conn.scalar(
                select(func.count()).select_from(ProvisionAnalysis).where(ProvisionAnalysis.current)
            )
        engine.dispose()
        rows: list[str] = []
        load = os.getloadavg()
        for name, paths in urls.items():
            if args.only and name not in args.only:
                continue
            for mode in ("cold", "warm"):
                if mode not in args.cache:
                    continue
                if mode == "cold" and len(paths) == 1:
                    continue  # one URL (static file, home page): only its first is cold
                for connections in (8, 32):
                    # a fresh server per cold row: nothing rendered before
                    with server(settings, args.workers, args.pythonpath) as (base, pid):
                        primes = ["/api/v1/clause-types"]  # prevalence
                        primes += [PRIME[name]] if name in PRIME else []
                        prime(base, primes, args.workers)
                        chosen = paths
                        if mode == "warm":
                            chosen = paths[:200]
                            if args.workers == 1:
                                for path in chosen:
                                    httpx2.get(base + path, timeout=600)
                            else:  # each process has its own response cache: warm them all
                                prime(base, chosen, args.workers)
                        with checks_running(
                            settings, args.checks_per_second, args.checks_batch, args.pythonpath
                        ):
                            rps, p50, p95, errors = wrk(
                                base, chosen, connections, args.duration, tmp
                            )
                        total, largest = rss_mb(pid)
                    wrapped = mode == "cold" and rps * args.duration > len(chosen)
                    shown = mode
                    if args.checks_per_second:
                        shown += f", {args.checks_per_second:g} checks/s"
                    rows.append(
                        f"| {args.label} | {name} | {shown} | {connections} | {rps:.1f} | "
                        f"{p50:.1f} | {p95:.1f} | {errors}{' (wrapped)' if wrapped else ''} | "
                        f"{total:.0f} / {largest:.0f} |"
                    )
                    print(rows[-1], flush=True)
    body = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()} "
            f"({platform.python_version()}, {os.cpu_count()} cores shared with other work, load "
            f"average {load[0]:.1f} / {load[1]:.1f} at the start), {database}, {provisions:,} "
            f"provisions ({current:,} current), `clausewatch serve"
            f"{f' --workers {args.workers}' if args.workers > 1 else ''}`, wrk with "
            f"{args.duration} s per row (`bench/http_load.py`):",
            "",
            "| code | request | cache | in flight | requests/s | p50 ms | p95 ms | errors "
            "| server RSS MB (all / largest) |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(body)
    if args.write_docs:
        write_section("http-load", body)


if __name__ == "__main__":
    main()
