"""Train the shipped clause classifier from ``../shared/data`` (CLAUDETTE + ToS;DR only).

Per clause type: a class-balanced LinearSVC on TF-IDF word/char n-grams + trigger indicators.
C is chosen, a Platt sigmoid is fitted (calibrated confidence) and the decision threshold is
picked on out-of-fold scores from a group-wise split of the *training* data (documents /
services, never sentences). Types with too few examples are rule-only (trigger phrases).

Run: ``python -m clausewatch.classify.train [--out DIR] [--seed 13]``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.svm import LinearSVC

from clausewatch.classify.data import Sample, is_heading, load_claudette, load_tosdr
from clausewatch.classify.features import Featurizer
from clausewatch.classify.model import ARTIFACT_DIR, save_artifact
from clausewatch.classify.taxonomy import Taxonomy, default_taxonomy

C_GRID = (0.1, 0.3, 1.0)
MIN_POSITIVES = 15
INNER_FOLDS = 3


@dataclass
class TypeModel:
    coef: np.ndarray
    intercept: float
    platt_a: float
    platt_b: float
    threshold: float
    c: float
    oof_f1: float
    n_pos: int


def _svm(c: float, seed: int) -> LinearSVC:
    return LinearSVC(C=c, class_weight="balanced", random_state=seed, max_iter=5000)


def _oof_scores(
    x: sp.csr_matrix, y: np.ndarray, groups: np.ndarray, c: float, seed: int
) -> np.ndarray:
    scores = np.zeros(len(y), dtype=np.float64)
    n_splits = min(INNER_FOLDS, len(set(groups[y == 1])))
    for tr, te in GroupKFold(n_splits=n_splits).split(x, y, groups):
        if y[tr].sum() == 0:
            scores[te] = -1.0
            continue
        scores[te] = _svm(c, seed).fit(x[tr], y[tr]).decision_function(x[te])
    return scores


def _best_threshold(prob: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    best = (0.5, -1.0)
    for thr in np.arange(0.10, 0.91, 0.025):
        pred = prob >= thr
        tp = float((pred & (y == 1)).sum())
        denom = float(pred.sum() + (y == 1).sum())
        f1 = 2 * tp / denom if denom else 0.0
        if f1 > best[1] + 1e-9:
            best = (float(thr), f1)
    return best


def fit_type(
    x: sp.csr_matrix, y: np.ndarray, groups: np.ndarray, seed: int, c_grid: tuple[float, ...]
) -> TypeModel:
    """Tune C, calibrate and threshold on out-of-fold scores; refit on all rows."""
    best: tuple[float, float, np.ndarray] | None = None
    for c in c_grid:
        scores = _oof_scores(x, y, groups, c, seed)
        platt = LogisticRegression(C=1e4).fit(scores[:, None], y)
        thr, f1 = _best_threshold(platt.predict_proba(scores[:, None])[:, 1], y)
        if best is None or f1 > best[1]:
            best = (c, f1, scores)
    assert best is not None
    c, f1, scores = best
    platt = LogisticRegression(C=1e4).fit(scores[:, None], y)
    thr, _ = _best_threshold(platt.predict_proba(scores[:, None])[:, 1], y)
    svm = _svm(c, seed).fit(x, y)
    return TypeModel(
        coef=svm.coef_[0].astype(np.float32),
        intercept=float(svm.intercept_[0]),
        platt_a=float(platt.coef_[0, 0]),
        platt_b=float(platt.intercept_[0]),
        threshold=thr,
        c=c,
        oof_f1=f1,
        n_pos=int(y.sum()),
    )


def labels_for(
    samples: list[Sample], taxonomy: Taxonomy, type_id: str
) -> tuple[np.ndarray, np.ndarray]:
    """(y, known): a sample is a known negative when its source annotates this type, or when
    no trigger phrase of the type occurs in it (other sources only label what they label)."""
    ctype = taxonomy.by_id[type_id]
    claudette_annotated = bool(ctype.claudette)
    y = np.zeros(len(samples), dtype=np.int8)
    known = np.ones(len(samples), dtype=bool)
    for i, s in enumerate(samples):
        if type_id in s.types:
            y[i] = 1
        elif not (s.source == "claudette" and claudette_annotated) and any(
            p.search(s.text) for p in ctype.triggers
        ):
            known[i] = False
    return y, known


def training_samples(taxonomy: Taxonomy) -> list[Sample]:
    samples = load_claudette(taxonomy) + load_tosdr(taxonomy)
    for s in samples:
        if s.source == "claudette" and not s.types and is_heading(s.text):
            s.types.add("boilerplate")
    return samples


def fit_all(
    samples: list[Sample],
    taxonomy: Taxonomy,
    type_ids: list[str],
    seed: int = 13,
    c_grid: tuple[float, ...] = C_GRID,
    labeler: Any = None,
) -> tuple[Featurizer, dict[str, TypeModel]]:
    """Fit the featurizer and one model per type with enough positives."""
    texts = [s.text for s in samples]
    featurizer = Featurizer(taxonomy).fit(texts)
    x = featurizer.transform(texts)
    groups = np.array([s.group for s in samples])
    models: dict[str, TypeModel] = {}
    for type_id in type_ids:
        y, known = (labeler or labels_for)(samples, taxonomy, type_id)
        if y.sum() < MIN_POSITIVES:
            continue
        models[type_id] = fit_type(x[known], y[known], groups[known], seed, c_grid)
    return featurizer, models


def train(out: Path = ARTIFACT_DIR, seed: int = 13) -> dict[str, Any]:
    taxonomy = default_taxonomy()
    started = time.perf_counter()
    samples = training_samples(taxonomy)
    featurizer, models = fit_all(samples, taxonomy, taxonomy.ids, seed)
    report = {
        "seed": seed,
        "samples": len(samples),
        "seconds": round(time.perf_counter() - started, 1),
        "types": {
            t: {"n_pos": m.n_pos, "C": m.c, "threshold": m.threshold, "oof_f1": round(m.oof_f1, 3)}
            for t, m in models.items()
        },
        "rule_only": [t for t in taxonomy.ids if t not in models],
    }
    save_artifact(out, featurizer, models, report)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ARTIFACT_DIR)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    print(json.dumps(train(args.out, args.seed), indent=2))


if __name__ == "__main__":
    main()
