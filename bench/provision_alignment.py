"""Provision segmentation and lineage alignment, on real documents.

    .venv/bin/python bench/provision_alignment.py [--documents 40] [--seed 7] [--write-docs]

1. **Synthetic edits with known ground truth.** The latest version of each Platform Governance
   Archive document (≥ 25 provisions) is segmented; a seeded RNG then moves provisions, renumbers
   clauses ("4.2" → "5.2"), renames headings, edits a few words, splits one provision, merges two
   adjacent ones, deletes some and inserts provisions taken from a *different* document. The new
   text is rebuilt, segmented and aligned, and the result is scored against the truth.
2. **Real history** of Facebook and LinkedIn Privacy Policies: every consecutive pair of recorded
   versions is segmented and aligned.

Raw OTA texts carry per-render tokens in link URLs, so Markdown link targets are stripped
(``[text](url)`` → ``text``) before segmenting, here only.
"""

from __future__ import annotations

import argparse
import json
import lzma
import platform
import random
import re
import statistics
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from clausewatch.provisions.align import Match, align
from clausewatch.provisions.segment import Segment, segment, word_count

ROOT = Path(__file__).resolve().parents[1]
JSONL = ROOT.parent / "shared" / "data" / "ota" / "pga-versions.jsonl.xz"
DOC = ROOT / "docs" / "provisions.md"
HISTORIES = (("Facebook", "Privacy Policy"), ("LinkedIn", "Privacy Policy"))

_LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\((?:[^()\s]|\([^)]*\))*(?:\s+\"[^\"]*\")?\)")
_NUMBERED = re.compile(r"(?m)^([ \t]*(?:#{1,6}[ \t]+)?(?:\*\*)?)(\d{1,2})\.(\d{1,2})\b")
_HEADING = re.compile(r"(?m)^(#{1,6}[ \t]+|\*\*)([A-Za-z][^\n*]{3,80})(\*\*)?$")
_SENTENCE_END = re.compile(r"(?<=[a-z)][.;]) (?=[A-Z])")


def strip_links(text: str) -> str:
    """``[text](url)`` → ``text``: OTA's raw texts carry random per-render tokens in URLs."""
    return _LINK.sub(lambda m: "" if m[1] else m[2], text)


def latest_texts(path: Path = JSONL) -> dict[tuple[str, str], str]:
    latest: dict[tuple[str, str], str] = {}
    for key, text in history_records(path):
        latest[key] = text
    return latest


def history_records(path: Path = JSONL) -> Iterator[tuple[tuple[str, str], str]]:
    with lzma.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["text"] is not None:
                yield (record["service"], record["terms_type"]), record["text"]


# --- synthetic edits ------------------------------------------------------------------------------


@dataclass
class _Piece:
    text: str
    tag: tuple[object, ...]  # ("old", k) | ("split", k, part) | ("merge", k1, k2) | ("ins", n)


@dataclass
class _Chunk:
    gap: str  # text before the provision (headings, blank lines)
    pieces: list[_Piece]


@dataclass
class Case:
    """One edited document: old and new segments and what really happened."""

    old: list[Segment]
    new: list[Segment]
    truth_old: dict[int, int]  # new index → old index, for provisions that kept their text unit
    moved: set[int] = field(default_factory=set)  # old indices moved
    edited: set[int] = field(default_factory=set)  # old indices with word edits
    heavy: set[int] = field(default_factory=set)  # ...of which 30% of the words replaced
    deleted: set[int] = field(default_factory=set)
    inserted: set[int] = field(default_factory=set)  # new indices
    splits: dict[int, set[int]] = field(default_factory=dict)  # old → new pieces
    merges: dict[int, set[int]] = field(default_factory=dict)  # new → old pieces
    drift: int = 0  # edits whose text the segmenter cut differently: left out of the score


