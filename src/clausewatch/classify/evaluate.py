"""Evaluation of the clause classifier on ``../shared/data`` (protocol of
``classification-notes.md``):

* CLAUDETTE, the authors' 5 document-level folds; target = the 8 unfair types (level >= 2),
  macro-F1 over the 8 types and LexGLUE-style μ-F1 / m-F1 (8 + "none"), per-class P/R/F1.
  Each fold's model is tuned (C, calibration) inside its training documents only.
* ToS;DR points grouped by service (GroupKFold): trained on all of CLAUDETTE + the training
  services; type accuracy (top type among the gold types) and macro-F1 on the mapped types.

Run: ``python -m clausewatch.classify.evaluate [--only claudette|tosdr] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from clausewatch.classify.data import (
    CLAUDETTE_EVAL_TAGS,
    Sample,
    claudette_folds,
    load_claudette,
    load_tosdr,
)
from clausewatch.classify.model import ClauseClassifier
from clausewatch.classify.taxonomy import Taxonomy, default_taxonomy
from clausewatch.classify.train import C_GRID, fit_all, labels_for, training_samples


def prf(gold: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    tp = float((gold & pred).sum())
    p = tp / pred.sum() if pred.sum() else 0.0
    r = tp / gold.sum() if gold.sum() else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def lexglue_scores(gold: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """μ-F1 / m-F1 with the extra "none" column LexGLUE adds for unlabelled sentences."""
    g = np.hstack([gold, ~gold.any(axis=1, keepdims=True)])
    p = np.hstack([pred, ~pred.any(axis=1, keepdims=True)])
    micro = prf(g.ravel(), p.ravel())[2]
    macro = float(np.mean([prf(g[:, j], p[:, j])[2] for j in range(g.shape[1])]))
    return {"micro_f1": micro, "macro_f1_with_none": macro}


def _unfair_labeler(samples: list[Sample], _tax: Taxonomy, tag: str) -> tuple[Any, Any]:
    y = np.array([s.tags.get(tag, 0) >= 2 for s in samples], dtype=np.int8)
    return y, np.ones(len(samples), dtype=bool)


def claudette_cv(seed: int = 13, c_grid: tuple[float, ...] = C_GRID) -> dict[str, Any]:
    taxonomy = default_taxonomy()
    samples = load_claudette(taxonomy)
    tags = list(CLAUDETTE_EVAL_TAGS)
    gold_all, pred_all, bare_all, fold_macro = [], [], [], []
    for train_docs, test_docs in claudette_folds():
        train = [s for s in samples if s.group in set(train_docs)]
        test = [s for s in samples if s.group in set(test_docs)]
        featurizer, models = fit_all(train, taxonomy, tags, seed, c_grid, _unfair_labeler)
        texts = [s.text for s in test]
        x = featurizer.transform(texts, [s.heading for s in test])
        x_bare = featurizer.transform(texts)  # ablation: the same models, no heading given
        gold = np.array([[s.tags.get(t, 0) >= 2 for t in tags] for s in test])
        pred, pred_bare = np.zeros_like(gold), np.zeros_like(gold)
        for j, tag in enumerate(tags):
            m = models[tag]
            for xx, out in ((x, pred), (x_bare, pred_bare)):
                margin = xx @ m.coef + m.intercept
                prob = 1 / (1 + np.exp(-(m.platt_a * margin + m.platt_b)))
                out[:, j] = prob >= m.threshold
        bare_all.append(pred_bare)
        fold_macro.append(np.mean([prf(gold[:, j], pred[:, j])[2] for j in range(len(tags))]))
        gold_all.append(gold)
        pred_all.append(pred)
    gold_cat, pred_cat = np.vstack(gold_all), np.vstack(pred_all)
    per_class = {t: prf(gold_cat[:, j], pred_cat[:, j]) for j, t in enumerate(tags)}
    return {
        "macro_f1_8": float(np.mean([v[2] for v in per_class.values()])),
        "macro_f1_8_fold_mean": float(np.mean(fold_macro)),
        "macro_f1_8_fold_std": float(np.std(fold_macro)),
        **lexglue_scores(gold_cat, pred_cat),
        "per_class": {
            t: {"p": v[0], "r": v[1], "f1": v[2], "support": int(gold_cat[:, j].sum())}
            for j, (t, v) in enumerate(per_class.items())
        },
        "sentences": len(gold_cat),
        "ablation_no_heading": _summary(gold_cat, np.vstack(bare_all)),
    }


def _summary(gold: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    macro = float(np.mean([prf(gold[:, j], pred[:, j])[2] for j in range(gold.shape[1])]))
    return {"macro_f1_8": macro, **lexglue_scores(gold, pred)}


def _tosdr_fold(
    taxonomy: Taxonomy,
    train: list[Sample],
    test: list[Sample],
    seed: int,
    c_grid: tuple[float, ...],
) -> tuple[int, np.ndarray, np.ndarray]:
    """(top-type hits, gold, predictions) over all taxonomy ids (untrained types: never)."""
    featurizer, models = fit_all(train, taxonomy, taxonomy.ids, seed, c_grid, labels_for)
    clf = ClauseClassifier.from_models(taxonomy, featurizer, models)
    probs = clf.probabilities(clf.margins([s.text for s in test]))
    cols = [taxonomy.ids.index(t) for t in clf.type_ids]
    pred = np.zeros((len(test), len(taxonomy.ids)), dtype=bool)
    pred[:, cols] = probs >= clf.threshold
    gold = np.array([[t in s.types for t in taxonomy.ids] for s in test])
    hits = sum(
        clf.type_ids[int(np.argmax(row))] in s.types for s, row in zip(test, probs, strict=True)
    )
    return hits, gold, pred


def tosdr_cv(
    seed: int = 13, folds: int = 5, c_grid: tuple[float, ...] = (0.3,), n_jobs: int = 1
) -> dict[str, Any]:
    from joblib import Parallel, delayed

    taxonomy = default_taxonomy()
    claudette = [s for s in training_samples(taxonomy) if s.source == "claudette"]
    points = load_tosdr(taxonomy)
    groups = np.array([s.group for s in points])
    splits = list(GroupKFold(n_splits=folds).split(points, groups=groups))
    outs = Parallel(n_jobs=n_jobs)(
        delayed(_tosdr_fold)(
            taxonomy, claudette + [points[i] for i in tr], [points[i] for i in te], seed, c_grid
        )
        for tr, te in splits
    )
    gold = np.vstack([o[1] for o in outs])
    pred = np.vstack([o[2] for o in outs])
    ids = taxonomy.ids
    per_type = {ids[j]: prf(gold[:, j], pred[:, j]) for j in range(len(ids)) if gold[:, j].any()}
    return {
        "points": len(points),
        "services": len(set(groups)),
        "c_grid": list(c_grid),
        "type_accuracy": sum(o[0] for o in outs) / len(points),
        "macro_f1_mapped": float(np.mean([v[2] for v in per_type.values()])),
        "per_type": {
            t: {"p": v[0], "r": v[1], "f1": v[2], "support": int(gold[:, ids.index(t)].sum())}
            for t, v in per_type.items()
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Evaluate the clause classifier")
    parser.add_argument("--only", choices=["claudette", "tosdr"])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {}
    started = time.perf_counter()
    if args.only in (None, "claudette"):
        result["claudette"] = claudette_cv(args.seed)
    if args.only in (None, "tosdr"):
        result["tosdr"] = tosdr_cv(args.seed)
    result["seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(result, indent=2)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            fh.write(text)
    print(text)


if __name__ == "__main__":
    main()
