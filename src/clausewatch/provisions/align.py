"""Provision lineage: which provision of the new version continues which provision of the old one.

1. **Identity by key.** ``provision_key`` hashes the words without the clause label, list markers,
   link targets, emphasis, punctuation and whitespace, so renumbering, renamed headings and moves
   keep identity for free. Repeated texts are placed between the unique matches around them.
2. **Similarity on the remainder.** Each provision becomes a string of word symbols (one character
   per distinct lower-cased word), so ``fuzz.ratio`` is a word-level Indel similarity: unrelated
   clauses of the same document score far lower than they do character by character. Candidates
   at or above ``cutoff`` are ranked with a small bonus for staying between the same neighbours,
   near the same relative position and under the same heading, and assigned greedily.
3. **Copies.** Identical provisions are interchangeable: matched copies are re-paired so that as
   many as possible stay in place.
4. **Splits and merges.** A provision that a run of consecutive provisions on the other side
   reproduces better than its single partner, each piece being contained in it, is a split (or,
   the other way round, a merge).
5. **Moves.** The longest increasing subsequence of matched pairs (in new order, by old index) is
   the order that was kept; matched pairs outside it moved. An insertion moves nothing.

``rapidfuzz.process.cdist`` needs numpy, which is not a dependency; ``process.extract`` with a
score cutoff does the same one row at a time in C.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process

from clausewatch.provisions.segment import Segment, split_label

MatchKind = Literal["unchanged", "modified", "moved", "added", "removed", "split", "merged"]

CUTOFF = 0.55  # word-level similarity below which two provisions are unrelated
SPLIT_MIN = 0.8  # a run of pieces must reproduce the original this well to be a split or merge
STEAL_BELOW = 0.75  # a split or merge may take a piece from a weaker similarity match
CONTAINED = 85  # a piece of a split or merge must be found (partial ratio) in the whole
POSITION_BONUS = 0.08  # tie-breakers: between the same neighbours, near the same place
HEADING_BONUS = 0.04
MAX_COPIES = 60  # larger groups of identical provisions keep their first pairing (cost)
WINDOW = 25  # how far a split piece or merge source is looked for when there is no anchor

_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\((?:[^()\s]|\([^)]*\))*(?:\s+\"[^\"]*\")?\)")
_LINE_MARK = re.compile(r"^[ \t>]*(?:[-*+][ \t]+|\d{1,9}[.)][ \t]+)?", re.M)
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Match:
    old: int | None  # index into the old segments (None: added, or a secondary split piece)
    new: int | None  # index into the new segments (None: removed, or a secondary merge source)
    kind: MatchKind
    # 0..1, character level on the visible text (1.0 for "unchanged"); for a split or merge, how
    # well the pieces together reproduce the whole.
    similarity: float
    # split: the other new pieces of ``old``; merged: the other old sources of ``new``. The
    # primary match has both ``old`` and ``new``; a secondary one lists the primary's index first.
    related: tuple[int, ...] = ()


def provision_key(text: str) -> str:
    """Identity hash of a provision: label, list markers, link targets, punctuation and whitespace
    removed, so renumbering "4.2" → "5.2" keeps the key."""
    return hashlib.blake2b(" ".join(_words(text)).encode(), digest_size=16).hexdigest()


def align(old: Sequence[Segment], new: Sequence[Segment], cutoff: float = CUTOFF) -> list[Match]:
    """Match the provisions of two consecutive versions. Every old index appears exactly once as
    ``Match.old`` and every new index exactly once as ``Match.new``."""
    state = _State(old, new)
    state.match_keys()
    state.match_similar(cutoff)
    state.order_copies()
    state.find_splits()
    state.find_merges()
    return state.matches()


# --- text normalisation ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=16384)
def _words(text: str) -> tuple[str, ...]:
    """A provision's words (cached: consecutive versions share most provisions)."""
    if "](" in text:
        text = _LINK.sub(lambda m: m[1], text)
    _, text = split_label(text)
    return tuple(_WORD.findall(_LINE_MARK.sub("", text)))


def _visible(text: str) -> str:
    """What a reader sees, for the reported similarity: words and punctuation, one space."""
    if "](" in text:
        text = _LINK.sub(lambda m: m[1], text)
    _, text = split_label(text)
    return " ".join(_LINE_MARK.sub("", text).replace("**", "").split())