def make_case(text: str, donors: list[str], rng: random.Random) -> Case | None:
    """Apply a seeded mix of edits to ``text`` (link targets already stripped)."""
    old = segment(text)
    prose = [
        k
        for k, s in enumerate(old)
        if s.kind in ("paragraph", "clause") and "\n" not in s.text and word_count(s.text) >= 8
    ]
    if len(old) < 25 or len(prose) < 16:
        return None
    chunks = [
        _Chunk(text[(old[k - 1].end if k else 0) : s.start], [_Piece(s.text, ("old", k))])
        for k, s in enumerate(old)
    ]
    tail = text[old[-1].end :]
    pool = prose[:]
    rng.shuffle(pool)
    n = 4 + len(prose) // 20  # provisions with a few word edits
    edited = _edit_words(chunks, pool[:n], rng, share=0.0)
    heavy = _edit_words(chunks, pool[n : n + 2], rng, share=0.3)
    split = _split(chunks, pool[n + 2 : n + 6], rng)
    merged = _merge(chunks, old, pool[n + 6 :])
    used = edited | heavy | set(split) | set(merged)
    free = [k for k in pool if k not in used]
    deleted = set(free[:3])
    for k in deleted:
        chunks[k].pieces = []
    _insert(chunks, free[:1], donors, rng, 0)  # a new clause where an old one was deleted
    moved = _move(chunks, free[3:], rng)
    _insert(chunks, [k for k in free[3:] if k not in moved][-2:], donors, rng, 1)
    _rename_headings(chunks, rng)
    new_text, spans = _assemble(chunks, tail)
    case = _truth(old, new_text, spans, edited | heavy, moved, deleted)
    case.heavy = heavy
    return case


def _edit_words(chunks: list[_Chunk], ks: list[int], rng: random.Random, share: float) -> set[int]:
    """Insert, delete or replace 1-3 words, or replace ``share`` of the words."""
    fillers = ["promptly", "reasonable", "additional", "certain", "all", "written", "prior"]
    for k in ks:
        words = chunks[k].pieces[0].text.split(" ")
        for _ in range(max(rng.randint(1, 3), round(share * len(words)))):
            alphabetic = [n for n, word in enumerate(words) if n and word.isalpha()]
            at = rng.choice(alphabetic) if alphabetic else len(words) - 1
            op = "replace" if share else rng.choice(("insert", "delete", "replace"))
            if op == "insert":
                words.insert(at, rng.choice(fillers))
            elif op == "delete" and len(words) > 6:
                del words[at]
            else:
                words[at] = rng.choice([f for f in fillers if f != words[at]])
        chunks[k].pieces[0].text = " ".join(words)
    return set(ks)


def _split(chunks: list[_Chunk], ks: list[int], rng: random.Random) -> list[int]:
    for k in ks:
        text = chunks[k].pieces[0].text
        cuts = [
            m.start() for m in _SENTENCE_END.finditer(text) if 0.25 < m.start() / len(text) < 0.75
        ]
        if cuts:
            cut = rng.choice(cuts)
            chunks[k].pieces = [
                _Piece(text[:cut], ("split", k, 0)),
                _Piece(text[cut + 1 :], ("split", k, 1)),
            ]
            return [k]
    return []


def _merge(chunks: list[_Chunk], old: list[Segment], ks: list[int]) -> list[int]:
    for k in ks:
        if k + 1 >= len(old) or len(chunks[k + 1].pieces) != 1 or len(chunks[k].pieces) != 1:
            continue
        nxt = old[k + 1]
        if nxt.kind not in ("paragraph", "clause") or "\n" in nxt.text:
            continue
        if chunks[k + 1].gap.strip() or chunks[k + 1].pieces[0].tag != ("old", k + 1):
            continue
        joined = chunks[k].pieces[0].text + " " + chunks[k + 1].pieces[0].text
        chunks[k].pieces = [_Piece(joined, ("merge", k, k + 1))]
        chunks[k + 1].pieces, chunks[k + 1].gap = [], ""
        return [k, k + 1]
    return []


def _move(chunks: list[_Chunk], ks: list[int], rng: random.Random) -> set[int]:
    """Move two provisions at least 6 places, before another provision."""
    moved: set[int] = set()
    for k in ks:
        targets = [m for m in ks if abs(m - k) >= 6 and m not in moved and m != k]
        if len(moved) == 2 or not targets or chunks[k].pieces[0].tag != ("old", k):
            continue
        chunks[rng.choice(targets)].pieces.insert(0, chunks[k].pieces.pop())
        moved.add(k)
    return moved


