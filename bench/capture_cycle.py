"""A capture cycle of N unchanged documents against the loopback server.

    .venv/bin/python bench/capture_cycle.py [--documents 10000] [--hosts 50] [--write-docs]

The first cycle records first versions; the second, timed, finds every document unchanged
(verification events). Each document is its own URL on one of ``--hosts`` loopback listeners
(a "host" each, so per-host politeness applies as in production, with no delay).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
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


def declare(server: LoopbackServer, bases: list[str], n: int) -> list[PlatformDeclaration]:
    per_platform = 100
    platforms = []
    for p in range(0, n, per_platform):
        docs = tuple(
            DocumentDeclaration(
                type=f"Policy {i}",
                sources=(SourceDeclaration(url=server.url(f"/bench/{i}", bases[i % len(bases)])),),
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


async def cycle(archive: Archive, concurrency: int) -> tuple[float, dict[str, int]]:
    fetcher = HttpFetcher(per_host_delay=0, concurrency=concurrency, retries=0)
    try:
        documents = archive.documents()
        start = time.perf_counter()
        report = await CaptureCycle(archive, fetcher.fetch, confirm_delay=0).run(documents)
        return time.perf_counter() - start, report.summary()
    finally:
        await fetcher.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    page = policy_page("Terms of Service")
    with LoopbackServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.route_prefix("/bench/", lambda _r: Response(body=page))
        bases = [server.base_url] + [server.add_listener() for _ in range(args.hosts - 1)]
        archive = Archive.open(Settings(data_dir=Path(tmp)))
        archive.sync_registry(declare(server, bases, args.documents))
        first_s, first = asyncio.run(cycle(archive, args.concurrency))
        second_s, second = asyncio.run(cycle(archive, args.concurrency))
        archive.close()
    n = args.documents
    body = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} "
            f"({platform.python_version()}), SQLite, {n:,} documents on {args.hosts} loopback "
            f"hosts, concurrency {args.concurrency}, page of {len(page.encode()):,} bytes, "
            "`.venv/bin/python bench/capture_cycle.py`:",
            "",
            "| cycle | wall time | documents/s | outcomes |",
            "|---|---|---|---|",
            f"| first (new documents) | {first_s:.1f} s | {n / first_s:.0f} | `{first}` |",
            f"| second (all unchanged) | {second_s:.1f} s | {n / second_s:.0f} | `{second}` |",
        ]
    )
    print(body)
    if args.write_docs:
        write_section("capture-cycle", body)


if __name__ == "__main__":
    main()
