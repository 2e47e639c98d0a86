"""Evaluation of the shipped clause pipeline (``docs/classification.md``):

* **gold**: the gold provisions (``gold/``), platform-grouped 5-fold CV, thresholds cross-fitted;
* **CLAUDETTE**: the authors' 5 document-level folds, LexGLUE-style μ-F1 / m-F1 from the
  pipeline's own output (a mapped type at Medium or High = unfair);
* **ToS;DR**: quotes grouped by service, type accuracy of the top candidate.

Run: ``python -m clausewatch.classify.evaluate [--only gold|claudette|tosdr] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from clausewatch.classify.conventions import arbitration_opt_out, lower_for_opt_out
from clausewatch.classify.data import (
    CLAUDETTE_EVAL_TAGS,
    GoldProvision,
    Sample,
    claudette_folds,
    load_gold,
)
from clausewatch.classify.model import (
    ClauseClassifier,
    Policy,
    Prediction,
    apply_policy,
    default_classifier,
)
from clausewatch.classify.taxonomy import BOILERPLATE, Taxonomy, default_taxonomy
from clausewatch.classify.train import (
    TrainConfig,
    external_samples,
    fit_pipeline,
    gold_oof,
    service_key,
    tune_policy,
)


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


def gold_metrics(
    shown: Sequence[Sequence[Prediction]], gold: Sequence[GoldProvision]
) -> dict[str, Any]:
    """The figures of issue #10 on gold provisions (see docs/classification.md)."""
    n = len(gold)
    main_ok = sum((s[0].type_id if s else None) == g.main for s, g in zip(shown, gold, strict=True))
    carry = [i for i, g in enumerate(gold) if g.carries_clause]
    carry_ok = sum((shown[i][0].type_id if shown[i] else None) == gold[i].main for i in carry)
    preds = [(p, g) for s, g in zip(shown, gold, strict=True) for p in s]
    typed = [(p, g) for p, g in preds if p.type_id != BOILERPLATE]
    gold_types = sum(len(g.types - {BOILERPLATE}) for g in gold)
    found = sum(
        len({p.type_id for p in s} & (g.types - {BOILERPLATE}))
        for s, g in zip(shown, gold, strict=True)
    )
    high = [(p, g) for p, g in typed if p.severity == "High"]
    no_type = sum(all(p.type_id == BOILERPLATE for p in shown[i]) for i in carry)
    per_type: dict[str, dict[str, float]] = {}
    for t in sorted({t for g in gold for t in g.types} | {p.type_id for p, _ in preds}):
        tp = sum(p.type_id == t and t in g.types for p, g in preds)
        n_pred = sum(p.type_id == t for p, _ in preds)
        n_gold = sum(t in g.types for g in gold)
        per_type[t] = {
            "p": tp / n_pred if n_pred else 0.0,
            "r": tp / n_gold if n_gold else 0.0,
            "predicted": n_pred,
            "support": n_gold,
        }
    return {
        "provisions": n,
        "main_accuracy": main_ok / n,
        "main_accuracy_carrying": carry_ok / len(carry) if carry else 0.0,
        "shown_precision": sum(p.type_id in g.types for p, g in typed) / len(typed)
        if typed
        else 0.0,
        "shown_recall": found / gold_types if gold_types else 0.0,
        "high_shown": len(high),
        "high_precision": (
            sum(p.type_id == g.main and g.severity == "High" for p, g in high) / len(high)
            if high
            else 0.0
        ),
        "carry_no_type": no_type / len(carry) if carry else 0.0,
        "negated_high": sum(g.negated and p.type_id == g.main for p, g in high),
        "severity_accuracy": _severity_accuracy(shown, gold),
        "per_type": per_type,
    }


def _severity_accuracy(
    shown: Sequence[Sequence[Prediction]], gold: Sequence[GoldProvision]
) -> float:
    pairs = [
        (s[0].severity, g.severity)
        for s, g in zip(shown, gold, strict=True)
        if s and s[0].type_id == g.main and g.carries_clause
    ]
    return sum(a == b for a, b in pairs) / len(pairs) if pairs else 0.0


