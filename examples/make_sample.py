"""Build the bundled offline sample from the Platform Governance Archive export.

    .venv/bin/python examples/make_sample.py [--source PATH] [--out PATH]

Reads ``../shared/data/ota/pga-versions.jsonl.xz`` (Open Terms Archive / Platform Governance
Archive, ODC-By 1.0), keeps the documents listed in ``DOCUMENTS`` and thins each one's version
history to at most ``PER_DOCUMENT`` records: the first record, the last one, and evenly spaced
records in between (a ``deleted`` record is always kept). Records are copied unchanged (every
field, in recording order). The output is deterministic: the same input gives the same bytes.
"""

from __future__ import annotations

import argparse
import json
import lzma
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "ota" / "pga-versions.jsonl.xz"
OUT = ROOT / "src" / "clausewatch" / "data" / "pga-sample.jsonl.xz"

# six platforms, two or three documents each: short enough to import and analyse in a minute
DOCUMENTS: dict[str, tuple[str, ...]] = {
    "Bluesky": ("Terms of Service", "Privacy Policy", "Community Guidelines"),
    "LinkedIn": ("Terms of Service", "Privacy Policy"),
    "Reddit": ("Terms of Service", "Privacy Policy"),
    "Spotify": ("Terms of Service", "Privacy Policy"),
    "TikTok": ("Terms of Service", "Privacy Policy"),
    "WhatsApp": ("Terms of Service", "Privacy Policy"),
}
PER_DOCUMENT = 5


def thin(indices: list[int], keep: int) -> list[int]:
    """First, last and evenly spaced indices in between."""
    if len(indices) <= keep:
        return indices
    step = (len(indices) - 1) / (keep - 1)
    return sorted({indices[round(i * step)] for i in range(keep)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with lzma.open(args.source, "rt", encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip()]
    by_document: dict[tuple[str, str], list[int]] = defaultdict(list)
    for number, line in enumerate(lines):
        row = json.loads(line)
        if row["terms_type"] in DOCUMENTS.get(row["service"], ()):
            by_document[(row["service"], row["terms_type"])].append(number)
    chosen: set[int] = set()
    for numbers in by_document.values():
        chosen.update(thin(numbers, PER_DOCUMENT))
        chosen.update(n for n in numbers if json.loads(lines[n])["kind"] == "deleted")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = "".join(lines[n] for n in sorted(chosen)).encode("utf-8")
    args.out.write_bytes(lzma.compress(payload, preset=9 | lzma.PRESET_EXTREME))
    print(
        f"wrote {args.out}: {len(chosen)} records of {len(by_document)} documents "
        f"({len(DOCUMENTS)} platforms), {args.out.stat().st_size:,} bytes"
    )


if __name__ == "__main__":
    main()
