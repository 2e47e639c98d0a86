"""Token-level fidelity of an extraction against a reference Markdown (used by bench and tests)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")
_AUTOLINK = re.compile(r"<(?:https?|mailto|ftp):[^>\s]*>")
_WORD = re.compile(r"\w+")


def strip_link_targets(markdown: str) -> str:
    """``[text](url)`` → ``text`` and drop ``<http…>`` autolinks: targets are not clause text."""
    previous = None
    while previous != markdown:  # nested links (an image inside a link) need a second pass
        previous, markdown = markdown, _LINK.sub(r"\1", markdown)
    return _AUTOLINK.sub(" ", markdown)


def tokens(markdown: str) -> Counter[str]:
    """Bag of lowercased word tokens, link targets excluded."""
    return Counter(_WORD.findall(strip_link_targets(markdown).lower()))


@dataclass(frozen=True)
class Fidelity:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def token_fidelity(extracted: str, expected: str) -> Fidelity:
    """Multiset precision/recall of ``extracted`` tokens against ``expected`` tokens."""
    got, want = tokens(extracted), tokens(expected)
    common = sum((got & want).values())
    precision = common / sum(got.values()) if got else 0.0
    recall = common / sum(want.values()) if want else 0.0
    return Fidelity(precision, recall)


def collapse_repeated_runs(markdown: str, min_tokens: int = 5) -> str:
    """Drop a run of paragraphs that immediately repeats the run before it.

    Some reference extractions were made with overlapping selectors and hold a block twice in a row
    (title + date, or a whole policy). The page shows it once, so the bench scores against the
    reference with such verbatim back-to-back repeats removed, and reports both numbers.
    """
    paras = [p.strip() for p in re.split(r"\n\s*\n", markdown) if p.strip()]
    i = 0
    while i < len(paras):
        for length in range((len(paras) - i) // 2, 0, -1):
            first, second = paras[i : i + length], paras[i + length : i + 2 * length]
            if first == second and len(_WORD.findall(" ".join(first))) >= min_tokens:
                del paras[i + length : i + 2 * length]
                break
        else:
            i += 1
    return "\n\n".join(paras) + "\n"


def repair_reference(markdown: str) -> str:
    """:func:`collapse_repeated_runs` within each source of a combined reference document.

    Repeats across sources are kept: a document may legitimately list the same page twice.
    """
    parts = re.split(r"\n\s*- - -\s*\n", markdown)
    return "\n\n- - -\n\n".join(collapse_repeated_runs(part) for part in parts)
