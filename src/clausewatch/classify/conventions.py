"""Severity conventions of the annotation guidelines that keep a clause below High whatever the
severity model's P(High): the clause, or its document, states a counterweight
(docs/annotation.md, "Severity conventions" and "Arbitration severity and the opt-out").

* **A change clause that gives notice** ("we will notify you", "30 days' notice", "you may
  object") is Medium, not High; only where the clause is ("Notice is read where the clause is").
* **An arbitration agreement the user can opt out of** is Medium, not High, and so are its
  procedural rows. The opt-out is read document-wide: it is often a section of its own
  ("30-Day Right to Opt Out") or a sentence of the summary at the top. An opt-out only from later
  changes or modifications, only from a mass-arbitration stage, or only "in some circumstances"
  does not count. The model reads one provision at a time, so the analysis reads the document's
  opt-out (:func:`arbitration_opt_out` over its provisions) and :func:`lower_for_opt_out` lowers
  the document's High arbitration predictions; within one provision :func:`high_cap` does it.

Each lowering adds a reason that quotes the words that state the counterweight, exactly as the
archived text has them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from clausewatch.classify.normtext import normalise
from clausewatch.classify.sentences import sentence_spans

if TYPE_CHECKING:
    from clausewatch.classify.model import Prediction

ARBITRATION = "arbitration"
CHANGE = "unilateral-change"
OPT_OUT_REASON = "lowers: the document lets users opt out of its arbitration agreement"
NOTICE_REASON = "lowers: users are told of changes in advance or may object to them"
QUOTE_LIMIT = 200  # characters of a sentence quoted in a reason

_OPT_OUT = re.compile(r"\bopt(?:ed|ing|s)?[- ]?out\b|\bopting out\b", re.I)
_ARBITRATION = re.compile(r"\barbitrat", re.I)
# what the opt-out is from, when it is not the agreement itself
_PARTIAL = re.compile(
    r"\b(?:opt(?:ed|ing|s)?[- ]?out of|reject(?:s|ed|ing)?) "
    r"(?:a |an |any |such |the |these |those )*"
    r"(?:\w+ )?(?:modifications?|changes?|updates?|amendments?)\b"
    r"|\bmass (?:arbitration|filing|claims?)\b|\bstaged proceeding|\bbatch(?:es|ed)? arbitration"
    r"|\bin (?:some|certain|limited) circumstances\b",
    re.I,
)
_WHO = r"(?:you|users?|creators?|customers?|members?|developers?)"
_NOTICE = re.compile(
    rf"\b(?:notify|inform|tell|email) {_WHO}\b|\bnotice to {_WHO}\b"
    r"|\b(?:provide|give|send|post)s? (?:you )?(?:with )?(?:\w+ )?notice\b"
    r"|\b(?:prior|advance|reasonable) notice\b|\b\d+ days?'? (?:prior |advance )?notice\b"
    r"|\bnotice (?:of|at least) \d+|\b(?:object|reject)s? (?:to )?(?:the |any |such |these )?"
    r"(?:change|modification|update|amendment)",
    re.I,
)
# notice denied: "without notice", "we may not provide you with any notice", "not obliged to …"
_NO_NOTICE = re.compile(
    r"\bwith(?:out| or without) (?:any |prior |advance |further |\w+ )?notice\b"
    r"|\bnot (?:be )?(?:provide|give|send|obliged|required|obligated|responsible)\b[^.;]{0,40}"
    r"|\bno (?:obligation|duty) to\b[^.;]{0,40}",
    re.I,
)


def arbitration_opt_out(passages: Iterable[tuple[str | None, str]]) -> str | None:
    """The first sentence of a document that lets users opt out of its arbitration agreement
    (an exact substring of its passage's text), else None. ``passages`` are (heading context,
    text) pairs in document order: the provisions of one version, or its gold rows."""
    for heading, text in passages:
        if heading and _PARTIAL.search(normalise(heading).text):
            continue  # an opt-out under "Mass arbitration" is from that stage alone
        for start, end in sentence_spans(text):
            sentence = text[start:end].strip()
            plain = normalise(sentence).text
            if _OPT_OUT.search(plain) and _ARBITRATION.search(plain) and not _PARTIAL.search(plain):
                return sentence
    return None


def stated_notice(text: str) -> str | None:
    """The words of a change clause that give notice or a right to object (exact), else None."""
    norm = normalise(text)
    plain = _NO_NOTICE.sub(lambda m: " " * len(m.group()), norm.text)
    m = _NOTICE.search(plain)
    return norm.quote(m.start(), m.end()) if m else None


def high_cap(type_id: str, text: str) -> str | None:
    """The reason a clause of ``type_id`` with this text is not High (a convention above,
    quoting the provision's own words), else None."""
    if type_id == CHANGE and (words := stated_notice(text)):
        return f"{NOTICE_REASON} (\u201c{words}\u201d)"
    if type_id == ARBITRATION and (sentence := arbitration_opt_out([(None, text)])):
        return _opt_out_reason(sentence)
    return None


def capped(reasons: Sequence[str], cap: str) -> tuple[str, ...]:
    """``reasons`` of a High lowered to Medium by ``cap``."""
    kept = [r for r in reasons if not r.startswith("Assessed:")]
    return (*kept, cap, "Assessed: Medium")


def lower_for_opt_out(predictions: Sequence[Prediction], opt_out: str | None) -> list[Prediction]:
    """The predictions with a High arbitration lowered to Medium when the document has an
    opt-out (``opt_out``: the sentence that states it, quoted in the reasons)."""
    if opt_out is None:
        return list(predictions)
    reason = _opt_out_reason(opt_out)
    return [
        replace(p, severity="Medium", severity_reasons=capped(p.severity_reasons, reason))
        if p.type_id == ARBITRATION and p.severity == "High" and not p.negated
        else p
        for p in predictions
    ]


def _opt_out_reason(sentence: str) -> str:
    return f"{OPT_OUT_REASON} (\u201c{_quotable(sentence)}\u201d)"


def _quotable(sentence: str) -> str:
    """The stretch of ``sentence`` around its opt-out that holds no double quotes or line
    breaks (a narrative cites a reason's words only then), at most QUOTE_LIMIT characters."""
    m = _OPT_OUT.search(sentence)
    at = m.start() if m else 0
    runs = [r for r in _RUN.finditer(sentence) if r.group().strip()]
    run = next((r for r in runs if r.start() <= at < r.end()), None) or max(
        runs, key=lambda r: len(r.group()), default=None
    )
    if run is None:
        return sentence.strip()
    start, end = run.span()
    if end - start > QUOTE_LIMIT:
        start = max(start, at - QUOTE_LIMIT // 3)
        start = sentence.find(" ", start, at) + 1 if start > run.start() else start
        end = min(end, start + QUOTE_LIMIT)
        end = sentence.rfind(" ", start, end) if end < run.end() else end
    return sentence[start:end].strip().rstrip(",;:")


_RUN = re.compile(r"[^\"\u201c\u201d\n]+")
