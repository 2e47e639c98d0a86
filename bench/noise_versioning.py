"""Versions and change records the pga history becomes, per document, against OTA's own records.

Imports ``../shared/data/ota/pga-versions.jsonl.xz`` into a fresh archive, builds provisions and
counts, per document: OTA's recorded changes, versions kept, and change records by status. Noise
that `extract.normalise.normalise_for_hash` removes never becomes a version; what is left is what a
reader is alerted to. Save one run, change the normaliser, run again and compare::

    .venv/bin/python bench/noise_versioning.py --save before.json
    .venv/bin/python bench/noise_versioning.py --save after.json --compare before.json --write-docs

About 6 minutes a run on 2 cores (import ~2.5 min, provisions ~3.5 min).
"""

from __future__ import annotations

import argparse
import json
import lzma
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from _common import SHARED_DATA, write_section
from sqlalchemy import select

from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.importers.ota import import_history, read_jsonl
from clausewatch.provisions import service as provisions
from clausewatch.storage.models import Capture, ChangeRecord, Version

JSONL = SHARED_DATA / "ota" / "pga-versions.jsonl.xz"
Counts = dict[str, dict[str, int]]


def ota_changes() -> Counter[str]:
    counts: Counter[str] = Counter()
    with lzma.open(JSONL, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["kind"] == "change":
                counts[f"{record['service']} / {record['terms_type']}"] += 1
    return counts


def measure(data_dir: Path) -> Counts:
    archive = Archive.open(Settings(data_dir=data_dir))
    start = time.perf_counter()
    import_history(archive, read_jsonl(JSONL))
    provisions.build(archive)
    print(f"import + provisions: {time.perf_counter() - start:.0f} s")
    counts: Counts = defaultdict(lambda: defaultdict(int))
    with archive.sessions() as session:
        names = {}  # the OTA service / terms type each document was imported from
        for document_id, ref in session.execute(
            select(Capture.document_id, Capture.import_ref).where(Capture.import_ref.is_not(None))
        ):
            names.setdefault(
                document_id, "/".join(ref.split("@")[0].split("/")[1:]).replace("/", " / ")
            )
        for version in session.scalars(select(Version)):
            counts[names[version.document_id]][f"versions {version.status}"] += 1
        for record in session.scalars(select(ChangeRecord)):
            counts[names[record.document_id]][f"records {record.status}"] += 1
    archive.close()
    return {k: dict(v) for k, v in counts.items()}


def table(after: Counts, before: Counts | None, ota: Counter[str], top: int) -> str:
    def row(name: str, c: Counts) -> tuple[int, int]:
        doc = c.get(name, {})
        return doc.get("versions active", 0), doc.get("records substantive", 0)

    head = "| document | OTA changes | versions kept | substantive records |"
    rows = [head, "|---|---:|---:|---:|"]
    shown = sorted(after, key=lambda n: -ota.get(n, 0))[:top]
    totals = {"ota": 0, "v": 0, "s": 0, "v0": 0, "s0": 0}
    for name in sorted(after, key=lambda n: (n not in shown, shown.index(n) if n in shown else 0)):
        v, s = row(name, after)
        v0, s0 = row(name, before) if before else (v, s)
        totals["ota"] += ota.get(name, 0)
        totals["v"], totals["s"], totals["v0"], totals["s0"] = (
            totals["v"] + v, totals["s"] + s, totals["v0"] + v0, totals["s0"] + s0
        )  # fmt: skip
        if name in shown:
            rows.append(f"| {name} | {ota.get(name, 0)} | {_pair(v0, v)} | {_pair(s0, s)} |")
    versions, substantive = _pair(totals["v0"], totals["v"]), _pair(totals["s0"], totals["s"])
    label = f"all {len(after)} documents"
    rows.append(f"| **{label}** | **{totals['ota']}** | **{versions}** | **{substantive}** |")
    return "\n".join(rows)


def _pair(before: int, after: int) -> str:
    return str(after) if before == after else f"{before} → {after}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--save", type=Path, help="write the per-document counts here (JSON)")
    parser.add_argument("--compare", type=Path, help="counts of an earlier run (JSON)")
    parser.add_argument("--load", type=Path, help="use saved counts instead of importing")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    if args.load:
        counts = json.loads(args.load.read_text())
    else:
        with tempfile.TemporaryDirectory() as tmp:
            counts = measure(Path(tmp))
    if args.save:
        args.save.write_text(json.dumps(counts, indent=1, sort_keys=True))
    before = json.loads(args.compare.read_text()) if args.compare else None
    text = table(counts, before, ota_changes(), args.top)
    print(text)
    if args.write_docs:
        write_section(
            "noise-versioning", text + "\n\n(before → after; `bench/noise_versioning.py`)"
        )


if __name__ == "__main__":
    main()
