"""Join the sample (gold/batches/*.jsonl) with its labels (gold/labels/*.jsonl) into
gold/provisions.jsonl, checking every label against docs/annotation.md's rules.

    .venv/bin/python gold/merge.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from clausewatch.classify.taxonomy import default_taxonomy

HERE = Path(__file__).parent
SEVERITIES = {"High", "Medium", "Low"}


def check(label: dict, ids: set[str], where: str) -> None:
    main, sev = label["main"], label["severity"]
    problems = []
    if main is not None and main not in ids:
        problems.append(f"unknown main {main!r}")
    if any(t not in ids for t in label["other"]) or main in label["other"]:
        problems.append(f"bad other {label['other']!r}")
    if (sev is None) != (main in (None, "boilerplate")) or (sev and sev not in SEVERITIES):
        problems.append(f"severity {sev!r} with main {main!r}")
    if label["negated"] and sev != "Low":
        problems.append("negated but not Low")
    if problems:
        raise SystemExit(f"{where}: {'; '.join(problems)}")


def main() -> None:
    ids = set(default_taxonomy().ids)
    rows = []
    batches = [*sorted((HERE / "batches").glob("batch-*.jsonl")), HERE / "batches/targeted.jsonl"]
    for batch in batches:
        sample = "targeted" if batch.stem == "targeted" else "random"
        labels_path = HERE / "labels" / batch.name
        labels = {}
        if labels_path.exists():
            for n, line in enumerate(labels_path.read_text(encoding="utf-8").splitlines(), 1):
                label = json.loads(line)
                check(label, ids, f"{labels_path}:{n}")
                labels[label["id"]] = label
        for line in batch.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["id"] in labels:
                label = labels[row["id"]]
                rows.append({**row, "sample": sample, **{k: label[k] for k in
                    ("main", "other", "severity", "negated", "unsure", "note")}})  # fmt: skip
    with (HERE / "provisions.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} labelled provisions", file=sys.stderr)


if __name__ == "__main__":
    main()
