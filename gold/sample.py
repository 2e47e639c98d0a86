"""Draw the gold-set sample of real provisions (reproducible: fixed seed, deterministic order).

Sources (both ODC-By 1.0, see gold/README.md): the latest non-deleted version of every document of
the Platform Governance Archive history (`../shared/data/ota/pga-versions.jsonl.xz`) and every
`expected.md` of `../shared/data/extraction` (AI services). Each document is segmented into
provisions with the product's own segmenter; up to ``PER_DOCUMENT`` provisions are drawn at random
per document, so every platform and document kind is represented.

    .venv/bin/python gold/sample.py > gold/candidates.jsonl
    .venv/bin/python gold/sample.py --targeted > gold/batches/targeted.jsonl
    .venv/bin/python gold/sample.py --round-2      # later draws (see ``draws``), split into
    .venv/bin/python gold/sample.py --targeted-2   # gold/batches/batch-7… and targeted-2.jsonl
    .venv/bin/python gold/sample.py --round-3
    .venv/bin/python gold/sample.py --targeted-3   # then --round-4: batches 20… and targeted-3
"""

from __future__ import annotations

import hashlib
import json
import lzma
import random
import re
import sys
from collections.abc import Iterator
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


Document = list[dict[str, object]]  # the rows of one document's provisions, in order


def _segmented() -> Iterator[tuple[str, str, str, list[Segment]]]:
    """(source, service, terms type, segments) of every source document, in the draws' order."""
    for source, texts in (("pga", pga_documents()), ("extraction", extraction_documents())):
        for (service, terms_type), text in sorted(texts.items()):
            yield source, service, terms_type, segment(text)


def documents() -> list[Document]:
    """Every source document segmented once, as candidate rows (provisions of at most
    ``MAX_CHARS``), in the order every draw walks them."""
    return [
        [_row(source, service, terms_type, s) for s in segments if len(s.text) <= MAX_CHARS]
        for source, service, terms_type, segments in _segmented()
    ]


def contexts() -> dict[str, str]:
    """The segment context of every candidate provision that has one, by id: a list item's
    lead-in, a table row's header row (``Segment.context``). Not shown to the annotators (the
    batch files hold what they read); ``merge.py`` adds it to the gold set for the classifier,
    which reads it as the product does (``classify.model.feature_text``)."""
    return {
        str(_row(source, service, terms_type, s)["id"]): s.context
        for source, service, terms_type, segments in _segmented()
        for s in segments
        if s.context
    }


def first_draw(docs: list[Document]) -> list[dict[str, object]]:
    rng = random.Random(SEED)
    rows = []
    for doc in docs:
        picked = sorted(rng.sample(range(len(doc)), min(PER_DOCUMENT, len(doc))))
        rows += [doc[j] for j in picked]
    return rows


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


def targeted_draw(
    docs: list[Document], drawn: set[str], pattern: re.Pattern[str], seed: int,
    per_document: int, total: int,
) -> list[dict[str, object]]:  # fmt: skip
    """Up to ``per_document`` provisions of each document whose text matches ``pattern`` and
    that were not drawn before, then ``total`` of those, ordered by id."""
    rng = random.Random(seed)
    pool = []
    for doc in docs:
        rows = [r for r in doc if pattern.search(str(r["text"])) and r["id"] not in drawn]
        pool.extend(rng.sample(rows, min(per_document, len(rows))))
    return sorted(rng.sample(pool, min(total, len(pool))), key=lambda r: str(r["id"]))


# Later draws (2026-12-07): the learning curve still climbed at the full first set
# (docs/classification.md), so more random draws of up to ``per_document`` provisions per
# document (never one already drawn), and a second targeted draw for the types the model found
# least often (recall under 0.4 in the first set's cross-validation).
ROUNDS = {2: (2027, 8), 3: (2029, 16), 4: (2031, 24), 5: (2033, 32)}  # round: (seed, per document)
TARGETED2 = re.compile(
    r"\bsuspen|\bdisabl|deactivat|discontinu|\bterminat|remove (?:any|your|the) content"
    r"|\bautomated\b|\bsecur(?:e|ity)\b|encrypt|\bretain|retention|\btransfer|outside (?:of )?the"
    r"|privacy framework|standard contractual|governed by|laws of|\bcourts?\b|as is\b|warrant"
    r"|refund|subscription|\brenew|\bfees?\b|by (?:using|accessing)|\blicen[cs]e"
    r"|password|\boutputs?\b|(?:change|modify|amend|update)s? (?:these|this|the) (?:terms|policy)",
    re.I,
)
TARGETED2_PER_DOCUMENT = 3
TARGETED2_TOTAL = 300


