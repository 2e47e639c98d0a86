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
from sklearn.preprocessing import normalize

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
# Vocabulary caps of the text's word and char n-grams. 100k each against 30k: on the gold folds
# main accuracy 0.665 -> 0.666, shown precision 0.889 -> 0.891, recall 0.594 -> 0.598, for an
# artifact of 16 MB instead of 6 (docs/classification.md, "A larger vocabulary").
MAX_WORD = 100_000
MAX_CHAR = 100_000
CHAR_CACHE_WORDS = 200_000  # distinct words whose char n-gram columns are kept (then cleared)


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
        max_word: int = MAX_WORD,
        max_char: int = MAX_CHAR,
        use_triggers: bool = USE_TRIGGERS,
    ) -> None:
        self.taxonomy = taxonomy
        self.use_triggers = use_triggers
        self.word = _word_vectorizer(max_word)
        self.char = _char_vectorizer(max_char)
        self.head: TfidfVectorizer | None = _heading_vectorizer(MAX_HEADING)
        self._char_counter: CharCounter | None = None

    def fit(self, texts: list[str], headings: list[str] | None = None) -> Featurizer:
        self.word.fit(texts)
        self.char.fit(texts)
        self._char_counter = None  # its cached columns belong to the vocabulary before
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
        if self._char_counter is None or self._char_counter.vectorizer is not self.char:
            self._char_counter = CharCounter(self.char)
        parts = [self.word.transform(texts), self._char_counter.transform(texts)]
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


class CharCounter:
    """The fitted char_wb vectorizer's TF-IDF, counted word by word: a char_wb n-gram never
    crosses a space, so a text's n-grams are its words' n-grams, and each distinct word's
    vocabulary columns are found once and kept. The same matrix as ``vectorizer.transform``
    (``tests/test_classify.py`` compares them on real provisions) in about a third of the time:
    sklearn looks up every n-gram of every word in a Python dict."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.vectorizer = vectorizer
        self._vocabulary: dict[str, int] = vectorizer.vocabulary_
        self._min_n, self._max_n = vectorizer.ngram_range
        self._columns: dict[str, list[int]] = {}

    def _word_columns(self, word: str) -> list[int]:
        padded = f" {word} "
        vocab = self._vocabulary
        out = []
        for n in range(self._min_n, self._max_n + 1):
            grams = [padded[i : i + n] for i in range(max(1, len(padded) - n + 1))]
            out += [vocab[g] for g in grams if g in vocab]
            if len(padded) <= n:  # as sklearn: a word no longer than n is one n-gram, then stop
                break
        return out

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        if len(self._columns) > CHAR_CACHE_WORDS:
            self._columns.clear()
        cache = self._columns
        indices: list[int] = []
        indptr = [0]
        for text in texts:
            for word in text.lower().split():
                cols = cache.get(word)
                if cols is None:
                    cols = cache[word] = self._word_columns(word)
                indices += cols
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float32)
        shape = (len(texts), len(self._vocabulary))
        x = sp.csr_matrix((data, np.asarray(indices, dtype=np.int32), indptr), shape=shape)
        x.sum_duplicates()
        return x

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        x = self.counts(texts)
        np.log(x.data, x.data)  # sublinear tf, idf, l2: as TfidfTransformer.transform
        x.data += 1.0
        x.data *= self.vectorizer.idf_[x.indices]
        return normalize(x, norm="l2", copy=False)
