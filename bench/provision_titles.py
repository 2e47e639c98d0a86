"""Provision titles on real documents: fragments, markup, repeated labels, duplicates.

    .venv/bin/python bench/provision_titles.py [--sample 30] [--seed 12] [--write-docs]

Segments the latest version of every Platform Governance Archive document (normalised as the
importer stores it) and counts, before (the old per-segment title: label + inline title, else the
last heading, else the first 8 words + "…") and after (``titles_for``):

- **fragments**: titles ending with "…" or on a dangling word ("the", "with", "to", "(with the");
- **unbalanced brackets**: "(", "[" or a quote left open;
- **markup**: `**`, `__`, `[text](url)`, HTML tags such as `<br>`, table pipes, `#` markers;
- **repeated labels**: "5. 5. Termination", "3. 2. How We Use Your Data";
- **duplicates**: provisions whose title another provision of the same document also has.

Then prints a seeded random sample of new titles to read. ``--write-docs`` puts the figures in
docs/provisions.md.
"""

from __future__ import annotations

import argparse
import json
import lzma
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from _common import SHARED_DATA, write_section

from clausewatch.extract import normalise_for_hash
from clausewatch.provisions.segment import Segment, plain_text, segment, split_label
from clausewatch.provisions.titles import has_repeated_label, is_fragment, is_unbalanced

JSONL = SHARED_DATA / "ota" / "pga-versions.jsonl.xz"
DOC = Path(__file__).resolve().parents[1] / "docs" / "provisions.md"

_MARKUP = re.compile(r"\*\*|__|\]\(|</?[A-Za-z][^<>]*>|\s\|\s|^\||\|$|^#|\\[-.*_#|]")
_OLD_TITLE_WORDS = 8


def latest_texts(path: Path = JSONL) -> dict[tuple[str, str], str]:
    latest: dict[tuple[str, str], str] = {}
    with lzma.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            key = (record["service"], record["terms_type"])
            if record["text"] is None:
                latest.pop(key, None)
            else:
                latest[key] = record["text"]
    return latest


def old_title(seg: Segment) -> str:
    """The title as computed before issue #12 (per segment, for the 'before' figures)."""
    plain = plain_text(seg.text[:400])
    if seg.label is not None:
        _, rest = split_label(plain)
        label = plain[: len(plain) - len(rest)].strip()
        words = rest.split()
        for n, word in enumerate(words[:10]):
            if word.endswith("."):
                return f"{label} {' '.join(words[: n + 1])[:-1]}"
        cut = " ".join(words[:_OLD_TITLE_WORDS])
        return f"{label} {cut}{'…' if len(words) > _OLD_TITLE_WORDS else ''}".strip()
    if seg.heading_path and seg.kind in ("paragraph", "clause"):
        return seg.heading_path[-1]
    words = plain.split()
    return " ".join(words[:_OLD_TITLE_WORDS]) + ("…" if len(words) > _OLD_TITLE_WORDS else "")


def figures(docs: Sequence[list[str]], segs: Sequence[list[Segment]]) -> dict[str, float]:
    titles = [t for doc in docs for t in doc]
    pairs = [
        (t, s) for doc, ss in zip(docs, segs, strict=True) for t, s in zip(doc, ss, strict=True)
    ]
    duplicates = 0
    docs_with = 0
    for doc in docs:
        counts = Counter(t.casefold() for t in doc)
        extra = sum(c for c in counts.values() if c > 1)
        duplicates += extra
        docs_with += extra > 0
    lengths = [len(t) for t in titles]
    return {
        "titles": len(titles),
        "fragments": sum(is_fragment(t, s.heading_path, s.text) for t, s in pairs),
        "unbalanced": sum(map(is_unbalanced, titles)),
        "markup": sum(bool(_MARKUP.search(t)) for t in titles),
        "repeated_labels": sum(map(has_repeated_label, titles)),
        "duplicates": duplicates,
        "docs_with_duplicates": docs_with,
        "median_chars": statistics.median(lengths),
        "p95_chars": sorted(lengths)[int(0.95 * (len(lengths) - 1))],
        "over_100_chars": sum(n > 100 for n in lengths),
    }


def run(sample: int, seed: int) -> tuple[str, list[str]]:
    texts = {k: normalise_for_hash(t) for k, t in sorted(latest_texts().items())}
    started = time.perf_counter()
    segmented = {k: segment(t) for k, t in texts.items()}
    elapsed = time.perf_counter() - started
    before = [[old_title(s) for s in segs] for segs in segmented.values()]
    after = [[s.title for s in segs] for segs in segmented.values()]
    segs = list(segmented.values())
    old, new = figures(before, segs), figures(after, segs)
    rows = [
        ("fragments (end on '…' or a dangling word)", "fragments"),
        ("unbalanced brackets or quotes", "unbalanced"),
        ("Markdown/HTML markers", "markup"),
        ("repeated labels ('5. 5. Termination')", "repeated_labels"),
        ("titles shared within a document", "duplicates"),
        ("documents with shared titles", "docs_with_duplicates"),
        ("median length (characters)", "median_chars"),
        ("p95 length (characters)", "p95_chars"),
        ("longer than 100 characters", "over_100_chars"),
    ]
    n = int(new["titles"])
    table = [
        f"{len(texts)} documents (latest version of each, normalised as stored), {n:,} provisions;"
        f" segmentation with titles {elapsed:.2f} s.",
        "",
        "| figure | before | after |",
        "|---|---:|---:|",
        *(f"| {label} | {old[key]:,.0f} | {new[key]:,.0f} |" for label, key in rows),
    ]
    rng = random.Random(seed)
    flat: list[tuple[str, Segment, str]] = [
        (f"{k[0]} / {k[1]}", s, s.title) for k, segs in segmented.items() for s in segs
    ]
    picked = rng.sample(flat, min(sample, len(flat)))
    lines = [f"[{s.kind}] {title}    ({doc})" for doc, s, title in picked]
    return "\n".join(table), lines


def main(argv: Sequence[str] | None = None, write: Callable[..., None] = write_section) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", type=int, default=30)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    table, sample = run(args.sample, args.seed)
    print(table)
    print(f"\nRandom sample of {len(sample)} titles (seed {args.seed}):")
    print("\n".join(f"  {line}" for line in sample))
    if args.write_docs:
        write("provision-titles", table, DOC)


if __name__ == "__main__":
    main()
