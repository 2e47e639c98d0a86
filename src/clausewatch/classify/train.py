"""Train the shipped clause classifier from ``gold/`` and ``../shared/data``.

* **Type model**: one multinomial logistic regression over every clause type plus ``none`` (a
  provision that carries no clause), on TF-IDF word/char n-grams of the text and the words of
  its heading path. Trained on the gold provisions (weight 1) and on the CLAUDETTE sentences and
  ToS;DR quotes that carry a mapped type (weight :attr:`TrainConfig.external_weight`, split
  over their types). Model choice and weights: ``docs/classification.md``.
* **Fairness**: per CLAUDETTE tag, P(unfair: level >= 2) and P(clearly unfair: level 3) among
  the sentences with that tag (:mod:`clausewatch.classify.severity`).
* **Severity**: the combination model learned on the gold severities; its High threshold is
  tuned on out-of-fold scores (platform-grouped) for precision.
* **Decision policy**: per-type thresholds on the type probability, tuned on platform-grouped
  out-of-fold predictions of the gold set for F0.5 (precision first).

Run: ``python -m clausewatch.classify.train [--out DIR]`` (about 6 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from clausewatch.classify.data import (
    GoldProvision,
    Sample,
    is_heading,
    load_claudette,
    load_gold,
    load_tosdr,
)
from clausewatch.classify.features import Featurizer
from clausewatch.classify.model import (
    ARTIFACT_DIR,
    NONE,
    ClauseClassifier,
    FairnessModel,
    Pipeline,
    Policy,
    Prediction,
    TypeModel,
    fairness_of,
    save_artifact,
)
from clausewatch.classify.severity import (
    SeverityModel,
    modifier_hits,
    severity_features,
)
from clausewatch.classify.taxonomy import BOILERPLATE, SEVERITIES, Taxonomy, default_taxonomy

FOLDS = 5
SEVERITY_C = 3.0
# Severity: High is said from the lowest P(High) threshold whose out-of-fold precision reaches the
# first of these targets that some threshold reaches, saying High for at least HIGH_MIN_SHOWN
# provisions and at least HIGH_MIN_RECALL of the gold High; none reached: High is never said.
# On the 5,760-provision gold set 0.9 was out of reach (the best about 0.78: the misses are gold
# Medium, docs/classification.md), and never saying High would hide "we may terminate your
# account at any time, without notice" as well. On the 9,011 the curve's top is noise (12 said
# at P >= 0.97, all right; 20 at 0.95, 15 right): a threshold that says High for a few
# provisions out of thousands is chosen by chance, hence the recall floor.
HIGH_PRECISION = (0.9, 0.8, 0.75)
HIGH_MIN_SHOWN = 10
HIGH_MIN_RECALL = 0.2
THRESHOLD_GRID = tuple(round(t, 2) for t in np.arange(0.2, 0.951, 0.05))
MIN_TUNE = 8  # types with fewer gold positives share one pooled threshold
BETA = 0.5  # F-beta of the decision policy: precision weighs 4x recall
# ``boilerplate`` states no clause (pages show it as no type, and it shows alone), so a wrong one
# misleads no reader about a clause: its threshold weighs precision and recall alike.
BOILERPLATE_BETA = 1.0


@dataclass(frozen=True)
class TrainConfig:
    c: float = 20.0  # inverse regularisation of the type model
    external_weight: float = 0.3  # weight of a CLAUDETTE / ToS;DR example (gold: 1)
    external: bool = True
    # A type's score is its best over the whole text and its sentences (else the whole text's;
    # sentences then only locate the supporting words). Measured worse: docs/classification.md.
    aggregate_sentences: bool = False
    # a gold provision's other types as extra examples at this weight (0: main type only):
    # measured +0.013 shown precision, +0.008 recall at 0.3 (docs/classification.md)
    other_weight: float = 0.3


@dataclass
class Examples:
    texts: list[str] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def add(self, text: str, head: str, label: str, weight: float) -> None:
        self.texts.append(text)
        self.heads.append(head)
        self.labels.append(label)
        self.weights.append(weight)


def external_samples(taxonomy: Taxonomy) -> list[Sample]:
    """CLAUDETTE sentences (heading-like ones labelled boilerplate) and ToS;DR quotes."""
    samples = load_claudette(taxonomy) + load_tosdr(taxonomy)
    for s in samples:
        if s.source == "claudette" and not s.types and is_heading(s.text):
            s.types.add(BOILERPLATE)
    return samples


def type_examples(
    gold: Sequence[GoldProvision], external: Sequence[Sample], cfg: TrainConfig
) -> Examples:
    ex = Examples()
    for g in gold:
        ex.add(g.model_text, g.heading, g.main or NONE, 1.0)
        for t in sorted(g.other) if cfg.other_weight else ():
            ex.add(g.model_text, g.heading, t, cfg.other_weight)
    if cfg.external:
        for s in external:
            for t in sorted(s.types):  # an untyped sentence is not a "none": its source only
                ex.add(s.text, s.heading, t, cfg.external_weight / len(s.types))  # tags some
    return ex


def fit_types(ex: Examples, taxonomy: Taxonomy, cfg: TrainConfig) -> tuple[Featurizer, TypeModel]:
    featurizer = Featurizer(taxonomy).fit(ex.texts, ex.heads)
    x = featurizer.transform(ex.texts, ex.heads)
    lr = LogisticRegression(C=cfg.c, max_iter=3000)
    lr.fit(x, ex.labels, sample_weight=np.asarray(ex.weights))
    model = TypeModel(
        classes=[str(c) for c in lr.classes_],
        coef=lr.coef_.T.astype(np.float32),
        intercept=lr.intercept_.astype(np.float32),
    )
    return featurizer, model


def fit_fairness(claudette: Sequence[Sample], featurizer: Featurizer) -> FairnessModel:
    tags = sorted({t for s in claudette for t in s.tags})
    x = featurizer.transform([s.text for s in claudette], [s.heading for s in claudette])
    cols, bias = [], []
    for tag in tags:
        rows = np.array([i for i, s in enumerate(claudette) if tag in s.tags])
        levels = np.array([claudette[i].tags[tag] for i in rows])
        for cut in (2, 3):
            y = levels >= cut
            if y.all() or not y.any():  # one class only: a constant
                cols.append(np.zeros(x.shape[1], dtype=np.float32))
                p = min(max(float(y.mean()), 0.01), 0.99)
                bias.append(float(np.log(p / (1 - p))))
                continue
            lr = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced")
            lr.fit(x[rows], y)
            cols.append(lr.coef_[0].astype(np.float32))
            bias.append(float(lr.intercept_[0]))
    return FairnessModel(tags, np.stack(cols, axis=1), np.array(bias, dtype=np.float32))


def severity_rows(
    taxonomy: Taxonomy, gold: Sequence[GoldProvision], featurizer: Featurizer,
    fairness: FairnessModel,
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:  # fmt: skip
    """Model input (text features + severity features), labels and groups of the gold
    provisions with a typed, non-negated clause."""
    rows = [g for g in gold if g.carries_clause and not g.negated and g.severity]
    x = featurizer.transform([g.model_text for g in rows], [g.heading for g in rows])
    fair = fairness.probabilities(x)
    feats = []
    for g, fp in zip(rows, fair, strict=True):
        assert g.main is not None
        hits = modifier_hits(taxonomy.by_id[g.main], g.text)
        feats.append(
            severity_features(taxonomy, g.main, hits, fairness_of(taxonomy, fairness, g.main, fp))
        )
    model_x = sp.hstack([x, sp.csr_matrix(np.array(feats))], format="csr")
    labels = np.array([SEVERITIES.index(str(g.severity)) for g in rows])
    return model_x, labels, np.array([g.group for g in rows])


def fit_severity(
    taxonomy: Taxonomy, gold: Sequence[GoldProvision], featurizer: Featurizer,
    fairness: FairnessModel,
) -> SeverityModel:  # fmt: skip
    x, labels, groups = severity_rows(taxonomy, gold, featurizer, fairness)
    p_high = np.zeros(len(labels))
    for tr, te in GroupKFold(n_splits=FOLDS).split(x, labels, groups):
        lr = _severity_lr().fit(x[tr], labels[tr])
        p_high[te] = _p_class(lr, x[te], 2)
    threshold = high_threshold(p_high, labels == 2)
    lr = _severity_lr().fit(x, labels)
    coef = np.zeros((x.shape[1], 3), dtype=np.float32)
    intercept = np.full(3, -30.0, dtype=np.float32)  # a level never seen is never chosen
    for k, cls in enumerate(lr.classes_):
        coef[:, cls] = lr.coef_[k]
        intercept[cls] = lr.intercept_[k]
    return SeverityModel(coef, intercept, threshold)


def _severity_lr() -> LogisticRegression:
    return LogisticRegression(C=SEVERITY_C, max_iter=3000)


def _p_class(lr: LogisticRegression, x: sp.csr_matrix, cls: int) -> np.ndarray:
    if cls not in lr.classes_:
        return np.zeros(len(x))
    return np.asarray(lr.predict_proba(x)[:, list(lr.classes_).index(cls)])


def high_threshold(scores: np.ndarray, is_high: np.ndarray) -> float:
    """The P(High) threshold of the first target of ``HIGH_PRECISION`` that some threshold
    reaches out of fold, else 1.01 (High never said)."""
    for target in HIGH_PRECISION:
        threshold = _precise_threshold(scores, is_high, target)
        if threshold <= 1:
            return threshold
    return 1.01


def _precise_threshold(scores: np.ndarray, y: np.ndarray, target: float) -> float:
    """The lowest threshold whose out-of-fold precision reaches ``target`` with at least
    ``HIGH_MIN_SHOWN`` predictions and ``HIGH_MIN_RECALL`` of the positives, else one above
    every score: never predict."""
    for t in np.arange(0.3, 0.99, 0.01):
        shown = scores >= t
        enough = shown.sum() >= HIGH_MIN_SHOWN and (shown & y).sum() >= HIGH_MIN_RECALL * y.sum()
        if enough and y[shown].mean() >= target:
            return float(round(t, 3))
    return 1.01


# --- decision policy ------------------------------------------------------------------------------
def tune_policy(
    cands: Sequence[Sequence[Prediction]], gold: Sequence[GoldProvision], beta: float = BETA
) -> Policy:
    """Per-type thresholds for F-beta (precision first) of the shown main type, one pooled
    threshold for rare types, and the threshold of a second type."""
    main = np.array([c[0].type_id if c else "" for c in cands])
    prob = np.array([c[0].score if c else 0.0 for c in cands])
    correct = np.array(
        [bool(c) and c[0].type_id in g.types for c, g in zip(cands, gold, strict=True)]
    )
    n_carry = sum(g.carries_clause for g in gold)
    pooled = _best_threshold(prob, correct, main != "", n_carry, beta)
    thresholds = {}
    for type_id in sorted(set(main) - {""}):
        n_pos = sum(type_id in g.types for g in gold)
        if n_pos >= MIN_TUNE:
            b = BOILERPLATE_BETA if type_id == BOILERPLATE else beta
            thresholds[type_id] = _best_threshold(prob, correct, main == type_id, n_pos, b)
    second = [c[1] if len(c) > 1 else None for c in cands]
    has_second = np.array([s is not None for s in second])
    second_prob = np.array([s.score if s else 0.0 for s in second])
    second_ok = np.array(
        [s is not None and s.type_id in g.types for s, g in zip(second, gold, strict=True)]
    )
    n_other = sum(len(g.other) for g in gold)
    other = _best_threshold(second_prob, second_ok, has_second, n_other, beta)
    return Policy(thresholds, pooled, other)


def _best_threshold(
    prob: np.ndarray, correct: np.ndarray, mask: np.ndarray, n_pos: int, beta: float
) -> float:
    best, best_f = THRESHOLD_GRID[-1], -1.0
    for t in THRESHOLD_GRID:
        shown = mask & (prob >= t)
        tp = float((shown & correct).sum())
        p = tp / shown.sum() if shown.sum() else 0.0
        r = tp / n_pos if n_pos else 0.0
        f = (1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0
        if f > best_f + 1e-9:
            best, best_f = t, f
    return float(best)


# --- the whole pipeline ---------------------------------------------------------------------------
OPEN_POLICY = Policy({}, 0.0, 0.0)  # shows every candidate: what out-of-fold tuning reads


def fit_pipeline(
    taxonomy: Taxonomy, gold: Sequence[GoldProvision], external: Sequence[Sample],
    cfg: TrainConfig, policy: Policy = OPEN_POLICY,
) -> Pipeline:  # fmt: skip
    featurizer, types = fit_types(type_examples(gold, external, cfg), taxonomy, cfg)
    fairness = fit_fairness([s for s in external if s.source == "claudette" and s.tags], featurizer)
    severity = fit_severity(taxonomy, gold, featurizer, fairness)
    return Pipeline(featurizer, types, fairness, severity, policy, {}, cfg.aggregate_sentences)


def gold_oof(
    taxonomy: Taxonomy, gold: Sequence[GoldProvision], external: Sequence[Sample],
    cfg: TrainConfig, n_jobs: int = 1,
) -> tuple[list[list[Prediction]], np.ndarray]:  # fmt: skip
    """Out-of-fold candidates of every gold provision (platform-family groups) and the fold of
    each. External data of the held-out platforms is dropped too (ToS;DR quotes them)."""
    from joblib import Parallel, delayed

    groups = np.array([g.group for g in gold])
    folds = np.zeros(len(gold), dtype=int)
    splits = list(GroupKFold(n_splits=FOLDS).split(gold, groups=groups))
    for k, (_, te) in enumerate(splits):
        folds[te] = k
    outs = Parallel(n_jobs=n_jobs)(
        delayed(_fold_candidates)(taxonomy, gold, external, cfg, tr, te) for tr, te in splits
    )
    cands: list[list[Prediction]] = [[] for _ in gold]
    for (_, te), out in zip(splits, outs, strict=True):
        for i, c in zip(te, out, strict=True):
            cands[i] = c
    return cands, folds


def _fold_candidates(
    taxonomy: Taxonomy, gold: Sequence[GoldProvision], external: Sequence[Sample],
    cfg: TrainConfig, tr: np.ndarray, te: np.ndarray,
) -> list[list[Prediction]]:  # fmt: skip
    ext = external_outside(external, [gold[i] for i in te])
    pipeline = fit_pipeline(taxonomy, [gold[i] for i in tr], ext, cfg)
    clf = ClauseClassifier.from_pipeline(taxonomy, pipeline)
    test = [gold[i] for i in te]
    return clf.candidates_many(
        [g.text for g in test], [g.heading for g in test], [g.context for g in test]
    )


def external_outside(external: Sequence[Sample], held_out: Sequence[GoldProvision]) -> list[Sample]:
    """The external samples that do not quote a held-out platform (ToS;DR quotes services by
    name): what a fold may train on beside its gold provisions."""
    platforms = {service_key(g.platform) for g in held_out}
    return [s for s in external if service_key(s.group.removeprefix("tosdr:")) not in platforms]


def service_key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def train(
    out: Path = ARTIFACT_DIR, cfg: TrainConfig | None = None, n_jobs: int = 2
) -> dict[str, Any]:
    cfg = cfg or TrainConfig()
    taxonomy = default_taxonomy()
    started = time.perf_counter()
    gold = load_gold()
    external = external_samples(taxonomy) if cfg.external else []
    cands, _ = gold_oof(taxonomy, gold, external, cfg, n_jobs)
    policy = tune_policy(cands, gold)
    pipeline = fit_pipeline(taxonomy, gold, external, cfg, policy)
    pipeline.report = {
        "config": asdict(cfg),
        "gold": len(gold),
        "external": len(external),
        "classes": len(pipeline.types.classes),
        "high_threshold": pipeline.severity.high_threshold,
        "policy": asdict(policy),
        "seconds": round(time.perf_counter() - started, 1),
    }
    save_artifact(out, pipeline)
    return pipeline.report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ARTIFACT_DIR)
    parser.add_argument("--jobs", type=int, default=2, help="folds fitted in parallel")
    args = parser.parse_args(argv)
    print(json.dumps(train(args.out, n_jobs=args.jobs), indent=2))


if __name__ == "__main__":
    main()