def _insert(
    chunks: list[_Chunk], ks: list[int], donors: list[str], rng: random.Random, batch: int
) -> None:
    """Insert paragraphs of *other* documents before the given provisions."""
    paragraphs = [
        p.strip()
        for donor in donors
        for p in donor.split("\n\n")
        if 15 <= len(p.split()) <= 120 and "\n" not in p.strip() and p.strip()[0].isalpha()
    ]
    for n, k in enumerate(ks):
        chunks[k].pieces.insert(0, _Piece(rng.choice(paragraphs), ("ins", batch, n)))


def _rename_headings(chunks: list[_Chunk], rng: random.Random) -> None:
    """Renumber every clause ("4.2" → "5.2") and rename a few headings."""
    for chunk in chunks:
        chunk.gap = _NUMBERED.sub(lambda m: f"{m[1]}{int(m[2]) + 1}.{m[3]}", chunk.gap)
        for piece in chunk.pieces:
            piece.text = _NUMBERED.sub(lambda m: f"{m[1]}{int(m[2]) + 1}.{m[3]}", piece.text)
    with_heading = [c for c in chunks if _HEADING.search(c.gap)]
    for chunk in rng.sample(with_heading, min(3, len(with_heading))):
        chunk.gap = _HEADING.sub(lambda m: f"{m[1]}Updated: {m[2]}{m[3] or ''}", chunk.gap, 1)


def _assemble(chunks: list[_Chunk], tail: str) -> tuple[str, list[tuple[int, int, tuple]]]:
    out: list[str] = []
    spans: list[tuple[int, int, tuple]] = []
    pos = 0
    for chunk in chunks:
        out.append(chunk.gap)
        pos += len(chunk.gap)
        for n, piece in enumerate(chunk.pieces):
            if n:
                out.append("\n\n")
                pos += 2
            out.append(piece.text)
            spans.append((pos, pos + len(piece.text), piece.tag))
            pos += len(piece.text)
    out.append(tail)
    return "".join(out), spans


def _truth(
    old: list[Segment],
    new_text: str,
    spans: list[tuple[int, int, tuple]],
    edited: set[int],
    moved: set[int],
    deleted: set[int],
) -> Case:
    new = segment(new_text)
    starts = [s for s, _, _ in spans]
    case = Case(old, new, {}, moved=set(moved), edited=set(edited), deleted=set(deleted))
    seen: Counter[tuple] = Counter()
    tags: dict[int, tuple] = {}
    for j, seg in enumerate(new):
        k = bisect_right(starts, seg.start) - 1
        if k < 0 or not (spans[k][0] <= seg.start and seg.end <= spans[k][1]):
            continue  # a segment made of several pieces, or of untouched gap text
        tags[j] = spans[k][2]
        seen[spans[k][2]] += 1
    for j, tag in tags.items():
        if seen[tag] != 1:  # the segmenter cut this piece differently: no ground truth
            case.drift += 1
            continue
        if tag[0] == "old":
            case.truth_old[j] = int(tag[1])
        elif tag[0] == "ins":
            case.inserted.add(j)
        elif tag[0] == "split":
            case.splits.setdefault(int(tag[1]), set()).add(j)
        elif tag[0] == "merge":
            case.merges[j] = {int(tag[1]), int(tag[2])}
    case.splits = {k: js for k, js in case.splits.items() if len(js) == 2}
    return case


# --- scoring --------------------------------------------------------------------------------------


@dataclass
class Score:
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, name: str, hit: bool) -> None:
        self.counts[name + ".n"] += 1
        self.counts[name + ".hit"] += hit

    def pr(self, name: str, predicted: set, truth: set) -> None:
        self.counts[name + ".tp"] += len(predicted & truth)
        self.counts[name + ".pred"] += len(predicted)
        self.counts[name + ".true"] += len(truth)

    def rate(self, name: str) -> float:
        return self.counts[name + ".hit"] / max(1, self.counts[name + ".n"])

    def precision(self, name: str) -> float:
        return self.counts[name + ".tp"] / max(1, self.counts[name + ".pred"])

    def recall(self, name: str) -> float:
        return self.counts[name + ".tp"] / max(1, self.counts[name + ".true"])


