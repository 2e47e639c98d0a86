"""Clause classifier over the taxonomy (CPU, shipped artifact, lazy loading).

``classify(text, heading=None)`` returns the clause types of a provision, main type first, each
with a confidence, the severity and its reasons, the evidence basis and the exact supporting
words (always ``text[start:end]``).

How a provision is read (``docs/classification.md`` has the measurements behind each step):

1. The provision is split into sentences (:mod:`clausewatch.classify.sentences`); the whole text
   and each sentence are scored by one multinomial model over every type and ``none``, with the
   heading path as context. A type's score is its best over the whole text and its sentences;
   ``none`` is the whole text's.
2. The two best types are candidates. Polarity rules read each candidate's best sentence
   (:mod:`clausewatch.classify.polarity`), for types whose ``actor`` is the provider: a rule
   addressed to users is ``acceptable-use``; a licence granted *to* the user is not the user's
   licence to the platform; a user's right to terminate is not the platform's; "we do not
   sell …" is negated (shown Low, never High).
3. Severity: :mod:`clausewatch.classify.severity`.
4. A candidate is shown when its score clears its type's threshold (tuned for precision).
   A heading alone never forces a type.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from clausewatch.classify.conventions import apply_conventions
from clausewatch.classify.polarity import (
    addressed_to_user,
    licence_direction,
    list_lead_in,
    negated_practice,
    user_right,
)
from clausewatch.classify.sentences import sentence_spans
from clausewatch.classify.severity import (
    NEGATED_REASON,
    SeverityModel,
    modifier_hits,
    reasons,
    severity_features,
)
from clausewatch.classify.taxonomy import BOILERPLATE, ClauseType, Taxonomy, default_taxonomy

if TYPE_CHECKING:
    from clausewatch.classify.features import Featurizer

ARTIFACT_DIR = Path(__file__).with_name("model")
META_FILE = "clause_model.json.gz"
ARRAYS_FILE = "clause_model.npz"
FORMAT = 2
EXPLICIT = "explicit language"
INFERRED = "inferred"
NONE = "none"  # the class of provisions that carry no clause
MAX_UNITS = 200  # sentences scored per provision (a 1 MB text is read, not scored to the end)
SUPPORT_ALTERNATIVES = 4  # sentences weighed against a negated best one (the best included)
SUPPORT_FLOOR = 0.25  # ... each taken when the type is this probable for it alone (0.3 missed
# Tumblr's "we may share some of your information with advertising partners" at 0.298)
# The inference rules applied around the artifact (polarity, supporting sentence, which words
# count for severity): part of the analyser fingerprint, so a rule change re-analyses archives.
INFERENCE_RULES = "8"  # 2: modifiers read only in sentences that can state the practice;
# 3: a likely High not said is Medium, supporting-sentence floor 0.25; 4: the segment context
# (list lead-in, table header) read by the text features and, a lead-in, by the polarity rules;
# the last practice of a negated list ("won't appear in history … or be used to train") negated;
# 5: a denial in a "which we don't …" clause, or one followed by "but can …", is not negated;
# 6: a denial inside a condition ("if the information is not shared") is not negated, and a
# table cell that ends with a full stop ends its sentence; 7: a consequence ("you may not be
# able to"), "Do Not Track" as a name and the provider's own acts are not rules for users; fees
# are a user's duty; 8: a High arbitration is Medium when its document lets users opt out of the
# agreement, in the provision or (read by the analysis) anywhere in its version, and a change
# clause that gives notice is Medium; a liability or warranty carve-out is Low
# (classify/conventions.py)
USER_RULES = "acceptable-use"
# A user's duty that is the clause itself: "Customer must pay all undisputed Fees" is the fee
# clause, not a rule of conduct (read on the gold set: 28 of 30 such conversions were wrong)
USER_DUTY_TYPES = ("fees-auto-renewal",)
USER_RIGHT_TYPES = ("unilateral-termination", "account-suspension")
LICENCE_TYPE = "license-to-user-content"
Span = tuple[int, int]


@dataclass(frozen=True)
class Prediction:
    type_id: str
    score: float  # the model's probability for the type (before polarity)
    confidence: float  # the probability shown to users
    severity: str  # High / Medium / Low
    severity_reasons: tuple[str, ...]
    evidence_basis: str  # "explicit language" | "inferred"
    supporting_text: str  # == text[start:end]
    start: int
    end: int

    @property
    def negated(self) -> bool:
        """The provider states it does *not* do this (read from the reasons, so a prediction
        rebuilt from stored rows says the same)."""
        return NEGATED_REASON in self.severity_reasons

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["severity_reasons"] = list(self.severity_reasons)
        out["negated"] = self.negated
        return out


@dataclass
class TypeModel:
    """Multinomial LR: softmax over ``classes`` (clause type ids and :data:`NONE`)."""

    classes: list[str]
    coef: np.ndarray  # features x classes
    intercept: np.ndarray

    def probabilities(self, x: sp.csr_matrix) -> np.ndarray:
        return softmax(np.asarray(x @ self.coef) + self.intercept)


@dataclass
class FairnessModel:
    """Per CLAUDETTE tag: two binary LRs (unfair, clearly unfair) as columns of ``coef``."""

    tags: list[str]
    coef: np.ndarray  # features x (2 * tags)
    intercept: np.ndarray

    def probabilities(self, x: sp.csr_matrix) -> np.ndarray:
        """rows x (2 * tags): P(unfair), P(clearly unfair) for each tag."""
        return 1.0 / (1.0 + np.exp(-(np.asarray(x @ self.coef) + self.intercept)))


@dataclass
class Policy:
    thresholds: dict[str, float]  # per type id; others use ``pooled``
    pooled: float
    other: float  # a second type is shown when its probability reaches this

    def threshold(self, type_id: str) -> float:
        return self.thresholds.get(type_id, self.pooled)


def feature_text(text: str, context: str | None) -> str:
    """What the text features of a whole provision read: its segment context first (a list
    item's lead-in, "We may share your information with:"; a table row's header row), then its
    text. A list item or table row alone often does not say what it is about (measured on the
    gold set: docs/classification.md). Sentences, quotes and severity modifiers read the
    provision's own text only."""
    return f"{context}\n{text}" if context else text


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fairness_of(
    taxonomy: Taxonomy, fairness: FairnessModel, type_id: str, probs: np.ndarray
) -> tuple[float, float] | None:
    """(P(unfair), P(clearly unfair)) of a type from one row of :meth:`FairnessModel.probabilities`
    (the most unfair of the type's CLAUDETTE tags, ``Taxonomy.fairness_tags``), or None for
    types CLAUDETTE does not rate."""
    tags = [t for t in taxonomy.fairness_tags(type_id) if t in fairness.tags]
    if not tags:
        return None
    js = [fairness.tags.index(t) for t in tags]
    return max(float(probs[2 * j]) for j in js), max(float(probs[2 * j + 1]) for j in js)


