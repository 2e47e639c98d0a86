"""Join the sample (gold/batches/*.jsonl) with its labels (gold/labels/*.jsonl) into
gold/provisions.jsonl, checking every label against docs/annotation.md's rules, and add each
provision's segment context (``sample.contexts``: a list item's lead-in, a table row's header).

The second consistency pass (gold/review.md) lives in gold/labels/review.jsonl: each of its labels
replaces the first-pass label with the same id (checked the same way); the first-pass files are
left as they were labelled.

    .venv/bin/python gold/merge.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sample import contexts  # gold/ is on the path when run as gold/merge.py

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


def load_review(ids: set[str]) -> dict[str, dict]:
    """The second-pass corrections, by id (gold/labels/review.jsonl; absent = none)."""
    path = HERE / "labels" / "review.jsonl"
    review: dict[str, dict] = {}
    if path.exists():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            label = json.loads(line)
            check(label, ids, f"{path}:{n}")
            if label["id"] in review:
                raise SystemExit(f"{path}:{n}: duplicate id {label['id']}")
            review[label["id"]] = label
    return review


def batch_files(folder: str = "batches") -> list[Path]:
    """The batch files of ``gold/<folder>`` (``batches`` or ``labels``): batch-1… in number
    order, then the targeted ones."""
    here = HERE / folder
    return [*sorted(here.glob("batch-*.jsonl"), key=lambda p: int(p.stem.removeprefix("batch-"))),
            *sorted(here.glob("targeted*.jsonl"))]  # fmt: skip


def main() -> None:
    ids = set(default_taxonomy().ids)
    review = load_review(ids)
    context = contexts()
    overridden: set[str] = set()
    rows = []
    for batch in batch_files():
        sample = "targeted" if batch.stem.startswith("targeted") else "random"
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
                if row["id"] in review:
                    label = review[row["id"]]
                    overridden.add(row["id"])
                rows.append({**row, "context": context.get(row["id"]), "sample": sample,
                    **{k: label[k] for k in
                       ("main", "other", "severity", "negated", "unsure", "note")}})  # fmt: skip
    unknown = sorted(set(review) - overridden)
    if unknown:
        raise SystemExit(f"review.jsonl: ids without a first-pass label: {', '.join(unknown)}")
    with (HERE / "provisions.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} labelled provisions", file=sys.stderr)
    print(f"{len(overridden)} labels overridden by labels/review.jsonl", file=sys.stderr)


if __name__ == "__main__":
    main()
