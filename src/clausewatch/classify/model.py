"""Multi-label clause classifier over the taxonomy (CPU, shipped artifact, lazy loading).

``classify(text, heading=None)`` returns one :class:`Prediction` per clause type found, with a
calibrated confidence, the severity and its reasons, the evidence basis and the exact supporting
words (always ``text[start:end]``).
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clausewatch.classify.taxonomy import SEVERITIES, ClauseType, Taxonomy, default_taxonomy

if TYPE_CHECKING:
    from clausewatch.classify.features import Featurizer
    from clausewatch.classify.train import TypeModel

ARTIFACT_DIR = Path(__file__).with_name("model")
META_FILE = "clause_model.json.gz"
ARRAYS_FILE = "clause_model.npz"
RULE_CONFIDENCE = 0.75  # rule-only types: a trigger phrase matched, no trained model
HEADING_WEIGHT = 0.5  # a trigger in the heading halves the remaining doubt
EXPLICIT = "explicit language"
INFERRED = "inferred"
_SENTENCE_RE = re.compile(r"[^\n.!?;]*(?:[.!?;]+|\n|$)")


@dataclass(frozen=True)
class Prediction:
    type_id: str
    score: float  # raw linear margin (rule-only types: 0.0)
    confidence: float  # calibrated probability that the type applies
    severity: str  # High / Medium / Low
    severity_reasons: tuple[str, ...]
    evidence_basis: str  # "explicit language" | "inferred"
    supporting_text: str  # == text[start:end]
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["severity_reasons"] = list(self.severity_reasons)
        return out


def save_artifact(
    out: Path, featurizer: Featurizer, models: dict[str, TypeModel], report: dict[str, Any]
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    meta, arrays = _state(featurizer, models, report)
    save_npz: Any = np.savez_compressed  # numpy's stub mistypes **arrays
    save_npz(out / ARRAYS_FILE, **arrays)
    with gzip.open(out / META_FILE, "wt", encoding="utf-8") as fh:
        json.dump(meta, fh)


def _state(
    featurizer: Featurizer, models: dict[str, TypeModel], report: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    meta, arrays = featurizer.to_state()
    type_ids = list(models)
    meta.update({"format": 1, "type_ids": type_ids, "report": report})
    arrays["coef"] = np.stack([models[t].coef for t in type_ids]).astype(np.float16)
    for name in ("intercept", "platt_a", "platt_b", "threshold"):
        arrays[name] = np.array([getattr(models[t], name) for t in type_ids], dtype=np.float32)
    return meta, arrays


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Non-empty sentence spans, trimmed of surrounding whitespace."""
    spans = []
    for m in _SENTENCE_RE.finditer(text):
        start, end = m.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans or [(0, len(text))]


def severity_of(ctype: ClauseType, text: str) -> tuple[str, tuple[str, ...]]:
    """Default severity moved one step per matching modifier (raise / lower)."""
    level = SEVERITIES.index(ctype.severity)
    reasons = [f"Default for {ctype.name}: {ctype.severity}"]
    for mod in ctype.modifiers:
        m = mod.pattern.search(text)
        if m is None:
            continue
        level += 1 if mod.effect == "raise" else -1
        reasons.append(f"{mod.effect}s: {mod.reason} (\u201c{m.group(0)}\u201d)")
    return SEVERITIES[max(0, min(level, len(SEVERITIES) - 1))], tuple(reasons)