@dataclass
class Pipeline:
    """Everything a classifier needs, as trained (see :mod:`clausewatch.classify.train`)."""

    featurizer: Featurizer
    types: TypeModel
    fairness: FairnessModel
    severity: SeverityModel
    policy: Policy
    report: dict[str, Any]
    aggregate_sentences: bool = False  # a type's score: its best unit, else the whole text's


def save_artifact(out: Path, pipeline: Pipeline) -> None:
    """Vocabularies and settings as gzipped JSON, weights as one npz: no pickle."""
    meta, arrays = pipeline.featurizer.to_state()
    meta.update(
        {
            "format": FORMAT,
            "classes": pipeline.types.classes,
            "fairness_tags": pipeline.fairness.tags,
            "high_threshold": pipeline.severity.high_threshold,
            "policy": asdict(pipeline.policy),
            "aggregate_sentences": pipeline.aggregate_sentences,
            "report": pipeline.report,
        }
    )
    arrays.update(
        {
            "type_coef": pipeline.types.coef.astype(np.float16),
            "type_intercept": pipeline.types.intercept,
            "fair_coef": pipeline.fairness.coef.astype(np.float16),
            "fair_intercept": pipeline.fairness.intercept,
            "sev_coef": pipeline.severity.coef,
            "sev_intercept": pipeline.severity.intercept,
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (ARRAYS_FILE + ".tmp")
    with tmp.open("wb") as fh:
        np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
    tmp.replace(out / ARRAYS_FILE)
    tmp = out / (META_FILE + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as gz:
        json.dump(meta, gz)
    tmp.replace(out / META_FILE)


def load_pipeline(directory: Path, taxonomy: Taxonomy) -> Pipeline:
    from clausewatch.classify.features import Featurizer

    with gzip.open(directory / META_FILE, "rt", encoding="utf-8") as fh:
        meta = json.load(fh)
    if meta.get("format") != FORMAT:
        raise ValueError(
            f"{directory / META_FILE}: model format {meta.get('format')!r}, expected {FORMAT}; "
            "retrain with 'clausewatch model train'"
        )
    with np.load(directory / ARRAYS_FILE) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return Pipeline(
        featurizer=Featurizer.from_state(taxonomy, meta, arrays),
        types=TypeModel(
            meta["classes"], arrays["type_coef"].astype(np.float32), arrays["type_intercept"]
        ),
        fairness=FairnessModel(
            meta["fairness_tags"], arrays["fair_coef"].astype(np.float32), arrays["fair_intercept"]
        ),
        severity=SeverityModel(arrays["sev_coef"], arrays["sev_intercept"], meta["high_threshold"]),
        policy=Policy(**meta["policy"]),
        report=meta.get("report", {}),
        aggregate_sentences=bool(meta.get("aggregate_sentences", False)),
    )


class ClauseClassifier:
    """A loaded pipeline + taxonomy. Use :func:`default_classifier` for the shipped one."""

    def __init__(self, directory: Path = ARTIFACT_DIR, taxonomy: Taxonomy | None = None) -> None:
        self.taxonomy = taxonomy or default_taxonomy()
        self._init(load_pipeline(directory, self.taxonomy))

    @classmethod
    def from_pipeline(cls, taxonomy: Taxonomy, pipeline: Pipeline) -> ClauseClassifier:
        """An in-memory classifier (the evaluation never writes artifacts)."""
        self = cls.__new__(cls)
        self.taxonomy = taxonomy
        self._init(pipeline)
        return self

    def _init(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.classes = pipeline.types.classes
        self.type_ids = [c for c in self.classes if c != NONE]
        self._type_cols = np.array([self.classes.index(t) for t in self.type_ids])
        self._none_col = self.classes.index(NONE) if NONE in self.classes else None
        self._sentence_types = np.array([t != BOILERPLATE for t in self.type_ids])
        self.report = pipeline.report

    # -- scoring ---------------------------------------------------------------------------------
    def classify_many(
        self,
        texts: list[str],
        headings: list[str | None] | None = None,
        contexts: list[str | None] | None = None,
    ) -> list[list[Prediction]]:
        """Shown predictions per text, main type first."""
        policy = self.pipeline.policy
        cands = self.candidates_many(texts, headings, contexts, policy)
        return [apply_policy(c, policy) for c in cands]

    def candidates_many(
        self,
        texts: list[str],
        headings: list[str | None] | None = None,
        contexts: list[str | None] | None = None,
        policy: Policy | None = None,
    ) -> list[list[Prediction]]:
        """Up to two candidate types per text (best first) after polarity, before the policy's
        thresholds: what the evaluation tunes the policy on. ``contexts``: each text's segment
        context (a list item's lead-in, a table row's header), read by the whole text's
        features (``feature_text``) and, for a lead-in, by the polarity rules. With a
        ``policy``, a text none of whose candidates can be shown gets none (its sentences are
        not scored: the shown result is the same, in about half the time)."""
        heads: list[str | None] = list(headings) if headings is not None else [None] * len(texts)
        ctxs: list[str | None] = list(contexts) if contexts is not None else [None] * len(texts)
        spans = [sentence_spans(t)[:MAX_UNITS] if t.strip() else [] for t in texts]
        units = [feature_text(text, ctx) for text, ctx in zip(texts, ctxs, strict=True)]
        x = self.pipeline.featurizer.transform(units, [h or "" for h in heads])
        probs = self.pipeline.types.probabilities(x)
        fair = self.pipeline.fairness.probabilities(x)
        sev_z = self.pipeline.severity.text_logits(x)
        tops = [self._top(probs[i], policy) if spans[i] else [] for i in range(len(texts))]
        sentence_probs = self._sentence_probs(texts, heads, spans, tops, probs)
        # the polarity rules read a list item's lead-in ("You must not:") after its headings
        heads = [
            f"{head or ''} > {ctx}" if ctx and ctx.rstrip("*_ ").endswith(":") else head
            for head, ctx in zip(heads, ctxs, strict=True)
        ]
        return [
            self._candidates(texts[i], heads[i], spans[i], tops[i], sentence_probs[i],
                             fair[i], sev_z[i])
            for i in range(len(texts))
        ]  # fmt: skip

    def _top(self, row: np.ndarray, policy: Policy | None) -> list[tuple[int, float]]:
        """The (type index, probability) of the two best types that beat ``none``; with a
        policy, none when neither could be shown whatever polarity makes of it (a rule
        addressed to users is shown under acceptable-use's threshold)."""
        top = self._best_two(row[self._type_cols], row)
        if policy is not None:  # as apply_policy compares them: the shown (rounded) score
            floor = policy.threshold(USER_RULES)
            if all(round(p, 4) < min(policy.threshold(self.type_ids[j]), floor) for j, p in top):
                return []
        return top

    def _sentence_probs(
        self, texts: list[str], heads: list[str | None], spans: list[list[Span]],
        tops: list[list[tuple[int, float]]], probs: np.ndarray,
    ) -> list[np.ndarray | None]:  # fmt: skip
        """Each sentence's type probabilities, for the texts of several sentences that have a
        candidate (the sentences locate its supporting words)."""
        aggregate = self.pipeline.aggregate_sentences
        chosen = [i for i, s in enumerate(spans) if len(s) > 1 and (tops[i] or aggregate)]
        unit_texts = [texts[i][a:b] for i in chosen for a, b in spans[i]]
        unit_heads = [heads[i] or "" for i in chosen for _ in spans[i]]
        out: list[np.ndarray | None] = [None] * len(texts)
        if not unit_texts:
            return out
        sent = self.pipeline.types.probabilities(
            self.pipeline.featurizer.transform(unit_texts, unit_heads)
        )
        at = 0
        for i in chosen:
            out[i] = sent[at : at + len(spans[i])]
            at += len(spans[i])
        if aggregate:  # a type's best unit; boilerplate is a property of the whole provision
            for i in chosen:
                agg = probs[i, self._type_cols].copy()
                best = out[i][:, self._type_cols].max(axis=0)  # type: ignore[index]
                agg[self._sentence_types] = np.maximum(agg, best)[self._sentence_types]
                tops[i] = self._best_two(agg, probs[i])
        return out

    def _best_two(self, agg: np.ndarray, row: np.ndarray) -> list[tuple[int, float]]:
        """(type index, score) of the two best types of ``agg`` that beat the row's ``none``."""
        none_p = float(row[self._none_col]) if self._none_col is not None else 0.0
        return [(int(j), float(agg[j])) for j in np.argsort(-agg)[:2] if agg[j] > none_p]

    def _candidates(
        self, text: str, head: str | None, spans: list[Span], top: list[tuple[int, float]],
        sentence_probs: np.ndarray | None, fair: np.ndarray, sev_z: np.ndarray,
    ) -> list[Prediction]:  # fmt: skip
        out: list[Prediction] = []
        for j, prob in top:
            type_id = self.type_ids[j]
            if sentence_probs is None:
                span = (spans[0][0], spans[-1][1])
            else:
                col = self._type_cols[j]
                span = spans[self._support(text, spans, sentence_probs[:, col], type_id)]
            pred = self._prediction(text, head, span, type_id, prob, sev_z, fair, spans)
            if pred is not None and all(p.type_id != pred.type_id for p in out):
                out.append(pred)
        return out

    def _support(self, text: str, spans: list[Span], probs: np.ndarray, type_id: str) -> int:
        """The sentence that supports a type: its most probable one, unless that one negates a
        provider practice that another probable sentence states ("we may share … with
        advertising partners … We do not sell information that identifies you"): a practice
        stated anywhere outweighs a narrower denial."""
        order = np.argsort(-probs)
        best = int(order[0])
        if self.taxonomy.by_id[type_id].actor != "provider":
            return best
        if negated_practice(text[spans[best][0] : spans[best][1]]) is None:
            return best
        for alt in order[1:SUPPORT_ALTERNATIVES]:
            a, b = spans[int(alt)]
            if probs[alt] >= SUPPORT_FLOOR and negated_practice(text[a:b]) is None:
                return int(alt)
        return best

    def _prediction(
        self, text: str, head: str | None, span: Span, type_id: str, prob: float,
        sev_z: np.ndarray, fair_row: np.ndarray, spans: Sequence[Span] = (),
    ) -> Prediction | None:  # fmt: skip
        """Polarity is read on the supporting sentence; severity on the whole provision (as
        the gold severities were labelled), without the words of sentences that are not the
        provider's practice: in "You may terminate these Terms at any time and for any reason
        … your Account may be deactivated due to prolonged inactivity", "at any time" and "for
        any reason" are the user's right and must not raise the provider's termination."""
        sentence = text[span[0] : span[1]]
        ctype = self.taxonomy.by_id[type_id]
        negated = False
        if ctype.actor == "provider":
            context = list_lead_in(text, span[0]) or head
            if type_id not in USER_DUTY_TYPES and addressed_to_user(sentence, context):
                ctype = self.taxonomy.by_id[USER_RULES]
            elif (type_id == LICENCE_TYPE and licence_direction(sentence) == "to_user") or (
                type_id in USER_RIGHT_TYPES and user_right(sentence)
            ):
                return None
            else:
                negated = negated_practice(sentence) is not None
        duties = ctype.id in USER_DUTY_TYPES
        practice = (
            self._practice_text(text, head, spans, duties) if ctype.actor == "provider" else text
        )
        severity, why = self._severity(ctype, practice, sev_z, fair_row, negated)
        if not negated:
            severity, why = apply_conventions(ctype.id, text, severity, why)
        explicit = any(p.search(sentence) for p in ctype.triggers)
        return Prediction(
            ctype.id, round(prob, 4), round(prob, 4), severity, why,
            EXPLICIT if explicit else INFERRED, sentence, span[0], span[1],
        )  # fmt: skip

    def _practice_text(
        self, text: str, head: str | None, spans: Sequence[Span], duties: bool = False
    ) -> str:
        """The provision's sentences that can state a provider practice, in order: rules
        addressed to users (unless ``duties``: the type is a user's duty, as fees are), users'
        own rights and denials ("we do not…") left out (their modifier words are not the
        provider's power). Sentences are exact slices of ``text``."""
        kept = []
        for a, b in spans:
            sentence = text[a:b]
            context = list_lead_in(text, a) or head
            if (not duties and addressed_to_user(sentence, context)) or user_right(sentence):
                continue
            if negated_practice(sentence) is not None:
                continue
            kept.append(sentence)
        return "\n".join(kept) if spans else text

    def _severity(
        self, ctype: ClauseType, text: str, sev_z: np.ndarray, fair_row: np.ndarray,
        negated: bool,
    ) -> tuple[str, tuple[str, ...]]:  # fmt: skip
        if negated:
            return "Low", (f"Default for {ctype.name}: {ctype.severity}", NEGATED_REASON)
        if ctype.id == BOILERPLATE:
            return ctype.severity, (f"Default for {ctype.name}: {ctype.severity}",)
        hits = modifier_hits(ctype, text)
        fairness = fairness_of(self.taxonomy, self.pipeline.fairness, ctype.id, fair_row)
        row = severity_features(self.taxonomy, ctype.id, hits, fairness)
        level = self.pipeline.severity.decide_logits(sev_z[None, :], row[None, :])[0]
        return level, reasons(ctype, hits, fairness, level)


def apply_policy(cands: list[Prediction], policy: Policy) -> list[Prediction]:
    """The candidates shown: the main one when it clears its type's threshold, a second one
    when the main one is shown, is not ``boilerplate`` (which says the text states no clause)
    and the second clears both its own and the second-type threshold."""
    shown: list[Prediction] = []
    for k, pred in enumerate(cands):
        if pred.score < policy.threshold(pred.type_id):
            continue
        if k > 0 and (not shown or shown[0].type_id == BOILERPLATE or pred.score < policy.other):
            continue
        shown.append(pred)
    return shown


@lru_cache(maxsize=1)
def default_classifier() -> ClauseClassifier:
    """The shipped artifact, loaded once on first use."""
    return ClauseClassifier()


def classify(text: str, heading: str | None = None) -> list[Prediction]:
    """Clause types found in ``text`` (optionally with its heading path), main type first."""
    if not text.strip():
        return []
    return default_classifier().classify_many([text], [heading])[0]
