"""Sentence splitting of real provisions: speed and span quality, old regex vs candidates.

    .venv/bin/python bench/sentence_split.py [--limit N] [--extra-path DIR]

Provisions: the latest version of each of the 133 Platform Governance Archive documents, cut by
``clausewatch.provisions.segment``. For each splitter it reports provisions/s (one core, the
splitter alone), µs per provision, the share of spans of ≤ 3 words (the issue's symptom:
"facebook.", "or"), the share of spans that are short *and* cut out of a line (not a whole
heading, list item or table row: the wrong splits) and the share of spans starting with a
lowercase letter (a sign of a split inside a sentence, though many list items start lowercase).
Optional candidates (pysbd, syntok, nupunkt) are measured when importable; ``--extra-path`` adds
a folder where they were installed (``pip install --target DIR``).
"""

from __future__ import annotations

import argparse
import json
import lzma
import platform
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from clausewatch.classify.sentences import sentence_spans
from clausewatch.provisions.segment import segment

ROOT = Path(__file__).resolve().parents[1]
JSONL = ROOT.parent / "shared" / "data" / "ota" / "pga-versions.jsonl.xz"

Splitter = Callable[[str], list[tuple[int, int]]]
_OLD_RE = re.compile(r"[^\n.!?;]*(?:[.!?;]+|\n|$)")
_WORD = re.compile(r"\w+")


def old_regex(text: str) -> list[tuple[int, int]]:
    """The splitter model.py used before (kept here as the baseline)."""
    spans = []
    for m in _OLD_RE.finditer(text):
        start, end = m.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans or [(0, len(text))]


def provisions(limit: int | None) -> list[str]:
    latest: dict[tuple[str, str], str | None] = {}
    with lzma.open(JSONL, "rt", encoding="utf-8") as lines:
        for line in lines:
            rec = json.loads(line)
            latest[(rec["service"], rec["terms_type"])] = rec["text"]
    texts = [s.text for text in latest.values() if text for s in segment(text)]
    return texts[:limit] if limit else texts


def candidates() -> dict[str, Splitter]:
    found: dict[str, Splitter] = {"old regex": old_regex, "clausewatch": sentence_spans}
    try:
        import pysbd

        seg = pysbd.Segmenter(language="en", clean=False, char_span=True)
        found["pysbd"] = lambda t: [(s.start, s.end) for s in seg.segment(t)]
    except ImportError:
        pass
    try:
        from syntok import segmenter

        def syntok_spans(t: str) -> list[tuple[int, int]]:
            return [
                (s[0].offset, s[-1].offset + len(s[-1].value))
                for para in segmenter.analyze(t)
                for s in para
                if s
            ]

        found["syntok"] = syntok_spans
    except ImportError:
        pass
    try:
        import nupunkt

        found["nupunkt"] = nupunkt.sent_spans
    except ImportError:
        pass
    return found


def measure(name: str, split: Splitter, texts: list[str]) -> str:
    t0 = time.perf_counter()
    all_spans = [split(t) for t in texts]
    elapsed = time.perf_counter() - t0
    n = short = cut = lower = 0
    for text, spans in zip(texts, all_spans, strict=True):
        for a, b in spans:
            piece = text[a:b].strip()
            if not piece:
                continue
            n += 1
            is_short = len(_WORD.findall(piece)) <= 3
            short += is_short
            cut += is_short and not _whole_line(text, a, b)
            lower += piece[0].islower()
    return (
        f"| {name} | {len(texts) / elapsed:,.0f} | {elapsed / len(texts) * 1e6:.1f} | {n:,} "
        f"| {100 * short / n:.1f} % | {100 * cut / n:.1f} % | {100 * lower / n:.1f} % |"
    )


def _whole_line(text: str, a: int, b: int) -> bool:
    """Whether ``text[a:b]`` is whole lines (a heading, list item, table row), not a cut."""
    before, after = text[:a].rstrip(" \t"), text[b:].lstrip(" \t")
    return (not before or before.endswith("\n")) and (not after or after.startswith("\n"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N provisions only")
    parser.add_argument("--extra-path", default=None, help="folder with optional candidates")
    args = parser.parse_args()
    if args.extra_path:
        sys.path.append(args.extra_path)
    texts = provisions(args.limit)
    words = sorted(len(_WORD.findall(t)) for t in texts)
    print(
        f"{len(texts):,} provisions, median {words[len(words) // 2]} words; "
        f"Python {platform.python_version()}, {platform.machine()}, one core\n"
    )
    print(
        "| splitter | provisions/s | µs/provision | spans | spans ≤ 3 words "
        "| short, cut inside a line | lowercase start |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, split in candidates().items():
        print(measure(name, split, texts), flush=True)


if __name__ == "__main__":
    main()
