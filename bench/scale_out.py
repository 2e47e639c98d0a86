"""Scale-out: capture cycles on PostgreSQL + Redis with 1, 2 and 4 `clausewatch worker` processes.

    nice -n 10 .venv/bin/python bench/scale_out.py [--documents 20000] [--hosts 200]
        [--workers 1,2,4] [--threads 4] [--per-host-delay 0.1] [--cycles 2] [--timeout 3600]
        [--write-docs [--section scale-out]]

For each worker count: a fresh PostgreSQL database (``clausewatch_scale_<pid>_<n>``, dropped at the
end) as the archive, a Redis database (``--redis-db``, which must be empty; flushed after each
run) as the queue, a one-file-per-object snapshot store in a temporary folder, and ``n`` real
``clausewatch worker --workers <threads>`` processes. The documents are served by the loopback
server of ``tests/loopback.py`` in a separate process (its own GIL), each host one listener
(port) of it. The scheduler's own ``enqueue_due`` enqueues every due document; the cycle ends when
every document's ``last_checked_at`` has moved. The first cycle records first versions; the
second (``--cycles 2``: every document made due again, pages unchanged) only verifies.

Politeness is on (``per_host_delay`` > 0, as in production): workers take turns per host across
processes (docs/jobs.md, "Politeness across workers"), and the server checks afterwards that no
two requests to one host were closer than the delay (end of one to arrival of the next).
``derive`` (provisions, analysis) is held back (its enqueue-once mark is set) so that the figure
is the capture stage alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _common import ROOT, write_section

sys.path.insert(0, str(ROOT / "tests"))
from loopback import LoopbackServer, Request, Response, policy_page

PG_ADMIN = os.environ.get("CLAUSEWATCH_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS = os.environ.get("CLAUSEWATCH_BENCH_REDIS", "redis://127.0.0.1:6379")
DUE_AGAIN = "UPDATE documents SET last_checked_at = last_checked_at - interval '2 days'"


# -- the page server (a separate process) -------------------------------------------------------


def serve(hosts: int) -> None:
    """Serve /bench/<i> and /robots.txt on `hosts` listeners; print their base URLs as one JSON
    line, then answer commands on stdin: `stats` (a JSON line), `reset`, EOF: stop."""
    page = policy_page("Terms of Service")
    lock = threading.Lock()
    log: list[tuple[int, float, float]] = []  # port, arrival, handler done

    def answer(body: str, content_type: str) -> Any:
        def handler(request: Request) -> Response:
            response = Response(body=body, content_type=content_type)
            with lock:
                log.append((request.port, request.received_at, time.monotonic()))
            return response

        return handler

    with LoopbackServer() as server:
        server.route_prefix("/bench/", answer(page, "text/html; charset=utf-8"))
        server.route("/robots.txt", answer("User-agent: *\nAllow: /\n", "text/plain"))
        bases = [server.base_url] + [server.add_listener() for _ in range(hosts - 1)]
        print(json.dumps({"bases": bases, "page_bytes": len(page.encode())}), flush=True)
        for line in sys.stdin:
            command = line.strip()
            with lock:
                entries = list(log)
                if command == "reset":
                    log.clear()
            if command == "stats":
                print(json.dumps(_gaps(entries)), flush=True)


def _gaps(entries: list[tuple[int, float, float]]) -> dict[str, Any]:
    """Requests, and the smallest gap between the end of one request to a host and the arrival of
    the next one to that host (negative: two at once)."""
    by_port: dict[int, list[tuple[float, float]]] = {}
    for port, arrived, done in entries:
        by_port.setdefault(port, []).append((arrived, done))
    smallest = float("inf")
    for times in by_port.values():
        times.sort()
        for (_, done), (arrived, _) in itertools.pairwise(times):
            smallest = min(smallest, arrived - done)
    return {"requests": len(entries), "hosts": len(by_port), "min_gap_s": smallest}


class PageServer:
    def __init__(self, hosts: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(hosts)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        first = json.loads(self._read())
        self.bases: list[str] = first["bases"]
        self.page_bytes: int = first["page_bytes"]

    def _read(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the page server stopped")
        return line

    def command(self, text: str) -> dict[str, Any] | None:
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write(text + "\n")
        stdin.flush()
        return json.loads(self._read()) if text == "stats" else None

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- one run: n worker processes -----------------------------------------------------------------


def declare(bases: list[str], n: int) -> list[Any]:
    """The same declarations as the capture-cycle bench (100 documents a platform)."""
    from capture_cycle import declare as declarations  # imports clausewatch: only when needed

    return declarations(bases, n)


def admin_execute(sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"{PG_ADMIN}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def checked_since(archive: Any, since: dt.datetime) -> int:
    from sqlalchemy import func, select

    from clausewatch.storage.models import Document

    with archive.sessions() as session:
        query = select(func.count()).where(Document.last_checked_at >= since)
        return int(session.scalar(query) or 0)


def outcomes(archive: Any) -> Counter[str]:
    from sqlalchemy import func, select

    from clausewatch.storage.models import Capture

    with archive.sessions() as session:
        rows = session.execute(select(Capture.outcome, func.count()).group_by(Capture.outcome))
        return Counter({outcome: int(count) for outcome, count in rows})


class Workers:
    """`n` real `clausewatch worker` processes, started and ready (their consumer logged)."""

    def __init__(self, n: int, threads: int, env: dict[str, str], logs: Path) -> None:
        self.logs = [logs / f"worker{i}.log" for i in range(n)]
        self.procs = []
        for log in self.logs:
            with log.open("wb") as out:
                command = [sys.executable, "-m", "clausewatch", "worker", "--workers", str(threads)]
                self.procs.append(
                    subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
                )
        deadline = time.monotonic() + 120
        while not all("consumer started" in log.read_text() for log in self.logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"a worker did not start: {self.tail()}")
            time.sleep(0.2)

    def tail(self) -> str:
        return "\n".join(log.read_text()[-2000:] for log in self.logs)

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run(args: argparse.Namespace, server: PageServer, n_workers: int) -> dict[str, Any]:
    import redis
    from sqlalchemy import text

    from clausewatch.archive.service import Archive
    from clausewatch.config import Settings
    from clausewatch.jobs.engine import make_huey
    from clausewatch.jobs.scheduler import enqueue_due
    from clausewatch.jobs.tasks import DERIVE_KEY, tasks_of
    from clausewatch.storage.db import utcnow

    db_name = f"clausewatch_scale_{os.getpid()}_{n_workers}"
    database_url = f"{PG_ADMIN}/{db_name}"
    queue_url = f"{REDIS}/{args.redis_db}"
    queue = redis.Redis.from_url(queue_url)
    if queue.dbsize():
        raise SystemExit(f"{queue_url} is not empty: pick an empty one with --redis-db")
    admin_execute(f'CREATE DATABASE "{db_name}"')
    tmp = Path(tempfile.mkdtemp(prefix="clausewatch-scale-"))
    capture_time = (utcnow() - dt.timedelta(hours=3)).strftime("%H:%M")  # no slot during a run
    values = {
        "data_dir": str(tmp / "data"),
        "database_url": database_url,
        "snapshot_store": f"file://{tmp / 'snapshots'}?layout=files",
        "queue_url": queue_url,
        "per_host_delay": str(args.per_host_delay),
        "confirm_delay": "0",
        "browser_fallback": "false",
        "fetch_retries": "0",
        "capture_time": capture_time,
    }
    env = {
        **os.environ,
        "CLAUSEWATCH_CONFIG": str(tmp / "none.toml"),
        **{f"CLAUSEWATCH_{k.upper()}": v for k, v in values.items()},
    }
    settings = Settings(**values)  # type: ignore[arg-type]
    archive = Archive.open(settings)
    huey = make_huey(settings)
    workers: Workers | None = None
    result: dict[str, Any] = {"workers": n_workers, "cycles": []}
    try:
        archive.sync_registry(declare(server.bases, args.documents))
        workers = Workers(n_workers, args.threads, env, tmp)
        for cycle in range(args.cycles):
            if cycle:  # every document due again; the pages are unchanged
                with archive.sessions() as session, session.begin():
                    session.execute(text(DUE_AGAIN))
            server.command("reset")
            before = outcomes(archive)
            load = os.getloadavg()
            start_at = utcnow()
            start = time.perf_counter()
            huey.put(f"pending.{DERIVE_KEY}", time.time())  # derive held back
            enqueued = len(enqueue_due(archive, huey, start_at))
            done = 0
            while done < args.documents:
                time.sleep(1.0)
                done = checked_since(archive, start_at)
                huey.put(f"pending.{DERIVE_KEY}", time.time())
                if not workers.alive():
                    raise RuntimeError(f"a worker died: {workers.tail()}")
                if time.perf_counter() - start > args.timeout:
                    break
            elapsed = time.perf_counter() - start
            stats = server.command("stats") or {}
            after = outcomes(archive)
            entry = {
                "cycle": "first" if cycle == 0 else "second",
                "enqueued": enqueued,
                "done": done,
                "seconds": elapsed,
                "docs_per_s": done / elapsed,
                "outcomes": dict(after - before),
                "load_before": load,
                "load_after": os.getloadavg(),
                **stats,
            }
            print(json.dumps(entry), flush=True)
            result["cycles"].append(entry)
            if done < args.documents:
                break  # timed out: no second cycle
    finally:
        if workers is not None:
            workers.stop()
        tasks_of(huey).context.close()
        archive.close()
        queue.flushdb()
        queue.close()
        admin_execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return result


# -- the report ----------------------------------------------------------------------------------


def report(args: argparse.Namespace, results: list[dict[str, Any]], page_bytes: int) -> str:
    loads = [c["load_before"][0] for r in results for c in r["cycles"]]
    loads += [c["load_after"][0] for r in results for c in r["cycles"]]
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on x86_64 ({platform.python_version()}), "
        f"{os.cpu_count()} cores, PostgreSQL archive + Redis queue, {args.documents:,} documents "
        f"on {args.hosts} loopback hosts (page of {page_bytes:,} bytes), `clausewatch worker "
        f"--workers {args.threads}` processes, `per_host_delay` {args.per_host_delay} s, "
        f"1-minute load average {min(loads):.1f}–{max(loads):.1f} during the runs "
        "(the run's own processes included), "
        f"`nice -n 10 .venv/bin/python bench/scale_out.py --documents {args.documents} "
        f"--hosts {args.hosts} --workers {args.workers} --threads {args.threads} "
        f"--cycles {args.cycles} --timeout {args.timeout:.0f}`:",
        "",
        "| worker processes | cycle | documents | wall time | documents/s | outcomes "
        "| closest two requests to one host |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for c in r["cycles"]:
            done = f"{c['done']:,}"
            if c["done"] < args.documents:
                done += f" of {args.documents:,} in the {args.timeout:.0f} s time box"

            gap = c.get("min_gap_s", float("nan"))
            lines.append(
                f"| {r['workers']} | {c['cycle']} | {done} | {c['seconds']:.1f} s "
                f"| {c['docs_per_s']:.1f} | `{json.dumps(c['outcomes'], sort_keys=True)}` "
                f"| {gap:.2f} s apart ({c.get('requests', 0):,} requests) |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts, comma-separated")
    parser.add_argument("--threads", type=int, default=4, help="worker threads per process")
    parser.add_argument("--per-host-delay", type=float, default=0.1)
    parser.add_argument("--cycles", type=int, choices=(1, 2), default=2)
    parser.add_argument("--redis-db", type=int, default=13, help="an empty Redis database")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per cycle at most")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument(
        "--section", default="scale-out", help="the docs/benchmarks.md section --write-docs fills"
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    counts = [int(n) for n in args.workers.split(",")]
    server = PageServer(args.hosts)
    try:
        results = [run(args, server, n) for n in counts]
    finally:
        server.close()
    body = report(args, results, server.page_bytes)
    print(body)
    if args.write_docs:
        write_section(args.section, body)


if __name__ == "__main__":
    main()