# A third targeted draw (2026-12-07, fourth round) for the types still found least often on the
# 5,760 (recall under 0.2: suspension, discontinuation, automated decisions) and the ones shown
# with the lowest precision (privacy policy by reference, contract by using).
TARGETED3 = re.compile(
    r"\bsuspen|\bdisabl|deactivat|\bban(?:ned|s)?\b|discontinu|\bceas|\bwithdraw|shut down"
    r"|\bautomat|algorithm|\bprofil|\bprivacy (?:policy|notice|statement)\b"
    r"|by (?:using|accessing|continuing)|\bagree(?:ing|ment)? to (?:these|this|the)",
    re.I,
)
TARGETED3_PER_DOCUMENT = 4
TARGETED3_TOTAL = 400


# A fourth targeted draw (2026-12-07, fifth round) for the types still shown least often on the
# 9,011 (recall under 0.3: suspension, discontinuation, automated decisions, content removal,
# AI output; under 0.4: warranty disclaimers, notice of policy changes, children's data).
TARGETED4 = re.compile(
    r"\bsuspen|\bdisabl|deactivat|\bban(?:ned|s)?\b|discontinu|\bceas|shut down|\bautomat"
    r"|algorithm|\bremov|take down|\bAI\b|generat|\boutputs?\b|as is\b|as available|warrant"
    r"|\bnotif|\bnotice of|\bchild|\bminors?\b|parent",
    re.I,
)
TARGETED4_PER_DOCUMENT = 4
TARGETED4_TOTAL = 400


def later_draw(docs: list[Document], number: int, drawn: set[str]) -> list[dict[str, object]]:
    seed, per_document = ROUNDS[number]
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for doc in docs:
        pool = [r for r in doc if r["id"] not in drawn]
        rows += rng.sample(pool, min(per_document, len(pool)))
    return rows


def draws() -> dict[str, list[dict[str, object]]]:
    """Every draw, in the order they were made; each excludes the provisions drawn before it."""
    docs = documents()
    out = {"first": first_draw(docs)}
    out["targeted"] = targeted_draw(
        docs, _ids(out), TARGETED, SEED + 1, TARGETED_PER_DOCUMENT, TARGETED_TOTAL
    )
    out["round-2"] = later_draw(docs, 2, _ids(out))
    out["targeted-2"] = targeted_draw(
        docs, _ids(out), TARGETED2, ROUNDS[2][0] + 1, TARGETED2_PER_DOCUMENT, TARGETED2_TOTAL
    )
    out["round-3"] = later_draw(docs, 3, _ids(out))
    out["targeted-3"] = targeted_draw(
        docs, _ids(out), TARGETED3, ROUNDS[4][0] + 1, TARGETED3_PER_DOCUMENT, TARGETED3_TOTAL
    )
    out["round-4"] = later_draw(docs, 4, _ids(out))
    out["targeted-4"] = targeted_draw(
        docs, _ids(out), TARGETED4, ROUNDS[5][0] + 1, TARGETED4_PER_DOCUMENT, TARGETED4_TOTAL
    )
    out["round-5"] = later_draw(docs, 5, _ids(out))
    return out


def _ids(draws: dict[str, list[dict[str, object]]]) -> set[str]:
    return {str(r["id"]) for rows in draws.values() for r in rows}


def _write(rows: list[dict[str, object]]) -> None:
    for row in rows:
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    # no argument: the first draw (gold/candidates.jsonl); --targeted, --round-2, --targeted-2,
    # --round-3, --targeted-3, --round-4, --targeted-4, --round-5: that later draw, before it was
    # split into batches
    name = sys.argv[1].removeprefix("--") if sys.argv[1:] else "first"
    _write(draws()[name])
