"""Transfer evaluation on OPP-115 (privacy-policy segments, CC BY-NC: evaluation only).

The shipped model never sees OPP-115. Each test-split segment is classified; the predicted
clause types are mapped to OPP-115 categories through the taxonomy's ``datasets.opp115``
mapping and compared with the segment's gold categories (the Majority split; a segment may
have several). Nothing is tuned: this measures how the CLAUDETTE + ToS;DR model carries over to
privacy policies for the categories the taxonomy maps.

Run: ``python -m clausewatch.classify.transfer [--json out.json]``.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from typing import Any

import numpy as np

from clausewatch.classify.data import data_root
from clausewatch.classify.evaluate import prf
from clausewatch.classify.model import ClauseClassifier, default_classifier


def load_opp115(split: str = "test") -> dict[str, set[str]]:
    """Segment text -> gold categories (Majority annotation)."""
    path = data_root() / "opp115" / "Majority" / f"{split}_dataset.csv"
    segments: dict[str, set[str]] = defaultdict(set)
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh):
            if len(row) >= 2 and row[0].strip():
                segments[row[0]].add(row[-1].strip())
    return dict(segments)


def opp115_transfer(clf: ClauseClassifier | None = None, split: str = "test") -> dict[str, Any]:
    clf = clf or default_classifier()
    mapping: dict[str, list[str]] = defaultdict(list)  # category -> clause types
    for ctype in clf.taxonomy.types:
        for category in ctype.opp115:
            mapping[category].append(ctype.id)
    segments = load_opp115(split)
    texts = list(segments)
    predictions = clf.classify_many(texts)
    categories = sorted(mapping)
    gold = np.array([[c in segments[t] for c in categories] for t in texts])
    pred = np.array(
        [[any(p.type_id in mapping[c] for p in preds) for c in categories] for preds in predictions]
    )
    per = {c: prf(gold[:, j], pred[:, j]) for j, c in enumerate(categories)}
    return {
        "split": split,
        "segments": len(texts),
        "macro_f1_mapped": float(np.mean([v[2] for v in per.values()])),
        "per_category": {
            c: {
                "types": mapping[c],
                "p": v[0],
                "r": v[1],
                "f1": v[2],
                "support": int(gold[:, categories.index(c)].sum()),
            }
            for c, v in per.items()
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="OPP-115 transfer evaluation")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args(argv)
    text = json.dumps(opp115_transfer(), indent=2)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            fh.write(text)
    print(text)


if __name__ == "__main__":
    main()
