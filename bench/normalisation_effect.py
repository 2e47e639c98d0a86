"""How many recorded OTA changes are only rendering noise that ``normalise_for_hash`` removes.

Reads ``../shared/data/ota/pga-versions.jsonl.xz`` (records in recording order) and, per document,
compares each ``change`` record with the text before it: identical after normalisation means the
"change" was noise (a random ID in a link, a cache-buster, whitespace...). Usage::

    .venv/bin/python bench/normalisation_effect.py [--top 10] [--examples 0] [--write-docs]
"""

from __future__ import annotations

import argparse
import difflib
import json
import lzma
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from clausewatch.extract.normalise import normalise_for_hash

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ROOT.parent / "shared" / "data" / "ota" / "pga-versions.jsonl.xz"
DOCS = ROOT / "docs" / "extraction.md"


def consecutive_changes(path: Path = VERSIONS) -> Iterator[tuple[tuple[str, str], str, str]]:
    """(document, previous text, new text) for every ``change`` record that has a predecessor."""
    previous: dict[tuple[str, str], str] = {}
    with lzma.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            key = (record["service"], record["terms_type"])
            text = record["text"]
            if text is None:
                previous.pop(key, None)
                continue
            if record["kind"] == "change" and key in previous:
                yield key, previous[key], text
            previous[key] = text


def write_docs(figure: str, table: str) -> None:
    doc = DOCS.read_text()
    for begin, end, text in (
        ("<!-- norm-collapsed -->", "<!-- /norm-collapsed -->", figure),
        ("<!-- norm-table:begin -->", "<!-- norm-table:end -->", f"\n{table}\n"),
    ):
        pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
        if not pattern.search(doc):
            sys.exit(f"{DOCS} has no {begin} … {end} section")
        doc = pattern.sub(lambda _, b=begin, e=end, t=text: f"{b}{t}{e}", doc)
    DOCS.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--top", type=int, default=8, help="documents to list")
    parser.add_argument("--examples", type=int, default=0, help="print diffs of N survivors")
    parser.add_argument("--write-docs", action="store_true", help="rewrite docs/extraction.md")
    args = parser.parse_args()
    total, raw_equal, collapsed = Counter[tuple[str, str]](), 0, Counter[tuple[str, str]]()
    survivors = []
    cache: dict[str, str] = {}  # each text is the "after" of one pair and the "before" of the next

    def canonical(text: str) -> str:
        if text not in cache:
            if len(cache) > 256:
                cache.clear()
            cache[text] = normalise_for_hash(text)
        return cache[text]

    for key, before, after in consecutive_changes():
        total[key] += 1
        raw_equal += before == after
        if canonical(before) == canonical(after):
            collapsed[key] += 1
        elif len(survivors) < args.examples:
            survivors.append((key, before, after))
    n, c = sum(total.values()), sum(collapsed.values())
    print(f"{n} consecutive change records in {len(total)} documents")
    print(f"identical before normalisation: {raw_equal}")
    print(f"identical after normalise_for_hash: {c} ({100 * c / n:.1f}%)\n")
    rows = [
        "| document | change records | noise (identical after normalisation) | left |",
        "|---|---:|---:|---:|",
    ]
    for key, count in collapsed.most_common(args.top):
        rows.append(f"| {key[0]} / {key[1]} | {total[key]} | {count} | {total[key] - count} |")
    rows.append(f"| **all {len(total)} documents** | **{n}** | **{c}** | **{n - c}** |")
    print("\n".join(rows))
    if args.write_docs:
        write_docs(f"{c:,} ({100 * c / n:.1f} %)", "\n".join(rows))
    for key, before, after in survivors:
        a, b = normalise_for_hash(before).splitlines(), normalise_for_hash(after).splitlines()
        diff = [d for d in difflib.unified_diff(a, b, lineterm="", n=0) if d[:1] in "+-"]
        print(f"\n{key}:", *[d[:200] for d in diff[2:8]], sep="\n  ")


if __name__ == "__main__":
    main()