def score_case(case: Case, matches: list[Match], score: Score) -> None:
    by_new = {m.new: m for m in matches if m.new is not None}
    for j, k in case.truth_old.items():
        m = by_new[j]
        score.add("identity", m.old == k)
        if k in case.heavy:
            score.add("heavy", m.old == k and m.kind in ("modified", "moved"))
        elif k in case.edited:
            score.add("modified", m.old == k and m.kind in ("modified", "moved"))
        elif k not in case.moved:
            score.add("stable", m.kind == "unchanged")
    added = {m.new for m in matches if m.kind == "added"}
    removed = {m.old for m in matches if m.kind == "removed"}
    moved = {m.old for m in matches if m.kind == "moved"}
    truth_new = set(case.truth_old) | case.inserted
    score.pr("added", added & truth_new, case.inserted)
    score.pr("removed", removed & (set(case.truth_old.values()) | case.deleted), case.deleted)
    score.pr(
        "moved", moved & set(case.truth_old.values()), case.moved & set(case.truth_old.values())
    )
    split_pred = {
        m.old: {m.new, *m.related} for m in matches if m.kind == "split" and m.old is not None
    }
    score.pr(
        "split", {k for k, js in split_pred.items() if case.splits.get(k) == js}, set(case.splits)
    )
    score.counts["split.pred"] += len(set(split_pred) - set(case.splits))
    merge_pred = {
        m.new: {m.old, *m.related} for m in matches if m.kind == "merged" and m.new is not None
    }
    score.pr(
        "merge", {j for j, ks in merge_pred.items() if case.merges.get(j) == ks}, set(case.merges)
    )
    score.counts["merge.pred"] += len(set(merge_pred) - set(case.merges))


def run_synthetic(documents: int, seed: int) -> tuple[Score, dict[str, float]]:
    latest = {key: strip_links(text) for key, text in latest_texts().items()}
    keys = sorted(latest)
    rng = random.Random(seed)
    score, cases, align_ms, sizes = Score(), 0, [], []
    for key in keys:
        if cases >= documents:
            break
        donors = [latest[k] for k in rng.sample(keys, 3) if k[0] != key[0]]
        case = make_case(latest[key], donors, rng)
        if case is None:
            continue
        start = time.perf_counter()
        matches = align(case.old, case.new)
        align_ms.append((time.perf_counter() - start) * 1000)
        sizes.append(len(case.old))
        score_case(case, matches, score)
        score.counts["drift"] += case.drift
        cases += 1
    timing = {
        "documents": cases,
        "provisions": sum(sizes),
        "align_ms_median": statistics.median(align_ms),
        "align_ms_max": max(align_ms),
    }
    return score, timing


# --- real history ---------------------------------------------------------------------------------


def real_history(key: tuple[str, str]) -> dict[str, float]:
    texts = [strip_links(text) for k, text in history_records() if k == key]
    start = time.perf_counter()
    segmented = [segment(text) for text in texts]
    counts = [len(s) for s in segmented]
    kinds: Counter[str] = Counter()
    differing = moves_only = 0
    for before, after, a, b in zip(texts, texts[1:], segmented, segmented[1:], strict=False):
        changed = {m.kind for m in align(a, b)} - {"unchanged"} if before != after else set()
        kinds.update(changed)
        differing += bool(changed - {"moved"})
        moves_only += changed == {"moved"}
    seconds = time.perf_counter() - start
    pairs = max(1, len(texts) - 1)
    return {
        "versions": len(texts),
        "seconds": seconds,
        "min": min(counts),
        "median": statistics.median(counts),
        "max": max(counts),
        "differing": differing / pairs,
        "moves_only": moves_only / pairs,
        "pairs": pairs,
    }


# --- segmentation of every document ---------------------------------------------------------------


