"""Other routes' latency under a burst of PDF exports (issue #14).

    nice -n 10 .venv/bin/python bench/pdf_load.py [--data DIR] [--keep DIR] [--pdfs 100]
        [--duration 20] [--write-docs]

The archive is the bundled sample (`clausewatch import src/clausewatch/data/pga-sample.jsonl.xz`
then `clausewatch analyse`), built into a temporary folder (`--keep DIR` keeps it, `--data DIR`
reuses one). `clausewatch serve` runs on 127.0.0.1 in a subprocess, as in `bench/http_load.py`.

Two phases of `--duration` seconds each, on the same server:

1. quiet: the other routes alone (baseline);
2. under PDF load: `--pdfs` anonymous clients each ask at once for a different PDF, the change
   records' first (`/changes/C-….pdf`; the sample has 46), then the documents' and the
   provisions' (all distinct, so the PDF cache cannot answer them), and, while that lasts, the
   same routes are measured again; a client whose PDF was answered asks for the next unrendered
   one straight away, and after a 429 once its `Retry-After` has passed (`--hostile`: at once).

The other routes are `/api/v1/stats`, provision pages and the provision API (the provision URLs
all different, so each one renders), each driven by 2 clients asking one URL after another, all
three routes at once, from a separate process with its own event loop (httpx; wrk is not
installed everywhere). Reported: p50/p95 and requests/s per route, and how the PDF
requests were answered (200, 429 with and without `Retry-After`, other), with their p50/p95.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
from _common import ROOT, write_section
from http_load import server as serve_archive
from sqlalchemy import create_engine, select

from clausewatch.config import Settings
from clausewatch.ids import format_id
from clausewatch.storage.models import ChangeRecord, Document, ProvisionAnalysis

SAMPLE = ROOT / "src" / "clausewatch" / "data" / "pga-sample.jsonl.xz"
SECURITY_DOC = ROOT / "docs" / "security.md"


def build(folder: Path) -> None:
    cli = [sys.executable, "-m", "clausewatch"]
    subprocess.run([*cli, "import", str(SAMPLE), "--data-dir", str(folder)], check=True)
    subprocess.run([*cli, "analyse", "--data-dir", str(folder)], check=True)


@contextlib.contextmanager
def server(folder: Path) -> Iterator[str]:
    """`clausewatch serve` on ``folder``, as bench/http_load.py starts it."""
    with serve_archive(Settings(data_dir=folder), 1, None) as (base, _pid):
        yield base


def ids(folder: Path) -> tuple[list[str], list[str], list[str]]:
    engine = create_engine(f"sqlite:///{folder / 'clausewatch.db'}")
    with engine.connect() as conn:
        changes = [format_id("C", i) for i in conn.scalars(select(ChangeRecord.id))]
        documents = [format_id("D", i) for i in conn.scalars(select(Document.id))]
        provisions = [
            format_id("P", i)
            for i in conn.scalars(
                select(ProvisionAnalysis.provision_id).where(ProvisionAnalysis.current)
            )
        ]
    engine.dispose()
    return changes, documents, provisions


def start_measure(base: str, routes: dict[str, list[str]], duration: int, tmp: Path) -> Any:
    """This script in another process (`--measure`), so that the PDF clients' event loop does
    not delay the measuring one."""
    listing = tmp / f"routes-{time.monotonic_ns()}.json"
    listing.write_text(json.dumps(routes))
    command = [sys.executable, __file__, "--measure", str(listing), "--duration", str(duration)]
    command += ["--base", base]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def measure_result(process: Any) -> dict[str, tuple[float, float, float, int]]:
    out, _ = process.communicate()
    if process.returncode:
        raise RuntimeError(f"measuring failed: {out}")
    return {name: tuple(row) for name, row in json.loads(out.splitlines()[-1]).items()}


async def measure(
    base: str, routes: dict[str, list[str]], duration: float, connections: int = 2
) -> dict[str, tuple[float, float, float, int]]:
    """Each route: ``connections`` clients asking one URL after the other (its list in turn)
    for ``duration`` seconds; (requests/s, p50 ms, p95 ms, answers other than 200)."""
    latencies: dict[str, list[float]] = {name: [] for name in routes}
    errors: Counter[str] = Counter()
    end = time.monotonic() + duration
    async with httpx2.AsyncClient(base_url=base, timeout=60) as client:

        async def loop(name: str, paths: list[str], offset: int) -> None:
            i = offset
            while time.monotonic() < end:
                path = paths[i % len(paths)]
                i += connections
                started = time.monotonic()
                try:
                    response = await client.get(path)
                    ok = response.status_code == 200
                except httpx2.HTTPError:
                    ok = False
                latencies[name].append(time.monotonic() - started)
                errors[name] += not ok

        await asyncio.gather(
            *(loop(name, paths, k) for name, paths in routes.items() for k in range(connections))
        )
    return {
        name: (len(values) / duration, pct(values, 0.5), pct(values, 0.95), errors[name])
        for name, values in latencies.items()
    }


def measure_routes(
    base: str, routes: dict[str, list[str]], duration: int, tmp: Path
) -> dict[str, tuple[float, float, float, int]]:
    return measure_result(start_measure(base, routes, duration, tmp))


async def pdf_burst(
    base: str, pdfs: list[str], clients: int, duration: float, *, hostile: bool = False
) -> tuple[Counter[str], list[float]]:
    """``clients`` at once, each asking for an unrendered PDF, then the next one as soon as it
    has an answer (after a 429, once its `Retry-After` has passed, unless ``hostile``), until
    ``duration`` seconds have passed."""
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    queue = list(pdfs)
    end = time.monotonic() + duration
    limits = httpx2.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    async with httpx2.AsyncClient(base_url=base, timeout=120, limits=limits) as client:

        async def one() -> None:
            while queue and time.monotonic() < end:
                path = queue.pop()
                started = time.monotonic()
                try:
                    response = await client.get(path)
                except httpx2.HTTPError as exc:
                    outcomes[f"error {type(exc).__name__}"] += 1
                    continue
                latencies.append(time.monotonic() - started)
                if response.status_code == 429:
                    retry = response.headers.get("retry-after")
                    outcomes[f"429 {'with' if retry else 'WITHOUT'} Retry-After"] += 1
                    if retry and not hostile:
                        await asyncio.sleep(min(float(retry), max(0.0, end - time.monotonic())))
                else:
                    outcomes[str(response.status_code)] += 1

        await asyncio.gather(*(one() for _ in range(clients)))
    return outcomes, latencies


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, help="reuse an archive built with --keep")
    parser.add_argument("--keep", type=Path, help="build the archive into DIR and keep it")
    parser.add_argument("--pdfs", type=int, default=100, help="PDF clients at once")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument(
        "--hostile", action="store_true", help="PDF clients ask again at once after a 429"
    )
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:  # the measuring process (start_measure)
        routes = json.loads(args.measure.read_text())
        print(json.dumps(asyncio.run(measure(args.base, routes, float(args.duration)))))
        return
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        folder = args.data or args.keep or tmp / "data"
        if not args.data:
            build(folder)
        changes, documents, provisions = ids(folder)
        rng = random.Random(14)
        rng.shuffle(changes)
        rng.shuffle(provisions)
        # the change records' PDFs first (popped from the end), then the documents', then the
        # provisions': every request of the burst is for a PDF not rendered before
        pdfs = [
            *(f"/provisions/{p}.pdf" for p in provisions),
            *(f"/documents/{d}.pdf" for d in documents),
            *(f"/changes/{c}.pdf" for c in changes),
        ]
        half = len(provisions) // 2
        routes = {
            "/api/v1/stats": ["/api/v1/stats"],
            "provision page": [f"/provisions/{p}" for p in provisions[:half]],
            "provision API": [f"/api/v1/provisions/{p}" for p in provisions[half:]],
        }
        shutil.rmtree(folder / "pdf-cache", ignore_errors=True)  # every PDF unrendered
        load = os.getloadavg()
        with server(folder) as base:
            httpx2.get(f"{base}/api/v1/clause-types", timeout=600)  # warm the process
            quiet = measure_routes(base, routes, args.duration, tmp)
            for name, row in quiet.items():
                print("quiet", name, row, flush=True)
            routes = {name: paths[::-1] for name, paths in routes.items()}  # still unrendered
            measuring = start_measure(base, routes, args.duration, tmp)
            outcomes, latencies = asyncio.run(
                pdf_burst(base, pdfs, args.pdfs, float(args.duration), hostile=args.hostile)
            )
            loaded = measure_result(measuring)
            for name, row in loaded.items():
                print("under PDF load", name, row, flush=True)
        load_after = os.getloadavg()
    retrying = (
        "ignoring `Retry-After`"
        if args.hostile
        else "after a 429 once its `Retry-After` had passed"
    )
    answered = ", ".join(f"{n} {what}" for what, n in sorted(outcomes.items()))
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC on {platform.machine()} "
        f"({platform.python_version()}, {os.cpu_count()} cores shared with other work; load "
        f"average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the start, "
        f"{load_after[0]:.1f} at the end), the bundled sample ({len(changes)} change records, "
        f"{len(provisions)} current provisions), one `clausewatch serve` process with the "
        f"default PDF limits, `nice -n 10 .venv/bin/python bench/pdf_load.py --pdfs {args.pdfs} "
        f"--duration {args.duration}{' --hostile' if args.hostile else ''}`. Each route: 2 "
        f"clients one request after another (httpx), "
        f"{args.duration} s; provision URLs all different (each one renders).",
        "",
        "| route | quiet p50 ms | quiet p95 ms | quiet req/s | under PDF load p50 ms "
        "| under PDF load p95 ms | under PDF load req/s | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in routes:
        q, w = quiet[name], loaded[name]
        lines.append(
            f"| {name} | {q[1]:.1f} | {q[2]:.1f} | {q[0]:.1f} | {w[1]:.1f} | {w[2]:.1f} | "
            f"{w[0]:.1f} | {q[3] + w[3]} |"
        )
    lines += [
        "",
        f"PDF requests ({args.pdfs} anonymous clients at once, each asking for the next "
        f"unrendered PDF as soon as it had an answer, "
        f"{retrying}; the "
        f"{len(changes)} change records' first, then documents' and provisions'): {answered}; "
        f"answer time p50 {pct(latencies, 0.5):.0f} ms, p95 {pct(latencies, 0.95):.0f} ms.",
    ]
    body = "\n".join(lines)
    print(body)
    if args.write_docs:
        write_section("pdf-load-hostile" if args.hostile else "pdf-load", body, SECURITY_DOC)


if __name__ == "__main__":
    main()