class ClauseClassifier:
    """Loaded artifact + taxonomy. Use :func:`default_classifier` for the shipped one."""

    def __init__(self, directory: Path = ARTIFACT_DIR, taxonomy: Taxonomy | None = None) -> None:
        self.taxonomy = taxonomy or default_taxonomy()
        with gzip.open(directory / META_FILE, "rt", encoding="utf-8") as fh:
            meta = json.load(fh)
        with np.load(directory / ARRAYS_FILE) as npz:
            arrays = {k: npz[k] for k in npz.files}
        self._init_state(meta, arrays)

    @classmethod
    def from_models(
        cls, taxonomy: Taxonomy, featurizer: Featurizer, models: dict[str, TypeModel]
    ) -> ClauseClassifier:
        """An in-memory classifier (used by the evaluation, which never writes artifacts)."""
        meta, arrays = _state(featurizer, models, {})
        self = cls.__new__(cls)
        self.taxonomy = taxonomy
        self._init_state(meta, arrays)
        return self

    def _init_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        from clausewatch.classify.features import Featurizer

        self.featurizer = Featurizer.from_state(self.taxonomy, meta, arrays)
        self.type_ids: list[str] = meta["type_ids"]
        self.coef = arrays["coef"].astype(np.float32).T  # features x types
        self.intercept = arrays["intercept"]
        self.platt_a, self.platt_b = arrays["platt_a"], arrays["platt_b"]
        self.threshold = arrays["threshold"]
        self._index = {t: j for j, t in enumerate(self.type_ids)}
        self.rule_only = [t.id for t in self.taxonomy.types if t.id not in set(self.type_ids)]
        self.report: dict[str, Any] = meta.get("report", {})

    def margins(self, texts: list[str], headings: list[str | None] | None = None) -> np.ndarray:
        x = self.featurizer.transform(texts, headings)
        return np.asarray(x @ self.coef) + self.intercept

    def probabilities(self, margins: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.platt_a * margins + self.platt_b)))

    def classify_many(
        self, texts: list[str], headings: list[str | None] | None = None
    ) -> list[list[Prediction]]:
        heads = headings or [None] * len(texts)
        margins = self.margins(texts, heads)
        probs = self.probabilities(margins)
        results = [
            self._predict_one(text, head, margins[i], probs[i])
            for i, (text, head) in enumerate(zip(texts, heads, strict=True))
        ]
        self._refine_inferred(texts, heads, results)
        return [sorted(preds, key=lambda pred: -pred.confidence) for preds in results]

    def _predict_one(
        self, text: str, heading: str | None, margin: np.ndarray, prob: np.ndarray
    ) -> list[Prediction]:
        out: list[Prediction] = []
        spans = sentence_spans(text)
        for j, type_id in enumerate(self.type_ids):
            p = self._with_heading(float(prob[j]), type_id, heading)
            if p >= float(self.threshold[j]):
                out.append(self._prediction(text, spans, type_id, float(margin[j]), p))
        for type_id in self.rule_only:
            if _first_trigger(self.taxonomy.by_id[type_id], text) is not None:
                p = self._with_heading(RULE_CONFIDENCE, type_id, heading)
                out.append(self._prediction(text, spans, type_id, 0.0, p))
        return out

    def _refine_inferred(
        self, texts: list[str], heads: list[str | None], results: list[list[Prediction]]
    ) -> None:
        """Inferred predictions on multi-sentence texts: support = best-scoring sentence
        (all such sentences scored in one batch)."""
        todo = [
            (i, spans)
            for i, preds in enumerate(results)
            if any(p.evidence_basis == INFERRED and p.score != 0.0 for p in preds)
            and len(spans := sentence_spans(texts[i])) > 1
        ]
        if not todo:
            return
        pieces = [texts[i][a:b] for i, spans in todo for a, b in spans]
        sent_margins = self.margins(pieces, [heads[i] for i, spans in todo for _ in spans])
        offset = 0
        for i, spans in todo:
            block = sent_margins[offset : offset + len(spans)]
            offset += len(spans)
            results[i] = [self._refined(texts[i], p, spans, block) for p in results[i]]

    def _refined(
        self, text: str, pred: Prediction, spans: list[tuple[int, int]], block: np.ndarray
    ) -> Prediction:
        if pred.evidence_basis != INFERRED or pred.type_id not in self._index:
            return pred
        a, b = spans[int(np.argmax(block[:, self._index[pred.type_id]]))]
        return replace(pred, supporting_text=text[a:b], start=a, end=b)

    def _with_heading(self, prob: float, type_id: str, heading: str | None) -> float:
        if heading and _first_trigger(self.taxonomy.by_id[type_id], heading) is not None:
            return 1.0 - (1.0 - prob) * HEADING_WEIGHT
        return prob

    def _prediction(
        self, text: str, spans: list[tuple[int, int]], type_id: str, margin: float, prob: float
    ) -> Prediction:
        """Explicit language: the sentence with the first trigger match; else the first
        sentence (multi-sentence texts are refined to the best-scoring sentence by the caller)."""
        ctype = self.taxonomy.by_id[type_id]
        hit = _first_trigger(ctype, text)
        span = spans[0]
        if hit is not None:
            span = next((s for s in spans if s[0] <= hit < s[1]), spans[0])
        severity, reasons = severity_of(ctype, text)
        return Prediction(
            type_id, round(margin, 4), round(prob, 4), severity, reasons,
            EXPLICIT if hit is not None else INFERRED, text[span[0] : span[1]], span[0], span[1],
        )  # fmt: skip


def _first_trigger(ctype: ClauseType, text: str) -> int | None:
    starts = [m.start() for p in ctype.triggers if (m := p.search(text)) is not None]
    return min(starts) if starts else None


@lru_cache(maxsize=1)
def default_classifier() -> ClauseClassifier:
    """The shipped artifact, loaded once on first use."""
    return ClauseClassifier()


def classify(text: str, heading: str | None = None) -> list[Prediction]:
    """Clause types found in ``text`` (optionally with its heading path), best first."""
    if not text.strip():
        return []
    return default_classifier().classify_many([text], [heading])[0]
