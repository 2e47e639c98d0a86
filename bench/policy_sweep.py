"""Decision policy: how far precision can be bought with recall on the gold set (issue #10).

The gold set's out-of-fold candidates are computed once (platform-grouped folds, as
``clausewatch model eval``: about 4 minutes on 2 cores; ``--cache`` keeps them in a file) and
every policy below is cross-fitted on them exactly as ``evaluate.gold_cv`` does (each fold's
thresholds tuned on the other folds only):

* ``F-beta``: the shipped tuning (``train.tune_policy``) for several beta (smaller = precision
  weighs more); the shipped beta is ``train.BETA``.
* ``precision >= t``: per type, the threshold of highest recall whose out-of-fold precision on
  the other folds reaches ``t`` (what "precision first, then recall" would read literally).

Usage: .venv/bin/python bench/policy_sweep.py [--cache PATH] [--write]
(--write replaces the table in docs/classification.md).
"""

from __future__ import annotations

import argparse
import json
import platform
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from _common import ROOT, write_section

from clausewatch.classify import evaluate, train
from clausewatch.classify.data import GoldProvision, load_gold
from clausewatch.classify.model import Policy, Prediction
from clausewatch.classify.taxonomy import default_taxonomy

DOC = ROOT / "docs" / "classification.md"
BETAS = (0.5, 0.4, 0.3, 0.25, 0.2)
TARGETS = (0.85, 0.9, 0.92, 0.94)
FIGURES = ("main_accuracy", "shown_precision", "shown_recall", "carry_no_type", "high_precision")
GRID = np.round(np.arange(0.2, 0.991, 0.01), 2)


def candidates(
    gold: list[GoldProvision], cache: Path | None
) -> tuple[list[list[Prediction]], np.ndarray]:
    """Every gold provision's out-of-fold candidates and fold, from ``cache`` when it exists."""
    if cache and cache.exists():
        saved = json.loads(cache.read_text())
        cands = [[_prediction(p) for p in c] for c in saved["cands"]]
        return cands, np.array(saved["folds"])
    taxonomy = default_taxonomy()
    external = train.external_samples(taxonomy)
    cands, folds = train.gold_oof(taxonomy, gold, external, train.TrainConfig(), n_jobs=2)
    if cache:
        rows = [[asdict(p) for p in c] for c in cands]
        cache.write_text(json.dumps({"cands": rows, "folds": folds.tolist()}))
    return cands, folds


def _prediction(row: dict[str, Any]) -> Prediction:
    return Prediction(**{**row, "severity_reasons": tuple(row["severity_reasons"])})


def precision_target(
    target: float,
) -> Callable[[list[Sequence[Prediction]], list[GoldProvision]], Policy]:
    def tune(cands: list[Sequence[Prediction]], gold: list[GoldProvision]) -> Policy:
        main = np.array([c[0].type_id if c else "" for c in cands])
        prob = np.array([c[0].score if c else 0.0 for c in cands])
        ok = np.array(
            [bool(c) and c[0].type_id in g.types for c, g in zip(cands, gold, strict=True)]
        )
        pooled = _threshold(prob, ok, main != "", target)
        per_type = {
            t: _threshold(prob, ok, main == t, target)
            for t in sorted(set(main) - {""})
            if sum(t in g.types for g in gold) >= train.MIN_TUNE
        }
        second = [c[1] if len(c) > 1 else None for c in cands]
        has = np.array([s is not None for s in second])
        sprob = np.array([s.score if s else 0.0 for s in second])
        sok = np.array(
            [s is not None and s.type_id in g.types for s, g in zip(second, gold, strict=True)]
        )
        return Policy(per_type, pooled, _threshold(sprob, sok, has, target))

    return tune


def _threshold(prob: np.ndarray, ok: np.ndarray, mask: np.ndarray, target: float) -> float:
    """The lowest threshold (most recall) whose precision reaches ``target``, 3+ shown."""
    for t in GRID:
        shown = mask & (prob >= t)
        if shown.sum() >= 3 and ok[shown].mean() >= target:
            return float(t)
    return 1.01


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, help="keep the out-of-fold candidates in this JSON file")
    ap.add_argument("--write", action="store_true", help="write the table into the docs")
    args = ap.parse_args()
    gold = load_gold()
    cands, folds = candidates(gold, args.cache)
    rows = []
    for beta in BETAS:
        tune = lambda c, g, b=beta: train.tune_policy(c, g, beta=b)  # noqa: E731
        shipped = " (shipped)" if beta == train.BETA else ""
        rows.append(
            (f"F-beta, beta = {beta}{shipped}", evaluate.cross_fitted(cands, folds, gold, tune))
        )
    for target in TARGETS:
        rows.append(
            (
                f"precision >= {target}",
                evaluate.cross_fitted(cands, folds, gold, precision_target(target)),
            )
        )
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()} (Python "
        f"{platform.python_version()}), `.venv/bin/python bench/policy_sweep.py`, "
        f"{len(gold)} gold provisions, the same platform-grouped folds, thresholds cross-fitted:",
        "",
        "| policy | " + " | ".join(FIGURES) + " | high shown |",
        "|---" * (len(FIGURES) + 2) + "|",
    ]
    for label, shown in rows:
        m = evaluate.gold_metrics(shown, gold)
        cells = " | ".join(f"{m[f]:.3f}" for f in FIGURES)
        lines.append(f"| {label} | {cells} | {m['high_shown']} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section("classifier-policy", table, DOC)


if __name__ == "__main__":
    main()