class _Symbols:
    """One private-use character per distinct word: ``fuzz.ratio`` on these strings is a
    word-level similarity, and the strings are ~6× shorter than the text."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}

    def encode(self, words: list[str]) -> str:
        codes = self.codes
        out = []
        for word in words:
            code = codes.get(word)
            if code is None:
                n = len(codes) + 0x100
                code = codes[word] = chr(n if n < 0xD800 else n + 0x800)  # skip surrogates
            out.append(code)
        return "".join(out)


# --- the matching state ---------------------------------------------------------------------------


@dataclass
class _Pair:
    old: int
    new: int
    exact: bool
    score: float  # word-level similarity


# (a, the anchor pair before it, the anchor pair after it, sides swapped): where ``a`` sits
_Around = tuple[int, tuple[int, int], tuple[int, int], bool]


def _partner(pair: _Pair, flip: bool) -> int:
    return pair.old if flip else pair.new


class _State:
    def __init__(self, old: Sequence[Segment], new: Sequence[Segment]) -> None:
        self.old, self.new = old, new
        self.old_words = [_words(s.text) for s in old]
        self.new_words = [_words(s.text) for s in new]
        self.old_keys = [" ".join(w) for w in self.old_words]
        self.new_keys = [" ".join(w) for w in self.new_words]
        self.by_old: dict[int, _Pair] = {}
        self.by_new: dict[int, _Pair] = {}
        self.splits: dict[int, list[int]] = {}  # old → new pieces, primary first
        self.merges: dict[int, list[int]] = {}  # new → old pieces, primary first
        self.claimed_new: set[int] = set()  # pieces of a split
        self.claimed_old: set[int] = set()  # sources of a merge
        self.symbols = _Symbols()
        self._old_sym: dict[int, str] = {}
        self._new_sym: dict[int, str] = {}

    # -- helpers --

    def osym(self, i: int) -> str:
        if i not in self._old_sym:
            self._old_sym[i] = self.symbols.encode([w.lower() for w in self.old_words[i]])
        return self._old_sym[i]

    def nsym(self, j: int) -> str:
        if j not in self._new_sym:
            self._new_sym[j] = self.symbols.encode([w.lower() for w in self.new_words[j]])
        return self._new_sym[j]

    def pair(self, i: int, j: int, exact: bool, score: float) -> None:
        p = _Pair(i, j, exact, score)
        self.by_old[i] = p
        self.by_new[j] = p

    def rel(self, i: int, size: int) -> float:
        return i / (size - 1) if size > 1 else 0.5

    # -- 1. identical text --

    def match_keys(self) -> None:
        olds: dict[str, list[int]] = defaultdict(list)
        for i, key in enumerate(self.old_keys):
            olds[key].append(i)
        news: dict[str, list[int]] = defaultdict(list)
        for j, key in enumerate(self.new_keys):
            news[key].append(j)
        repeated = []
        for key, js in news.items():
            is_ = olds.get(key)
            if is_ and key:
                if len(is_) == 1 and len(js) == 1:
                    self.pair(is_[0], js[0], True, 1.0)
                else:
                    repeated.append((is_, js))
        # Repeated text (Reddit repeats its agreement per region, Instagram a boilerplate line
        # per purpose): place each copy between the unique texts around it.
        anchors = sorted((p.old, p.new) for p in self.by_old.values())
        ranked = sorted(
            (self._placement(j, around), i, j)
            for is_, js in repeated
            for i in is_
            for around in [self._around(anchors, i)]
            for j in js
        )
        for _, i, j in ranked:
            if i not in self.by_old and j not in self.by_new:
                self.pair(i, j, True, 1.0)

    def _around(self, anchors: list[tuple[int, int]], i: int) -> _Around:
        """The matched ``anchors`` (old, new; sorted, ``i`` not among them) just before and just
        after old index ``i``; the sides' ends where there are none."""
        k = bisect.bisect_left(anchors, (i, -1))
        before = anchors[k - 1] if k > 0 else (-1, -1)
        after = anchors[k] if k < len(anchors) else (len(self.old), len(self.new))
        return i, before, after, False

    def _placement(self, b: int, around: _Around) -> tuple[float, ...]:
        """How well ``b`` on one side sits where ``a`` is on the other, between the anchors
        ``around`` it (lower is better)."""
        a, before, after, flip = around
        between = before[1] < b < after[1]
        span = max(1, after[0] - before[0])
        expected = before[1] + (a - before[0]) * (after[1] - before[1]) / span
        i, j = (b, a) if flip else (a, b)
        same_heading = self.old[i].heading_path == self.new[j].heading_path
        return (not between, not same_heading, abs(b - expected))

    # -- 2. similar text --

    def match_similar(self, cutoff: float) -> None:
        rest_old = [i for i in range(len(self.old)) if i not in self.by_old and self.old_keys[i]]
        rest_new = [j for j in range(len(self.new)) if j not in self.by_new and self.new_keys[j]]
        if not rest_old or not rest_new:
            return
        choices = [self.nsym(j) for j in rest_new]
        anchors = sorted((p.old, p.new) for p in self.by_old.values())
        candidates: list[tuple[float, float, int, int]] = []
        for i in rest_old:
            found = process.extract(
                self.osym(i), choices, scorer=fuzz.ratio, score_cutoff=cutoff * 100, limit=None
            )
            for _, score, k in found:
                j = rest_new[k]
                candidates.append((score / 100 + self._bonus(i, j, anchors), score / 100, i, j))
        for _, score, i, j in sorted(candidates, reverse=True):
            if i not in self.by_old and j not in self.by_new:
                self.pair(i, j, False, score)

    def _bonus(self, i: int, j: int, anchors: list[tuple[int, int]]) -> float:
        k = bisect.bisect_left(anchors, (i, -1))
        low = anchors[k - 1][1] if k > 0 else -1
        high = anchors[k][1] if k < len(anchors) else len(self.new)
        between = low < j < high
        distance = abs(self.rel(i, len(self.old)) - self.rel(j, len(self.new)))
        bonus = POSITION_BONUS * (0.5 * between + 0.5 * max(0.0, 1 - 4 * distance))
        if self.old[i].heading_path == self.new[j].heading_path:
            bonus += HEADING_BONUS
        return bonus

    def order_copies(self) -> None:
        """Identical texts are interchangeable: which copy continues which is only a question of
        place. Re-pair each group of matched copies so that as many as possible stay between the
        same neighbours (a moved or edited copy must not drag the others out of place)."""
        for flip in (False, True):
            by = self.by_new if flip else self.by_old
            keys = self.new_keys if flip else self.old_keys
            groups: dict[str, list[int]] = defaultdict(list)
            for k in by:
                if keys[k]:
                    groups[keys[k]].append(k)
            # Re-pairing a group keeps the same matched indices on both sides, so one sorted
            # list of them serves every group (sorting all pairs per group was most of align).
            matched = sorted(by)
            for copies in groups.values():
                if 2 <= len(copies) <= MAX_COPIES:
                    self._reorder(copies, flip, matched)

    def _reorder(self, copies: list[int], flip: bool, matched: list[int]) -> None:
        by = self.by_new if flip else self.by_old
        pairs = [by[k] for k in copies]
        members = set(copies)
        # Exactness and score depend on the partner only: the copies have the same words.
        meta = {(p.old if flip else p.new): (p.exact, p.score) for p in pairs}
        ranked = sorted(
            (self._placement(b, around), a, b)
            for a in copies
            for around in [self._around_copy(a, flip, matched, members)]
            for b in meta
        )
        for pair in pairs:
            self._unpair(pair)
        for _, a, b in ranked:
            i, j = (b, a) if flip else (a, b)
            if i not in self.by_old and j not in self.by_new:
                self.pair(i, j, *meta[b])

    def _around_copy(self, a: int, flip: bool, matched: list[int], members: set[int]) -> _Around:
        """What :meth:`_around` gives for the copy ``a`` with the matched pairs of the other
        ``members`` of its group left out as anchors: the nearest other pairs either side."""
        by = self.by_new if flip else self.by_old
        k = bisect.bisect_left(matched, a)
        low, high = k - 1, k + 1  # matched[k] is ``a``
        while low >= 0 and matched[low] in members:
            low -= 1
        while high < len(matched) and matched[high] in members:
            high += 1
        size_a, size_b = (len(self.new), len(self.old)) if flip else (len(self.old), len(self.new))
        before = (matched[low], _partner(by[matched[low]], flip)) if low >= 0 else (-1, -1)
        after = (
            (matched[high], _partner(by[matched[high]], flip))
            if high < len(matched)
            else (size_a, size_b)
        )
        return a, before, after, flip

    # -- 3. splits and merges --

    def find_splits(self) -> None:
        for i in range(len(self.old)):
            pair = self.by_old.get(i)
            if i in self.claimed_old or (pair is not None and pair.exact):
                continue
            seed = pair.new if pair is not None else self._best_piece(i)
            if seed is None:
                continue
            run = self._grow(self.osym(i), seed, self.nsym, self._new_taken, len(self.new))
            if run is not None:
                pieces, score = run
                primary = max(pieces, key=lambda j: len(self.new_words[j]))
                self._unpair(self.by_old.get(i))
                for j in pieces:
                    self._unpair(self.by_new.get(j))
                self.pair(i, primary, False, score)
                self.splits[i] = [primary, *[j for j in pieces if j != primary]]
                self.claimed_new.update(pieces)

    def find_merges(self) -> None:
        for j in range(len(self.new)):
            pair = self.by_new.get(j)
            if j in self.claimed_new or (pair is not None and pair.exact):
                continue
            seed = pair.old if pair is not None else self._best_source(j)
            if seed is None or seed in self.claimed_old:
                continue
            run = self._grow(self.nsym(j), seed, self.osym, self._old_taken, len(self.old))
            if run is not None:
                pieces, score = run
                primary = max(pieces, key=lambda i: len(self.old_words[i]))
                self._unpair(self.by_new.get(j))
                for i in pieces:
                    self._unpair(self.by_old.get(i))
                self.pair(primary, j, False, score)
                self.merges[j] = [primary, *[i for i in pieces if i != primary]]
                self.claimed_old.update(pieces)

    def _unpair(self, pair: _Pair | None) -> None:
        if pair is not None:
            del self.by_old[pair.old], self.by_new[pair.new]

    def _new_taken(self, j: int) -> bool:
        """A piece is free unless claimed, or held by an exact or strong match."""
        pair = self.by_new.get(j)
        return j in self.claimed_new or (pair is not None and pair.score >= STEAL_BELOW)

    def _old_taken(self, i: int) -> bool:
        pair = self.by_old.get(i)
        return i in self.claimed_old or (pair is not None and pair.score >= STEAL_BELOW)

    def _grow(
        self,
        whole: str,
        seed: int,
        sym: Callable[[int], str],
        taken: Callable[[int], bool],
        size: int,
    ) -> tuple[list[int], float] | None:
        """Extend ``seed`` with free neighbours that ``whole`` contains, while the run reproduces
        ``whole`` better."""
        lo = hi = seed
        best = fuzz.ratio(whole, sym(seed)) / 100
        while True:
            options = [(lo - 1, hi, lo - 1), (lo, hi + 1, hi + 1)]
            scored = [
                (fuzz.ratio(whole, "".join(sym(k) for k in range(a, b + 1))) / 100, a, b)
                for a, b, added in options
                if 0 <= added < size
                and not taken(added)
                and sym(added)
                and fuzz.partial_ratio(sym(added), whole) >= CONTAINED
            ]
            if not scored:
                break
            score, a, b = max(scored)
            if score <= best + 0.005:
                break
            best, lo, hi = score, a, b
        if hi == lo or best < SPLIT_MIN:
            return None
        return list(range(lo, hi + 1)), best

    def _best_piece(self, i: int) -> int | None:
        """For an unmatched old provision: the free new provision, between the same neighbours,
        that is most contained in it."""
        lo, hi = self._window(i, self.by_old, lambda p: p.new, len(self.old), len(self.new))
        free = [j for j in range(lo, hi) if not self._new_taken(j) and self.new_keys[j]]
        return self._contained(self.osym(i), free, self.nsym)

    def _best_source(self, j: int) -> int | None:
        lo, hi = self._window(j, self.by_new, lambda p: p.old, len(self.new), len(self.old))
        free = [i for i in range(lo, hi) if not self._old_taken(i) and self.old_keys[i]]
        return self._contained(self.nsym(j), free, self.osym)

    @staticmethod
    def _window(
        k: int,
        paired: dict[int, _Pair],
        other: Callable[[_Pair], int],
        size: int,
        other_size: int,
    ) -> tuple[int, int]:
        """The range on the other side between the partners of ``k``'s nearest matched
        neighbours (capped, so that a rewrite stays linear)."""
        before = next((other(paired[m]) for m in range(k - 1, -1, -1) if m in paired), -1)
        after = next((other(paired[m]) for m in range(k + 1, size) if m in paired), other_size)
        if before >= after:
            centre = round(k * other_size / max(size, 1))
            before, after = centre - WINDOW, centre + WINDOW
        lo, hi = max(0, before + 1), min(other_size, after)
        return lo, min(hi, lo + 2 * WINDOW)

    @staticmethod
    def _contained(whole: str, free: list[int], sym: Callable[[int], str]) -> int | None:
        if not free:
            return None
        found = process.extractOne(
            whole, [sym(k) for k in free], scorer=fuzz.partial_ratio, score_cutoff=CONTAINED
        )
        return free[found[2]] if found else None

    # -- 4. result --

    def matches(self) -> list[Match]:
        kept = _increasing(sorted((p.new, p.old) for p in self.by_old.values()))
        out: list[tuple[float, Match]] = []
        merged_from = {i for pieces in self.merges.values() for i in pieces[1:]}
        split_into = {j for pieces in self.splits.values() for j in pieces[1:]}
        for j in range(len(self.new)):
            pair = self.by_new.get(j)
            if pair is not None:
                out.append((j, self._matched(pair, pair.old in kept)))
            elif j in split_into:
                i = next(i for i, pieces in self.splits.items() if j in pieces)
                others = [k for k in self.splits[i] if k != j]
                sim = self._run_similarity([i], self.splits[i])
                out.append((j, Match(None, j, "split", sim, tuple(others))))
            else:
                out.append((j, Match(None, j, "added", 0.0)))
        for i in range(len(self.old)):
            if i in self.by_old:
                continue
            at = self._after(i) + 0.5
            if i in merged_from:
                j = next(j for j, pieces in self.merges.items() if i in pieces)
                others = [k for k in self.merges[j] if k != i]
                sim = self._run_similarity(self.merges[j], [j])
                out.append((at, Match(i, None, "merged", sim, tuple(others))))
            else:
                out.append((at, Match(i, None, "removed", 0.0)))
        return [m for _, m in sorted(out, key=lambda x: x[0])]

    def _matched(self, pair: _Pair, in_order: bool) -> Match:
        i, j = pair.old, pair.new
        if i in self.splits:
            sim = self._run_similarity([i], self.splits[i])
            return Match(i, j, "split", sim, tuple(self.splits[i][1:]))
        if j in self.merges:
            sim = self._run_similarity(self.merges[j], [j])
            return Match(i, j, "merged", sim, tuple(self.merges[j][1:]))
        if pair.exact:
            return Match(i, j, "unchanged" if in_order else "moved", 1.0)
        return Match(i, j, "modified" if in_order else "moved", self._similarity(i, j))

    def _similarity(self, i: int, j: int) -> float:
        a, b = _visible(self.old[i].text), _visible(self.new[j].text)
        return round(fuzz.ratio(a, b) / 100, 4)

    def _run_similarity(self, olds: list[int], news: list[int]) -> float:
        a = " ".join(_visible(self.old[i].text) for i in sorted(olds))
        b = " ".join(_visible(self.new[j].text) for j in sorted(news))
        return round(fuzz.ratio(a, b) / 100, 4)

    def _after(self, i: int) -> int:
        """Where a removed provision sits in new order: after its nearest kept predecessor."""
        for k in range(i - 1, -1, -1):
            if k in self.by_old:
                return self.by_old[k].new
        return -1


def _increasing(pairs: list[tuple[int, int]]) -> set[int]:
    """Old indices of a longest increasing subsequence of ``pairs`` (sorted by new index)."""
    tails: list[int] = []  # tails[k]: smallest old index ending an increasing run of length k+1
    tail_at: list[int] = []  # position in ``pairs`` of that tail
    back: list[int] = [-1] * len(pairs)
    for n, (_, old) in enumerate(pairs):
        k = bisect.bisect_left(tails, old)
        if k == len(tails):
            tails.append(old)
            tail_at.append(n)
        else:
            tails[k], tail_at[k] = old, n
        back[n] = tail_at[k - 1] if k else -1
    kept: set[int] = set()
    n = tail_at[-1] if tail_at else -1
    while n >= 0:
        kept.add(pairs[n][1])
        n = back[n]
    return kept
