"""Provisions and change records over the real history of two documents, through the product's
own pipeline (import → normalise → version → segment → align → change records).

    .venv/bin/python bench/provision_history.py [--write-docs]

For `Facebook / Privacy Policy` and `LinkedIn / Privacy Policy` in the Platform Governance Archive
export: import time, segment + align time, provisions per version, and what OTA's recorded
changes became (collapsed by normalisation, flip-flops, non-substantive or substantive at clause
level).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import ROOT, SHARED_DATA, write_section
from sqlalchemy import select

from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.importers.ota import import_history, read_jsonl
from clausewatch.provisions.service import build
from clausewatch.storage.models import ChangeRecord, VersionLayout

JSONL = SHARED_DATA / "ota" / "pga-versions.jsonl.xz"
DOCUMENTS = [("Facebook", "Privacy Policy"), ("LinkedIn", "Privacy Policy")]


def measure(service: str, terms_type: str) -> str:
    records = [r for r in read_jsonl(JSONL) if (r.service, r.terms_type) == (service, terms_type)]
    recorded_changes = sum(r.kind == "change" for r in records)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Archive.open(Settings(data_dir=Path(tmp)))
        start = time.perf_counter()
        imported = import_history(archive, iter(records))
        import_s = time.perf_counter() - start
        start = time.perf_counter()
        built = build(archive)
        build_s = time.perf_counter() - start
        with archive.sessions() as session:
            sizes = [len(s) for s in session.scalars(select(VersionLayout.segments))]
            statuses = Counter(session.scalars(select(ChangeRecord.status)))
        archive.close()
    substantive = statuses.get("substantive", 0)
    return (
        f"| {service} / {terms_type} | {len(records)} ({recorded_changes} changes) "
        f"| {import_s:.1f} s | {built.versions} | {build_s:.1f} s "
        f"({1000 * build_s / max(built.versions, 1):.0f} ms/version) "
        f"| {min(sizes)} / {statistics.median(sizes):.0f} / {max(sizes)} "
        f"| `{json.dumps(imported.outcomes, sort_keys=True)}` "
        f"| `{json.dumps(dict(statuses), sort_keys=True)}` "
        f"| {substantive} of {recorded_changes} ({substantive / recorded_changes:.1%}) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    rows = [measure(*doc) for doc in DOCUMENTS]
    body = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} "
            f"({platform.python_version()}), SQLite, "
            "`.venv/bin/python bench/provision_history.py`:",
            "",
            "| document | OTA records | import | versions kept | segment + align + change "
            "records | provisions per version (min / median / max) | what the records became "
            "| change records | OTA changes substantive at clause level |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(body)
    if args.write_docs:
        write_section("history", body, ROOT / "docs" / "provisions.md")


if __name__ == "__main__":
    main()
