"""Draw the gold-set sample of real provisions (reproducible: fixed seed, deterministic order).

Sources (both ODC-By 1.0, see gold/README.md): the latest non-deleted version of every document of
the Platform Governance Archive history (`../shared/data/ota/pga-versions.jsonl.xz`) and every
`expected.md` of `../shared/data/extraction` (AI services). Each document is segmented into
provisions with the product's own segmenter; up to ``PER_DOCUMENT`` provisions are drawn at random
per document, so every platform and document kind is represented.

    .venv/bin/python gold/sample.py > gold/candidates.jsonl
    .venv/bin/python gold/sample.py --targeted > gold/batches/targeted.jsonl
"""

from __future__ import annotations

import hashlib
import json
import lzma
import random
import re
import sys
from pathlib import Path

from clausewatch.provisions.segment import Segment, segment

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PER_DOCUMENT = 10
SEED = 2026
MAX_CHARS = 6000  # longer provisions are rare; a reader cannot label them reliably


def pga_documents() -> dict[tuple[str, str], str]:
    latest: dict[tuple[str, str], str | None] = {}
    with lzma.open(SHARED / "ota" / "pga-versions.jsonl.xz", "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            latest[(record["service"], record["terms_type"])] = record["text"]
    return {key: text for key, text in latest.items() if text}


def extraction_documents() -> dict[tuple[str, str], str]:
    out = {}
    for path in sorted((SHARED / "extraction").glob("*/*/expected.md")):
        out[(path.parent.parent.name, path.parent.name)] = path.read_text(encoding="utf-8")
    return out


def main() -> None:
    rng = random.Random(SEED)
    sources = [("pga", pga_documents()), ("extraction", extraction_documents())]
    for source, documents in sources:
        for (service, terms_type), text in sorted(documents.items()):
            segments = [s for s in segment(text) if len(s.text) <= MAX_CHARS]
            picked = sorted(rng.sample(range(len(segments)), min(PER_DOCUMENT, len(segments))))
            for j in picked:
                sys.stdout.write(json.dumps(_row(source, service, terms_type, segments[j]),
                                            ensure_ascii=False) + "\n")  # fmt: skip


def _row(source: str, service: str, terms_type: str, s: Segment) -> dict[str, object]:
    key = f"{source}|{service}|{terms_type}|{s.start}"
    return {
        "id": "G-" + hashlib.sha256(key.encode()).hexdigest()[:10],
        "source": source,
        "platform": service,
        "document": terms_type,
        "heading": list(s.heading_path),
        "kind": s.kind,
        "text": s.text,
    }


# A targeted supplement for the types that random sampling finds too rarely to learn (AI
# training, automated decisions, AI output, children's data): provisions whose text mentions
# their subject, not already drawn, at most TARGETED_PER_DOCUMENT per document. Figures are
# reported on the random sample alone and on both (docs/classification.md).
TARGETED = re.compile(
    r"artificial intelligence|machine[- ]learning|\bAI\b|\b(?:train|training|trained)\b.{0,60}"
    r"\bmodels?\b|generative|automated (?:decision|means|system|process)|profiling|\bchild"
    r"|\bminors?\b|under (?:the age of )?1[3-8]\b|parental",
    re.I,
)
TARGETED_PER_DOCUMENT = 4
TARGETED_TOTAL = 200


def targeted(drawn: set[str]) -> list[dict[str, object]]:
    rng = random.Random(SEED + 1)
    pool = []
    for source, documents in (("pga", pga_documents()), ("extraction", extraction_documents())):
        for (service, terms_type), text in sorted(documents.items()):
            rows = [
                _row(source, service, terms_type, s)
                for s in segment(text)
                if len(s.text) <= MAX_CHARS and TARGETED.search(s.text)
            ]
            rows = [r for r in rows if r["id"] not in drawn]
            pool.extend(rng.sample(rows, min(TARGETED_PER_DOCUMENT, len(rows))))
    return sorted(rng.sample(pool, min(TARGETED_TOTAL, len(pool))), key=lambda r: str(r["id"]))


if __name__ == "__main__":
    if sys.argv[1:] == ["--targeted"]:
        here = Path(__file__).parent
        drawn = {json.loads(x)["id"] for x in (here / "candidates.jsonl").open(encoding="utf-8")}
        for row in targeted(drawn):
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        main()
