"""Parameter extraction measured on CLAUDETTE: a recall proxy and a false-positive proxy.

Recall proxy: of the sentences tagged `law` (choice of law), the share where a `governing_law`
is extracted; the same for `j` (jurisdiction) and `venue`. Tags of level 1 mark "fair" clauses,
many of which only mention a law ("mandatory provisions of the law of your country"), so the
figures are also given for levels 2–3.

False-positive proxy: of the sentences with no tag at all, how many yield any parameter. It is
an upper bound: untagged sentences legitimately state minimum ages, cancellation windows and
arbitration bodies (CLAUDETTE has no tag for them), so the hits are listed with ``--list`` for
review.

With ``--ota`` it also measures ``is_substantive`` on every recorded change of the Open Terms
Archive history (whole documents, about a minute): how many recorded changes only touch
whitespace, punctuation, case, Markdown styling or link targets.

Usage: .venv/bin/python bench/parameter_extraction.py [--list] [--ota] [--write]
(--write replaces the figures in docs/changes.md).
"""

from __future__ import annotations

import argparse
import json
import lzma
import re
import time
from collections import Counter

from _common import ROOT, SHARED_DATA, write_section

from clausewatch.changes.parameters import extract_parameters
from clausewatch.changes.redline import is_substantive

CLAUDETTE = SHARED_DATA / "claudette"
DOC = ROOT / "docs" / "changes.md"


def tagged_sentences() -> list[tuple[set[str], str]]:
    rows = []
    for path in sorted((CLAUDETTE / "sentences").glob("*.txt")):
        tags = (CLAUDETTE / "tags" / path.name).read_text().splitlines()
        for tag_line, sentence in zip(tags, path.read_text().splitlines(), strict=True):
            rows.append((set(tag_line.split()), sentence))
    return rows


def share(hits: int, total: int) -> str:
    return f"{hits}/{total} = {hits / total:.1%}" if total else "0/0"


def recall(rows: list[tuple[set[str], str]], tag: str, kind: str, levels: str) -> str:
    pattern = re.compile(rf"{tag}[{levels}]$")
    chosen = [s for tags, s in rows if any(pattern.match(t) for t in tags)]
    hits = sum(any(p.kind == kind for p in extract_parameters(s)) for s in chosen)
    return share(hits, len(chosen))


def ota_noise() -> str:
    """Share of recorded OTA changes that ``is_substantive`` finds to be noise."""
    started = time.perf_counter()
    previous: dict[tuple[str, str], str] = {}
    counts: Counter[tuple[str, bool]] = Counter()
    with lzma.open(SHARED_DATA / "ota" / "pga-versions.jsonl.xz", "rt") as versions:
        for line in versions:
            row = json.loads(line)
            key = (row["service"], row["terms_type"])
            if row["text"] and key in previous and row["kind"] in ("change", "technical_upgrade"):
                counts[(row["kind"], is_substantive(previous[key], row["text"]))] += 1
            if row["text"]:
                previous[key] = row["text"]
    elapsed = time.perf_counter() - started
    lines = [
        f"`is_substantive` on consecutive versions of the Open Terms Archive history "
        f"(`--ota`, {elapsed:.0f} s):",
        "",
        "| recorded as | versions | not substantive |",
        "|---|---|---|",
    ]
    for kind in ("change", "technical_upgrade"):
        total = counts[(kind, True)] + counts[(kind, False)]
        lines.append(f"| `{kind}` | {total} | {share(counts[(kind, False)], total)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--list", action="store_true", help="print every untagged hit")
    parser.add_argument("--ota", action="store_true", help="also measure is_substantive on OTA")
    parser.add_argument("--write", action="store_true", help="write the figures into the doc")
    args = parser.parse_args()

    started = time.perf_counter()
    rows = tagged_sentences()
    untagged = [s for tags, s in rows if not tags]
    by_kind: Counter[str] = Counter()
    hit_sentences = with_number = with_number_hit = 0
    for sentence in untagged:
        found = extract_parameters(sentence)
        has_number = bool(re.search(r"\d", sentence))
        with_number += has_number
        if found:
            hit_sentences += 1
            with_number_hit += has_number
            by_kind.update(p.kind for p in found)
            if args.list:
                values = "; ".join(f"{p.kind}={p.value}" for p in found)
                print(f"{values}  <<  {sentence.strip()[:200]}")
    elapsed = time.perf_counter() - started

    measures = [
        (
            "`law` sentences with a governing_law (all levels)",
            recall(rows, "law", "governing_law", "123"),
        ),
        (
            "`law2`/`law3` sentences with a governing_law",
            recall(rows, "law", "governing_law", "23"),
        ),
        ("`j` sentences with a venue (all levels)", recall(rows, "j", "venue", "123")),
        ("`j2`/`j3` sentences with a venue", recall(rows, "j", "venue", "23")),
        ("untagged sentences yielding any parameter", share(hit_sentences, len(untagged))),
        (
            "untagged sentences with a digit yielding any parameter",
            share(with_number_hit, with_number),
        ),
    ]
    kinds = ", ".join(f"{kind} {n}" for kind, n in by_kind.most_common())
    body = "\n".join(
        [
            f"Measured by `bench/parameter_extraction.py` on CLAUDETTE ({len(rows)} sentences, "
            f"{elapsed:.1f} s).",
            "",
            "| measure | value |",
            "|---|---|",
            *(f"| {name} | {value} |" for name, value in measures),
            "",
            f"Untagged hits by kind: {kinds}.",
        ]
    )
    print(body)
    if args.write:
        write_section("parameter-extraction", body, doc=DOC)
    if args.ota:
        noise = ota_noise()
        print(noise)
        if args.write:
            write_section("substantive-ota", noise, doc=DOC)


if __name__ == "__main__":
    main()
