"""Learning curve of the type model on the gold set: does labelling more provisions still pay?

For each fraction of the gold set, every platform-grouped fold (the folds of ``clausewatch model
eval``) is trained on that fraction of its training provisions (drawn at random, the same draw
for every fold size) plus the external data, and scored on its whole held-out fold. The figure
is the type model's top type alone (``none`` = carries no clause) against the gold main type:
no polarity, no decision policy, so it moves with the model and the data only.

Usage: .venv/bin/python bench/learning_curve.py [--fractions 0.32 0.6 1] [--write]
(--write replaces the table in docs/classification.md; about 4 minutes a fraction on 2 cores).
"""

from __future__ import annotations

import argparse
import platform
import random
from datetime import UTC, datetime

import numpy as np
from _common import ROOT, write_section
from joblib import Parallel, delayed
from sklearn.model_selection import GroupKFold

from clausewatch.classify import train
from clausewatch.classify.data import GoldProvision, Sample, load_gold
from clausewatch.classify.model import NONE
from clausewatch.classify.taxonomy import Taxonomy, default_taxonomy

DOC = ROOT / "docs" / "classification.md"


def fold_hits(
    taxonomy: Taxonomy, gold: list[GoldProvision], external: list[Sample],
    tr: np.ndarray, te: np.ndarray, fraction: float,
) -> list[bool]:  # fmt: skip
    """For each held-out provision: is the type model's top type its gold main type?"""
    rng = random.Random(0)
    kept = [int(i) for i in tr if rng.random() < fraction]
    ext = train.external_outside(external, [gold[i] for i in te])
    cfg = train.TrainConfig()
    examples = train.type_examples([gold[i] for i in kept], ext, cfg)
    featurizer, model = train.fit_types(examples, taxonomy, cfg)
    x = featurizer.transform([gold[i].model_text for i in te], [gold[i].heading for i in te])
    top = [model.classes[j] for j in model.probabilities(x).argmax(axis=1)]
    return [(t if t != NONE else None) == gold[i].main for t, i in zip(top, te, strict=True)]


def curve(fractions: list[float]) -> list[tuple[float, int, float, float]]:
    """(fraction, training provisions per fold on average, accuracy, on the random draws)."""
    taxonomy = default_taxonomy()
    gold = load_gold()
    external = train.external_samples(taxonomy)
    groups = np.array([g.group for g in gold])
    splits = list(GroupKFold(n_splits=train.FOLDS).split(gold, groups=groups))
    random_rows = np.array([g.sample == "random" for g in gold])
    rows = []
    for fraction in fractions:
        hits = Parallel(n_jobs=2)(
            delayed(fold_hits)(taxonomy, gold, external, tr, te, fraction) for tr, te in splits
        )
        ok = np.zeros(len(gold), dtype=bool)
        for (_, te), h in zip(splits, hits, strict=True):
            ok[te] = h
        size = round(np.mean([len(tr) for tr, _ in splits]) * fraction)
        rows.append((fraction, size, float(ok.mean()), float(ok[random_rows].mean())))
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.32, 0.6, 1.0])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rows = curve(args.fractions)
    gold = load_gold()
    day = datetime.now(UTC).date().isoformat()
    body = "\n".join(
        [
            f"Measured {day} on {platform.machine()} (Python {platform.python_version()}), "
            f"`.venv/bin/python bench/learning_curve.py`, {len(gold)} gold provisions, the "
            "platform-grouped folds of `clausewatch model eval`:",
            "",
            "| share of each fold's training provisions | about | top type = gold main | "
            "random draws only |",
            "|---|---|---|---|",
            *(f"| {f:.2f} | {n:,} | {a:.3f} | {r:.3f} |" for f, n, a, r in rows),
        ]
    )
    print(body)
    if args.write:
        write_section("classifier-learning-curve", body, DOC)


if __name__ == "__main__":
    main()
