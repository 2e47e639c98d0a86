"""A capture cycle of N unchanged documents against the loopback server.

    .venv/bin/python bench/capture_cycle.py [--documents 10000] [--hosts 50] [--write-docs]
        [--in-process-server] [--profile FILE]

The first cycle records first versions; the second, timed, finds every document unchanged
(verification events). Each document is its own URL on one of ``--hosts`` loopback listeners
(a "host" each, so per-host politeness applies as in production, with no delay).

The loopback server runs in a child process by default, so that the figure measures clausewatch
rather than the server's threads competing for this process's GIL; ``--in-process-server``
runs it in threads here instead (how the figure was measured up to issue #13). ``--profile FILE``
writes a cProfile of the second cycle, in CPU time (read it with ``python -m pstats FILE``).
"CPU ms per document" is this process's CPU time (the fetcher, extraction, the database writes;
not the server's when it runs in a child): unlike the wall time it hardly moves with the load of
a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path

from _common import ROOT, write_section

sys.path.insert(0, str(ROOT / "tests"))
from loopback import LoopbackServer, Response, policy_page

from clausewatch.archive.cycle import CaptureCycle
from clausewatch.archive.service import Archive
from clausewatch.capture.http import HttpFetcher
from clausewatch.config import Settings
from clausewatch.registry.models import (
    DocumentDeclaration,
    PlatformDeclaration,
    SourceDeclaration,
)


def _serve(page: str, hosts: int) -> Iterator[list[str]]:
    with LoopbackServer() as server:
        server.route_prefix("/bench/", lambda _r: Response(body=page))
        yield [server.base_url] + [server.add_listener() for _ in range(hosts - 1)]


def _child(page: str, hosts: int, conn: Connection) -> None:
    for bases in _serve(page, hosts):
        conn.send(bases)
        conn.recv()  # until the parent says stop (or goes away)


@contextmanager
def serving(page: str, hosts: int, *, in_process: bool) -> Iterator[list[str]]:
    """The base URLs of ``hosts`` loopback listeners serving ``page`` under /bench/."""
    if in_process:
        yield from _serve(page, hosts)
        return
    parent, child = multiprocessing.get_context("fork").Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=_child, args=(page, hosts, child), daemon=True
    )
    process.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        process.join(timeout=10)
        if process.is_alive():
            process.kill()


def declare(bases: list[str], n: int) -> list[PlatformDeclaration]:
    per_platform = 100
    platforms = []
    for p in range(0, n, per_platform):
        docs = tuple(
            DocumentDeclaration(
                type=f"Policy {i}",
                sources=(SourceDeclaration(url=f"{bases[i % len(bases)]}/bench/{i}"),),
            )
            for i in range(p, min(n, p + per_platform))
        )
        platforms.append(
            PlatformDeclaration(
                slug=f"bench-{p}",
                name=f"Bench {p}",
                category="developer-tools",
                website="http://127.0.0.1",
                documents=docs,
            )
        )
    return platforms


async def cycle(
    archive: Archive, concurrency: int, profile: Path | None = None
) -> tuple[float, float, dict[str, int]]:
    """Wall seconds, CPU seconds of this process (less sensitive to other load), outcomes."""
    fetcher = HttpFetcher(per_host_delay=0, concurrency=concurrency, retries=0)
    # CPU time, not wall time: on a shared machine the wall clock also counts other work
    profiler = cProfile.Profile(time.process_time) if profile else None
    try:
        documents = archive.documents()
        start, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        report = await CaptureCycle(archive, fetcher.fetch, confirm_delay=0).run(documents)
        if profiler:
            profiler.disable()
        return time.perf_counter() - start, time.process_time() - cpu, report.summary()
    finally:
        await fetcher.aclose()
        if profiler and profile:
            profiler.dump_stats(profile)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="cProfile the second (unchanged) cycle into FILE (pstats format; slows it down)",
    )
    parser.add_argument(
        "--in-process-server",
        action="store_true",
        help="serve from threads of this process (shares the GIL with the fetcher)",
    )
    args = parser.parse_args()
    page = policy_page("Terms of Service")
    with (
        serving(page, args.hosts, in_process=args.in_process_server) as bases,
        tempfile.TemporaryDirectory() as tmp,
    ):
        archive = Archive.open(Settings(data_dir=Path(tmp)))
        archive.sync_registry(declare(bases, args.documents))
        first_s, first_cpu, first = asyncio.run(cycle(archive, args.concurrency))
        second_s, second_cpu, second = asyncio.run(cycle(archive, args.concurrency, args.profile))
        archive.close()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    n = args.documents
    server = "threads of the same process" if args.in_process_server else "a child process"
    flag = " --in-process-server" if args.in_process_server else ""
    body = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} "
            f"({platform.python_version()}), SQLite, {n:,} documents on {args.hosts} loopback "
            f"hosts (served by {server}), concurrency {args.concurrency}, page of "
            f"{len(page.encode()):,} bytes, load average {load} at the end, "
            f"`.venv/bin/python bench/capture_cycle.py{flag}`:",
            "",
            "| cycle | wall time | documents/s | CPU ms per document | outcomes |",
            "|---|---|---|---|---|",
            f"| first (new documents) | {first_s:.1f} s | {n / first_s:.0f} "
            f"| {1000 * first_cpu / n:.2f} | `{first}` |",
            f"| second (all unchanged) | {second_s:.1f} s | {n / second_s:.0f} "
            f"| {1000 * second_cpu / n:.2f} | `{second}` |",
        ]
    )
    print(body)
    if args.write_docs:
        write_section("capture-cycle", body)


if __name__ == "__main__":
    main()
