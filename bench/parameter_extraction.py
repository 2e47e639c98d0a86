"""Parameter extraction measured on CLAUDETTE: a recall proxy and a false-positive proxy.

Recall proxy: of the sentences tagged `law` (choice of law), the share where a `governing_law`
is extracted; the same for `j` (jurisdiction) and `venue`. Tags of level 1 mark "fair" clauses,
many of which only mention a law ("mandatory provisions of the law of your country"), so the
figures are also given for levels 2–3.

False-positive proxy: of the sentences with no tag at all, how many yield any parameter. It is
an upper bound: untagged sentences legitimately state minimum ages, cancellation windows and
arbitration bodies (CLAUDETTE has no tag for them), so the hits are listed with ``--list`` for
review.

Usage: .venv/bin/python bench/parameter_extraction.py [--list] [--write]
(--write replaces the figures in docs/changes.md).
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter

from _common import ROOT, SHARED_DATA, write_section

from clausewatch.changes.parameters import extract_parameters

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--list", action="store_true", help="print every untagged hit")
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

    body = "\n".join(
        [
            f"Measured by `bench/parameter_extraction.py` on CLAUDETTE ({len(rows)} sentences, "
            f"{elapsed:.1f} s).",
            "",
            "| measure | value |",
            "|---|---|",
            f"| `law` sentences with a governing_law (all levels) | {recall(rows, 'law', 'governing_law', '123')} |",
            f"| `law2`/`law3` sentences with a governing_law | {recall(rows, 'law', 'governing_law', '23')} |",
            f"| `j` sentences with a venue (all levels) | {recall(rows, 'j', 'venue', '123')} |",
            f"| `j2`/`j3` sentences with a venue | {recall(rows, 'j', 'venue', '23')} |",
            f"| untagged sentences yielding any parameter | {share(hit_sentences, len(untagged))} |",
            f"| untagged sentences with a digit yielding any parameter | {share(with_number_hit, with_number)} |",
            "",
            "Untagged hits by kind: "
            + ", ".join(f"{kind} {n}" for kind, n in sorted(by_kind.items(), key=lambda kv: -kv[1]))
            + ".",
        ]
    )
    print(body)
    if args.write:
        write_section("parameter-extraction", body, doc=DOC)


if __name__ == "__main__":
    main()
