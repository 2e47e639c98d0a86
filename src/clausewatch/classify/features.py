"""Text features shared by training and inference: TF-IDF word and char n-grams of the text,
TF-IDF words of its heading (context) and, optionally, trigger-phrase indicators."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from clausewatch.classify.taxonomy import Taxonomy

_TAG_RE = re.compile(r"<[^>]{0,200}>")
_WS_RE = re.compile(r"\s+")
TRIGGER_WEIGHT = 0.5
# Trigger indicators as model features: off by default (regex matching of every type on every
# text costs more than the n-grams; triggers still decide evidence basis and rule-only types).
USE_TRIGGERS = False
# Words of the provision's heading (path) as a separate, down-weighted block: the section a
# sentence sits in ("Limitation of Liability", "Dispute Resolution") is strong context.
HEADING_WEIGHT = 0.5
MAX_HEADING = 5000


def clean_text(text: str) -> str:
    """Strip stray HTML and collapse whitespace (training corpora carry both)."""
    return _WS_RE.sub(" ", html.unescape(_TAG_RE.sub(" ", text))).strip()


WORD_TOKENS = r"(?u)\b\w+\b"
HEADING_TOKENS = r"(?u)\b[^\W\d]\w+\b"  # words, no section numbers


def _word_vectorizer(
    max_features: int | None,
    vocabulary: dict[str, int] | None = None,
    token_pattern: str = WORD_TOKENS,
) -> TfidfVectorizer:
    return TfidfVectorizer(
        ngram_range=(1, 2),
        min_df=2,
        max_features=max_features,
        sublinear_tf=True,
        lowercase=True,
        token_pattern=token_pattern,
        vocabulary=vocabulary,
        dtype=np.float32,
    )


def _heading_vectorizer(
    max_features: int | None, vocabulary: dict[str, int] | None = None
) -> TfidfVectorizer:
    return _word_vectorizer(max_features, vocabulary, HEADING_TOKENS)


def _char_vectorizer(
    max_features: int | None, vocabulary: dict[str, int] | None = None
) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        min_df=3,
        max_features=max_features,
        sublinear_tf=True,
        lowercase=True,
        vocabulary=vocabulary,
        dtype=np.float32,
    )


class Featurizer:
    """Word + char TF-IDF of the text, word TF-IDF of its heading (weighted
    :data:`HEADING_WEIGHT`; empty when there is none) and, optionally, one indicator per clause
    type whose trigger matches."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        max_word: int = 30000,
        max_char: int = 30000,
        use_triggers: bool = USE_TRIGGERS,
    ) -> None:
        self.taxonomy = taxonomy
        self.use_triggers = use_triggers
        self.word = _word_vectorizer(max_word)
        self.char = _char_vectorizer(max_char)
        self.head: TfidfVectorizer | None = _heading_vectorizer(MAX_HEADING)

    def fit(self, texts: list[str], headings: list[str] | None = None) -> Featurizer:
        self.word.fit(texts)
        self.char.fit(texts)
        heads = [h for h in headings or [] if h]
        if len(heads) < 2 or self.head is None:
            self.head = None
        else:
            try:
                self.head.fit(heads)
            except ValueError:  # no heading word occurs twice
                self.head = None
        return self

    def trigger_matrix(self, texts: list[str]) -> sp.csr_matrix:
        rows, cols = [], []
        for i, text in enumerate(texts):
            for j, ctype in enumerate(self.taxonomy.types):
                if any(p.search(text) for p in ctype.triggers):
                    rows.append(i)
                    cols.append(j)
        data = np.full(len(rows), TRIGGER_WEIGHT, dtype=np.float32)
        shape = (len(texts), len(self.taxonomy.types))
        return sp.csr_matrix((data, (rows, cols)), shape=shape)

    def transform(
        self, texts: list[str], headings: Sequence[str | None] | None = None
    ) -> sp.csr_matrix:
        parts = [self.word.transform(texts), self.char.transform(texts)]
        if self.head is not None:
            heads = [h or "" for h in headings] if headings else [""] * len(texts)
            parts.append(self.head.transform(heads) * HEADING_WEIGHT)
        if self.use_triggers:
            parts.append(self.trigger_matrix(texts))
        return sp.hstack(parts, format="csr")

    @property
    def n_features(self) -> int:
        extra = len(self.taxonomy.types) if self.use_triggers else 0
        if self.head is not None:
            extra += len(self.head.vocabulary_)
        return len(self.word.vocabulary_) + len(self.char.vocabulary_) + extra

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-able vocabularies and numpy arrays (idf vectors)."""
        meta = {
            "word_vocab": _ordered_vocab(self.word.vocabulary_),
            "char_vocab": _ordered_vocab(self.char.vocabulary_),
            "trigger_types": self.taxonomy.ids,
            "use_triggers": self.use_triggers,
            "head_vocab": _ordered_vocab(self.head.vocabulary_) if self.head else [],
        }
        arrays = {
            "word_idf": self.word.idf_.astype(np.float32),
            "char_idf": self.char.idf_.astype(np.float32),
        }
        if self.head is not None:
            arrays["head_idf"] = self.head.idf_.astype(np.float32)
        return meta, arrays

    @classmethod
    def from_state(
        cls, taxonomy: Taxonomy, meta: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> Featurizer:
        if meta["trigger_types"] != taxonomy.ids:
            raise ValueError("artifact was trained with a different taxonomy; retrain the model")
        self = cls(taxonomy, use_triggers=bool(meta.get("use_triggers", True)))
        self.word = _word_vectorizer(None, {t: i for i, t in enumerate(meta["word_vocab"])})
        self.char = _char_vectorizer(None, {t: i for i, t in enumerate(meta["char_vocab"])})
        self.word.idf_ = arrays["word_idf"]
        self.char.idf_ = arrays["char_idf"]
        self.head = None
        if meta.get("head_vocab"):
            self.head = _heading_vectorizer(None, {t: i for i, t in enumerate(meta["head_vocab"])})
            self.head.idf_ = arrays["head_idf"]
        return self


def _ordered_vocab(vocab: dict[str, int]) -> list[str]:
    out = [""] * len(vocab)
    for term, idx in vocab.items():
        out[idx] = term
    return out