def gold_cv(cfg: TrainConfig | None = None, n_jobs: int = 2) -> dict[str, Any]:
    """Platform-grouped 5-fold CV on the gold set. Each fold's decision thresholds are tuned on
    the out-of-fold candidates of the *other* folds (cross-fitting): the held-out labels never
    choose a threshold."""
    cfg = cfg or TrainConfig()
    taxonomy = default_taxonomy()
    gold = load_gold()
    external = external_samples(taxonomy) if cfg.external else []
    cands, folds = gold_oof(taxonomy, gold, external, cfg, n_jobs)
    shown = with_document_opt_outs(cross_fitted(cands, folds, gold), gold)
    result = {"config": asdict(cfg), **gold_metrics(shown, gold)}
    for name, keep in (
        ("random_sample", lambda g: g.sample == "random"),
        ("sure_only", lambda g: not g.unsure),
    ):
        idx = [i for i, g in enumerate(gold) if keep(g)]
        sub = gold_metrics([shown[i] for i in idx], [gold[i] for i in idx])
        sub.pop("per_type")
        result[name] = sub
    return result


def cross_fitted(
    cands: Sequence[Sequence[Prediction]], folds: np.ndarray, gold: Sequence[GoldProvision],
    tune: Callable[[list[Sequence[Prediction]], list[GoldProvision]], Policy] = tune_policy,
) -> list[list[Prediction]]:  # fmt: skip
    """What each held-out fold shows under a policy tuned on the other folds' candidates."""
    shown: list[list[Prediction]] = [[] for _ in gold]
    for k in sorted(set(folds)):
        rest = [i for i in range(len(gold)) if folds[i] != k]
        policy = tune([cands[i] for i in rest], [gold[i] for i in rest])
        for i in np.flatnonzero(folds == k).tolist():
            shown[i] = apply_policy(list(cands[i]), policy)
    return shown


def with_document_opt_outs(
    shown: Sequence[Sequence[Prediction]], gold: Sequence[GoldProvision]
) -> list[list[Prediction]]:
    """The analysis's document-wide step (classify/conventions.py) on gold provisions: a
    document's passages are its gold rows, as the annotation guidelines read the opt-out."""
    passages: dict[tuple[str, str], list[tuple[str | None, str]]] = defaultdict(list)
    for g in gold:
        passages[(g.platform, g.document)].append((g.heading, g.text))
    opt_outs = {key: arbitration_opt_out(rows) for key, rows in passages.items()}
    return [
        lower_for_opt_out(s, opt_outs[(g.platform, g.document)])
        for s, g in zip(shown, gold, strict=True)
    ]


def claudette_cv(cfg: TrainConfig | None = None, n_jobs: int = 2) -> dict[str, Any]:
    """The shipped pipeline on the CLAUDETTE authors' 5 folds: each fold's pipeline is trained
    on the gold set, ToS;DR and the fold's CLAUDETTE training documents; a sentence is "unfair"
    for a tag when a shown type mapped to the tag has severity Medium or High. Thresholds are
    the shipped model's (tuned on the gold set, never on CLAUDETTE labels)."""
    from joblib import Parallel, delayed

    cfg = cfg or TrainConfig()
    taxonomy = default_taxonomy()
    gold = load_gold()
    external = external_samples(taxonomy)
    policy = default_classifier().pipeline.policy
    tags = list(CLAUDETTE_EVAL_TAGS)
    outs = Parallel(n_jobs=n_jobs)(
        delayed(_claudette_fold)(taxonomy, gold, external, cfg, policy, set(tr), set(te), tags)
        for tr, te in claudette_folds()
    )
    gold_cat = np.vstack([o[0] for o in outs])
    pred_cat = np.vstack([o[1] for o in outs])
    per_class = {t: prf(gold_cat[:, j], pred_cat[:, j]) for j, t in enumerate(tags)}
    return {
        "macro_f1_8": float(np.mean([v[2] for v in per_class.values()])),
        **lexglue_scores(gold_cat, pred_cat),
        "per_class": {
            t: {"p": v[0], "r": v[1], "f1": v[2], "support": int(gold_cat[:, j].sum())}
            for j, (t, v) in enumerate(per_class.items())
        },
        "sentences": len(gold_cat),
    }


