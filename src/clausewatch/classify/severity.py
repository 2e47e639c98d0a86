"""Severity of a clause: the taxonomy default, its modifiers, CLAUDETTE fairness and polarity,
combined by a model learned on the gold set.

* **Modifiers** (``taxonomy.yaml``) are matched on the raw text *and* on its normalised form
  (:mod:`clausewatch.classify.normtext`), so "non-refundable", "nonrefundable" and
  "non refundable" are one phrase and ``will not “sell”`` reads ``will not sell``. The quote a
  reason shows is always the original words.
* **Fairness**: for the types mapped to CLAUDETTE tags, a per-tag model trained on CLAUDETTE's
  levels (1 fair, 2 potentially unfair, 3 clearly unfair) gives P(unfair) and P(clearly unfair).
* **Combination**: a multinomial logistic regression over (type, taxonomy default, modifier
  effects, fairness) learned on the gold severities. High is only said when P(High) clears a
  threshold tuned for precision; otherwise Medium when P(Medium) + P(High) is at least P(Low).
  A negated clause ("we do not sell …") is always Low.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from clausewatch.classify.conventions import apply_conventions
from clausewatch.classify.normtext import NormText, normalise
from clausewatch.classify.taxonomy import SEVERITIES, ClauseType, Modifier, Taxonomy

NEGATED_REASON = "Low: the provider states that it does not do this"
FAIRNESS_PREFIX = "Compared with CLAUDETTE's annotated clauses"
# Fairness features: P(level >= 2), P(level 3) and "no CLAUDETTE model for this type".
N_FAIRNESS = 3


@dataclass(frozen=True)
class ModifierHit:
    modifier: Modifier
    quote: str  # exact original words


def modifier_hits(ctype: ClauseType, text: str, norm: NormText | None = None) -> list[ModifierHit]:
    """The type's modifiers that match ``text`` (raw or normalised), with the original words."""
    hits = []
    for mod in ctype.modifiers:
        m = mod.pattern.search(text)
        if m is not None:
            hits.append(ModifierHit(mod, m.group(0)))
            continue
        norm = norm or normalise(text)
        m = mod.pattern.search(norm.text)
        if m is not None:
            hits.append(ModifierHit(mod, norm.quote(m.start(), m.end())))
    return hits


def rule_severity(ctype: ClauseType, hits: list[ModifierHit]) -> str:
    """The default moved one step per matching modifier (the rule the model starts from)."""
    level = SEVERITIES.index(ctype.severity)
    level += sum(1 if h.modifier.effect == "raise" else -1 for h in hits)
    return SEVERITIES[max(0, min(level, len(SEVERITIES) - 1))]


def reasons(ctype: ClauseType, hits: list[ModifierHit], fairness: tuple[float, float] | None,
            severity: str) -> tuple[str, ...]:  # fmt: skip
    out = [f"Default for {ctype.name}: {ctype.severity}"]
    out += [f"{h.modifier.effect}s: {h.modifier.reason} (\u201c{h.quote}\u201d)" for h in hits]
    if fairness is not None:
        unfair, clear = fairness
        out.append(f"{FAIRNESS_PREFIX}: {unfair:.0%} likely unfair, {clear:.0%} clearly unfair")
    if severity != ctype.severity or len(out) > 1:
        out.append(f"Assessed: {severity}")
    return tuple(out)


def severity_features(
    taxonomy: Taxonomy, type_id: str, hits: list[ModifierHit], fairness: tuple[float, float] | None
) -> np.ndarray:
    """One row of the combination model's input (see the module docstring)."""
    n = len(taxonomy.ids)
    row = np.zeros(n + 3 + 2 + N_FAIRNESS, dtype=np.float32)
    row[taxonomy.ids.index(type_id)] = 1.0
    ctype = taxonomy.by_id[type_id]
    row[n + SEVERITIES.index(ctype.severity)] = 1.0
    row[n + 3] = sum(h.modifier.effect == "raise" for h in hits)
    row[n + 4] = sum(h.modifier.effect == "lower" for h in hits)
    if fairness is None:
        row[n + 7] = 1.0
    else:
        row[n + 5], row[n + 6] = fairness
    return row


@dataclass
class SeverityModel:
    """Multinomial LR over :data:`SEVERITIES` on the provision's text features followed by the
    rows of :func:`severity_features`, and the P(High) threshold that keeps High precise."""

    coef: np.ndarray  # (text features + severity features) x 3
    intercept: np.ndarray  # 3
    high_threshold: float

    def text_logits(self, text_x: sp.csr_matrix) -> np.ndarray:
        """The text features' share of the logits, rows x 3: computed once per batch of
        provisions, since every candidate type of a provision shares it."""
        return np.asarray(text_x @ self.coef[: text_x.shape[1]])

    def decide(self, text_x: sp.csr_matrix, features: np.ndarray) -> list[str]:
        return self.decide_logits(self.text_logits(text_x), features)

    def decide_logits(self, text_z: np.ndarray, features: np.ndarray) -> list[str]:
        """``text_z`` from :meth:`text_logits`, one row per row of ``features``."""
        n_text = self.coef.shape[0] - features.shape[1]
        z = text_z + features @ self.coef[n_text:] + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        out = []
        for low, medium, high in p:
            if high >= self.high_threshold:
                out.append("High")
            else:  # a likely High not said is still at least Medium
                out.append("Medium" if medium + high >= low else "Low")
        return out


def severity_of(ctype: ClauseType, text: str) -> tuple[str, tuple[str, ...]]:
    """The rule alone (default and modifiers; a negated provider practice is Low): used where
    no model score exists, e.g. comparing two versions of a sentence."""
    from clausewatch.classify.polarity import negated_practice

    if ctype.actor == "provider" and negated_practice(text) is not None:
        return "Low", (f"Default for {ctype.name}: {ctype.severity}", NEGATED_REASON)
    hits = modifier_hits(ctype, text)
    level = rule_severity(ctype, hits)
    return apply_conventions(ctype.id, text, level, reasons(ctype, hits, None, level))
