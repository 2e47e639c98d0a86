"""Training and evaluation corpora from ``../shared/data`` (CLAUDETTE, ToS;DR, OPP-115).

OPP-115 is CC BY-NC: it may be read for evaluation only and is never used by ``train.py``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from clausewatch.classify.features import clean_text
from clausewatch.classify.model import feature_text
from clausewatch.classify.taxonomy import BOILERPLATE, Taxonomy

_TAG_RE = re.compile(r"^([a-z]+?)(\d)$")
CLAUDETTE_EVAL_TAGS = ("a", "ch", "cr", "j", "law", "ltd", "ter", "use")


def data_root() -> Path:
    """``$CLAUSEWATCH_DATA`` or ``../shared/data`` relative to the project root."""
    env = os.environ.get("CLAUSEWATCH_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


@dataclass
class Sample:
    text: str
    group: str  # document (CLAUDETTE) or service (ToS;DR): the unit of every split
    source: str  # "claudette" | "tosdr"
    types: set[str] = field(default_factory=set)
    tags: dict[str, int] = field(default_factory=dict)  # CLAUDETTE tag -> fairness level
    heading: str = ""  # CLAUDETTE: the last heading-like line above the sentence (text only)


def parse_tags(line: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for token in line.split():
        m = _TAG_RE.match(token)
        if m:
            out[m.group(1)] = max(out.get(m.group(1), 0), int(m.group(2)))
    return out


def load_claudette(taxonomy: Taxonomy, root: Path | None = None) -> list[Sample]:
    base = (root or data_root()) / "claudette"
    samples: list[Sample] = []
    for sent_file in sorted((base / "sentences").glob("*.txt")):
        doc = sent_file.stem
        sentences = sent_file.read_text(encoding="utf-8").split("\n")
        tag_lines = (base / "tags" / sent_file.name).read_text(encoding="utf-8").split("\n")
        heading = ""
        for i, raw in enumerate(sentences):
            text = clean_text(raw)
            if not text:
                continue
            tags = parse_tags(tag_lines[i] if i < len(tag_lines) else "")
            types = {t for tag in tags for t in _tag_types(taxonomy, tag, text)}
            samples.append(Sample(text, doc, "claudette", types, tags, heading))
            if is_heading(text):  # decided from the text alone, never from the tags
                heading = text
    return samples


def claudette_folds(root: Path | None = None) -> list[tuple[list[str], list[str]]]:
    """The authors' 5 document-level folds: (train documents, test documents)."""
    lists = (root or data_root()) / "claudette" / "lists"
    folds = []
    for k in range(5):
        train = [Path(n).stem for n in (lists / f"LIST_TRAIN_{k}.txt").read_text().split()]
        test = [Path(n).stem for n in (lists / f"LIST_TEST_{k}.txt").read_text().split()]
        folds.append((train, test))
    return folds


def load_tosdr(taxonomy: Taxonomy, root: Path | None = None) -> list[Sample]:
    """ToS;DR points whose case is mapped in the taxonomy (deduplicated per service)."""
    case_map = taxonomy.tosdr_case_map()
    path = (root or data_root()) / "tosdr" / "points.jsonl"
    merged: dict[tuple[str, str], Sample] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            point = json.loads(line)
            types = case_map.get(str(point.get("case") or "").strip())
            text = clean_text(str(point.get("quote") or ""))
            if not types or len(text) < 15:
                continue
            types = _by_wording(taxonomy, types, text)
            key = (str(point["service"]), text)
            sample = merged.setdefault(key, Sample(text, f"tosdr:{key[0]}", "tosdr"))
            sample.types.update(types)
    return list(merged.values())


def _tag_types(taxonomy: Taxonomy, tag: str, text: str) -> list[str]:
    """The types of a CLAUDETTE tag for this sentence. A tag mapped to two types (``ch`` covers
    changes to the terms and to the service, ``ter`` termination and suspension) keeps those
    whose trigger phrases occur, else its first type (the taxonomy's order)."""
    types = taxonomy.types_for_claudette(tag)
    if len(types) < 2:
        return types
    worded = [t for t in types if any(p.search(text) for p in taxonomy.by_id[t].triggers)]
    return worded or types[:1]


def _by_wording(taxonomy: Taxonomy, types: list[str], text: str) -> list[str]:
    """A case mapped to several types (ToS;DR's "court of law governing the terms" covers both
    governing law and venue) keeps the types whose trigger phrases occur in the quote."""
    if len(types) < 2:
        return types
    matched = [t for t in types if any(p.search(text) for p in taxonomy.by_id[t].triggers)]
    return matched or types


def is_heading(text: str) -> bool:
    """Short title-like line (CLAUDETTE keeps headings as sentences): weak boilerplate label."""
    words = text.split()
    return 0 < len(words) <= 6 and not text.rstrip().endswith((".", ";", ",", ":"))


# --- the gold set (gold/provisions.jsonl, docs/annotation.md) --------------------------------
GOLD_PATH = Path(__file__).resolve().parents[3] / "gold" / "provisions.jsonl"
# Platforms run by one company share drafting: they are one group in every split.
PLATFORM_FAMILIES = {
    "X": "x", "Twitter": "x", "Grok": "x",
    "Facebook": "meta", "Instagram": "meta", "Threads": "meta", "WhatsApp": "meta",
    "Meta AI": "meta",
}  # fmt: skip


def platform_group(platform: str) -> str:
    return PLATFORM_FAMILIES.get(platform, platform)


@dataclass
class GoldProvision:
    """One labelled provision (see docs/annotation.md for what each label means)."""

    id: str
    platform: str
    document: str
    heading: str  # the context the classifier reads: document type, then the heading path
    text: str
    main: str | None  # None: carries no clause
    other: list[str]
    severity: str | None
    negated: bool
    unsure: bool
    sample: str  # "random" | "targeted"
    context: str | None = None  # the segment's lead-in or table header (segment.Segment)

    @property
    def model_text(self) -> str:
        """What the classifier's text features read (``model.feature_text``)."""
        return feature_text(self.text, self.context)

    @property
    def group(self) -> str:
        return platform_group(self.platform)

    @property
    def types(self) -> set[str]:
        return ({self.main} if self.main else set()) | set(self.other)

    @property
    def carries_clause(self) -> bool:
        return self.main not in (None, BOILERPLATE)


def load_gold(path: Path = GOLD_PATH) -> list[GoldProvision]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            out.append(
                GoldProvision(
                    r["id"], r["platform"], r["document"],
                    " > ".join([r["document"], *r["heading"]]), r["text"],
                    r["main"], list(r["other"]), r["severity"], bool(r["negated"]),
                    bool(r["unsure"]), r["sample"], r.get("context"),
                )
            )  # fmt: skip
    return out