def _claudette_fold(
    taxonomy: Taxonomy, gold: list[GoldProvision], external: list[Sample], cfg: TrainConfig,
    policy: Policy, train_docs: set[str], test_docs: set[str], tags: list[str],
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    ext = [s for s in external if s.source != "claudette" or s.group in train_docs]
    test = [s for s in external if s.source == "claudette" and s.group in test_docs]
    pipeline = fit_pipeline(taxonomy, gold, ext, cfg, policy)
    shown = ClauseClassifier.from_pipeline(taxonomy, pipeline).classify_many(
        [s.text for s in test], [s.heading for s in test]
    )
    types_of = {t: {c.id for c in taxonomy.types if t in c.claudette} for t in tags}
    gold_m = np.array([[s.tags.get(t, 0) >= 2 for t in tags] for s in test])
    pred_m = np.array(
        [
            [any(p.type_id in types_of[t] and p.severity != "Low" for p in preds) for t in tags]
            for preds in shown
        ]
    )
    return gold_m, pred_m


def tosdr_cv(cfg: TrainConfig | None = None, folds: int = 5, n_jobs: int = 2) -> dict[str, Any]:
    """ToS;DR quotes grouped by service: the pipeline is trained on CLAUDETTE, the other
    services' quotes and the gold provisions of other platforms; type accuracy = the top
    candidate is one of the point's mapped types."""
    from joblib import Parallel, delayed

    cfg = cfg or TrainConfig()
    taxonomy = default_taxonomy()
    gold = load_gold()
    external = external_samples(taxonomy)
    claudette = [s for s in external if s.source == "claudette"]
    points = [s for s in external if s.source == "tosdr"]
    groups = np.array([s.group for s in points])
    policy = default_classifier().pipeline.policy
    splits = list(GroupKFold(n_splits=folds).split(points, groups=groups))
    outs = Parallel(n_jobs=n_jobs)(
        delayed(_tosdr_fold)(
            taxonomy,
            gold,
            claudette + [points[i] for i in tr],
            [points[i] for i in te],
            cfg,
            policy,
        )
        for tr, te in splits
    )
    hits = sum(o[0] for o in outs)
    shown = sum(o[1] for o in outs)
    shown_ok = sum(o[2] for o in outs)
    return {
        "points": len(points),
        "services": len(set(groups)),
        "type_accuracy": hits / len(points),
        "shown": shown / len(points),
        "shown_precision": shown_ok / shown if shown else 0.0,
    }


def _tosdr_fold(
    taxonomy: Taxonomy, gold: list[GoldProvision], train: list[Sample], test: list[Sample],
    cfg: TrainConfig, policy: Policy,
) -> tuple[int, int, int]:  # fmt: skip
    held_out = {service_key(s.group.removeprefix("tosdr:")) for s in test}
    gold_tr = [g for g in gold if service_key(g.platform) not in held_out]
    pipeline = fit_pipeline(taxonomy, gold_tr, train, cfg, policy)
    clf = ClauseClassifier.from_pipeline(taxonomy, pipeline)
    cands = clf.candidates_many([s.text for s in test])
    hits = sum(bool(c) and c[0].type_id in s.types for c, s in zip(cands, test, strict=True))
    shown = [apply_policy(c, policy) for c in cands]
    n_shown = sum(len(p) for p in shown)
    ok = sum(p.type_id in s.types for ps, s in zip(shown, test, strict=True) for p in ps)
    return hits, n_shown, ok


TARGETS = {  # issue #10
    "main_accuracy": 0.85, "shown_precision": 0.90, "shown_recall": 0.75,
    "high_precision": 0.90, "carry_no_type": 0.10, "negated_high": 0,
}  # fmt: skip


def summary(result: dict[str, Any]) -> str:
    """The figures as text, each beside its target."""
    lines = []
    if "gold" in result:
        g = result["gold"]
        lines.append(f"Gold set, platform-grouped 5-fold CV ({g['provisions']} provisions)")
        for key, target in TARGETS.items():
            value = g[key]
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            lines.append(f"  {key:<22} {shown:>7}   target {target}")
        lines.append(f"  {'high_shown':<22} {g['high_shown']:>7}")
        lines.append(f"  {'severity_accuracy':<22} {g['severity_accuracy']:>7.3f}")
    if "claudette" in result:
        c = result["claudette"]
        lines.append("CLAUDETTE authors' folds, shipped pipeline (LexGLUE-style)")
        lines.append(f"  micro-F1 {100 * c['micro_f1']:.1f}  macro-F1 "
                     f"{100 * c['macro_f1_with_none']:.1f}   target m-F1 80")  # fmt: skip
    if "tosdr" in result:
        t = result["tosdr"]
        lines.append(f"ToS;DR by service ({t['points']} quotes, {t['services']} services)")
        lines.append(f"  type accuracy {t['type_accuracy']:.3f}   target 0.85")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Evaluate the clause classifier")
    parser.add_argument("--only", choices=["gold", "claudette", "tosdr"])
    parser.add_argument("--jobs", type=int, default=2, help="folds fitted in parallel")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {}
    started = time.perf_counter()
    if args.only in (None, "gold"):
        result["gold"] = gold_cv(n_jobs=args.jobs)
    if args.only in (None, "claudette"):
        result["claudette"] = claudette_cv(n_jobs=args.jobs)
    if args.only in (None, "tosdr"):
        result["tosdr"] = tosdr_cv(n_jobs=args.jobs)
    result["seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(result, indent=2)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            fh.write(text)
    print(text)


if __name__ == "__main__":
    main()