def segmentation_stats() -> str:
    """Provisions per document and their sizes, on the latest version of all 133 documents as the
    archive stores them (``normalise_for_hash``)."""
    from clausewatch.extract.normalise import normalise_for_hash

    texts = [normalise_for_hash(text) for text in latest_texts().values()]
    start = time.perf_counter()
    docs = [segment(text) for text in texts]
    seconds = time.perf_counter() - start
    counts = sorted(len(d) for d in docs)
    sizes = sorted(len(s.text) for d in docs for s in d)
    kinds = Counter(s.kind for d in docs for s in d)
    giants = Counter(s.kind for d in docs for s in d if len(s.text) > 6000)
    megabytes = sum(len(t) for t in texts) / 1e6

    def q(values: list[int], share: float) -> int:
        return values[min(len(values) - 1, int(share * len(values)))]

    return "\n".join(
        [
            f"{len(docs)} documents, {megabytes:.1f} MB of text, {sum(counts):,} provisions, "
            f"segmented in {seconds:.2f} s ({seconds / megabytes * 60:.0f} ms "
            "per 60 KB on average).",
            "",
            "| figure | min | p10 | median | p90 | max |",
            "|---|---:|---:|---:|---:|---:|",
            "| provisions per document | "
            + " | ".join(str(q(counts, x)) for x in (0, 0.1, 0.5, 0.9, 1.0))
            + " |",
            "| characters per provision | "
            + " | ".join(str(q(sizes, x)) for x in (0, 0.1, 0.5, 0.9, 1.0))
            + " |",
            "",
            "Kinds: "
            + ", ".join(f"{kind} {n:,} ({n / len(sizes):.0%})" for kind, n in kinds.most_common())
            + ". Longer than 6,000 characters: "
            + (", ".join(f"{n} {kind}" for kind, n in giants.items()) or "none")
            + " (single giant table cells or one-line paragraphs with no inline clause labels).",
        ]
    )


# --- report ---------------------------------------------------------------------------------------


def report(score: Score, timing: dict[str, float], histories: dict[str, dict[str, float]]) -> str:
    c = score.counts
    rows = [
        ("identity accuracy (surviving provisions matched to their old provision)",
         f"{score.rate('identity'):.1%} of {c['identity.n']}"),
        ("edited provisions (1-3 words) matched and reported modified",
         f"{score.rate('modified'):.1%} of {c['modified.n']}"),
        ("rewritten provisions (30% of words replaced) matched and reported modified",
         f"{score.rate('heavy'):.1%} of {c['heavy.n']}"),
        ("untouched provisions reported unchanged",
         f"{score.rate('stable'):.1%} of {c['stable.n']}"),
        ("added: precision / recall", _pr(score, "added")),
        ("removed: precision / recall", _pr(score, "removed")),
        ("moved: precision / recall", _pr(score, "moved")),
        ("split detected exactly: precision / recall", _pr(score, "split")),
        ("merge detected exactly: precision / recall", _pr(score, "merge")),
        ("edits left out (segmenter cut the edited text differently)", f"{c['drift']}"),
        ("align time per document (median / max)",
         f"{timing['align_ms_median']:.1f} / {timing['align_ms_max']:.1f} ms"),
    ]  # fmt: skip
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} "
        f"({platform.python_version()}), `.venv/bin/python bench/provision_alignment.py`: "
        f"{timing['documents']:.0f} documents, {timing['provisions']:.0f} provisions.",
        "",
        "| synthetic edits | result |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in rows],
        "",
        "| real history (consecutive versions) | versions | segment + align, whole history "
        "| provisions per version (min / median / max) | pairs differing at clause level "
        "| pairs with moves only |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, h in histories.items():
        lines.append(
            f"| {name} | {h['versions']:.0f} | {h['seconds']:.1f} s "
            f"| {h['min']:.0f} / {h['median']:.0f} / {h['max']:.0f} "
            f"| {h['differing']:.1%} | {h['moves_only']:.1%} |"
        )
    return "\n".join(lines)


def _pr(score: Score, name: str) -> str:
    c = score.counts
    return (
        f"{score.precision(name):.1%} / {score.recall(name):.1%} "
        f"({c[name + '.tp']} of {c[name + '.true']} true, {c[name + '.pred']} reported)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    score, timing = run_synthetic(args.documents, args.seed)
    histories = {f"{s} / {t}": real_history((s, t)) for s, t in HISTORIES}
    body = report(score, timing, histories)
    stats = segmentation_stats()
    print(stats, "", body, sep="\n")
    if args.write_docs:
        from _common import write_section  # bench/ is on sys.path when run as a script

        write_section("segmentation", stats, DOC)
        write_section("alignment", body, DOC)


if __name__ == "__main__":
    main()
