"""Severity conventions of the annotation guidelines, applied after the severity model whatever
its probabilities: the clause, or its document, states a counterweight (docs/annotation.md,
"Severity conventions" and "Arbitration severity and the opt-out").

* **A carve-out is Low.** A liability or warranty provision that only keeps what the law keeps
  ("Nothing in these Terms shall exclude or limit our liability for death or personal injury",
  "you will also benefit from the following legal warranty", "these limitations may not apply
  to you") states no limit of its own: Low, with no limiting sentence beside it.
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
# a stretch of text with no double quote or line break: what a narrative can quote as is
QUOTABLE_RUN = re.compile(r"[^\"\u201c\u201d\n]+")

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
    r"\bwith(?:out| or without) (?:[\w'’]+ ){0,5}?notice\b"
    r"|\bnot (?:be )?(?:provide|give|send|obliged|required|obligated|responsible)\b[^.;]{0,40}"
    r"|\bno (?:obligation|duty) to\b[^.;]{0,40}",
    re.I,
)
_CARVE_TYPES = frozenset({"limitation-of-liability", "warranty-disclaimer"})
CARVE_OUT_REASON = "lowers: it keeps a liability or right that the law keeps, and limits nothing"
_CARVE = re.compile(
    r"\bnothing in (?:these|this|the)\b[^;]{0,240}?\b(?:exclude|limit|restrict|affect|prejudice"
    r"|modif|waive)"
    r"|\b(?:do|does|shall|will) not (?:apply|affect|exclude|limit|restrict)\b[^.;]{0,60}"
    r"\b(?:death|personal injur|fraud|gross(?:ly)? neglig|wil+ful|intentional|statutory"
    r"|legal rights)"
    r"|\b(?:not|never) (?:exclude|limit|restrict)\w* (?:or (?:exclude|limit|restrict)\w* )?"
    r"(?:our|its|any) (?:liability|responsibility)\b[^.;]{0,60}\b(?:unlawful|death|fraud|law)"
    r"|\b(?:legal|statutory) (?:warrant|guarantee)|\black of conformity"
    r"|\bnon-?(?:compliance|conformity)\b|\bliable without limitation\b"
    r"|\bmay not apply to you\b|\bmay have (?:additional|other) rights\b"
    r"|\bdo(?:es)? not (?:allow|permit) (?:the |us to )?(?:exclu|limit|disclaim)",
    re.I,
)
# words that state a limit or a disclaimer of the provider's own
_LIMIT = re.compile(
    r"\b(?:not|no) (?:be )?(?:liable|responsib)|\bin no event\b|\bdisclaim|\bas is\b"
    r"|\bas available\b|\bexclude (?:all|any)\b|\b(?:shall|will|does|do) not exceed\b"
    r"|\blimited to\b|\bwithout (?:any )?warrant|\bmakes? no (?:representation|warrant)"
    r"|\b(?:does not|do not|don't) give any (?:\w+ )?promises|\btotal (?:aggregate )?liability"
    r"|\bsubject to the (?:exclusions|limitations)",
    re.I,
)


def carve_out(type_id: str, text: str) -> str | None:
    """The carve-out sentence of a liability or warranty provision that limits nothing else
    (exact, from ``text``), else None."""
    if type_id not in _CARVE_TYPES:
        return None
    found = None
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        plain = normalise(sentence).text
        if _LIMIT.search(plain):
            return None  # a limit of its own beside the carve-out: not a carve-out
        if found is None and _CARVE.search(plain):
            found = sentence.strip()
    return found


def apply_conventions(
    type_id: str, text: str, severity: str, reasons: Sequence[str]
) -> tuple[str, tuple[str, ...]]:
    """``severity`` and ``reasons`` after the conventions above (the reason added quotes the
    provision's words)."""
    if severity != "Low" and (sentence := carve_out(type_id, text)):
        reason = f"{CARVE_OUT_REASON} (\u201c{_quotable(sentence, 0)}\u201d)"
        return "Low", _assessed(reasons, reason, "Low")
    if severity == "High" and (cap := high_cap(type_id, text)):
        return "Medium", capped(reasons, cap)
    return severity, tuple(reasons)


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


def convention_of(reason: str) -> str | None:
    """What a convention's reason says, without its quote ("users are told of changes in
    advance or may object to them"), or None for any other reason."""
    for prefix in (OPT_OUT_REASON, NOTICE_REASON, CARVE_OUT_REASON):
        if reason.startswith(prefix):
            return prefix.removeprefix("lowers: ")
    return None


def capped(reasons: Sequence[str], cap: str) -> tuple[str, ...]:
    """``reasons`` of a High lowered to Medium by ``cap``."""
    return _assessed(reasons, cap, "Medium")


def _assessed(reasons: Sequence[str], reason: str, severity: str) -> tuple[str, ...]:
    kept = [r for r in reasons if not r.startswith("Assessed:")]
    return (*kept, reason, f"Assessed: {severity}")


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
    m = _OPT_OUT.search(sentence)
    return f"{OPT_OUT_REASON} (\u201c{_quotable(sentence, m.start() if m else 0)}\u201d)"


def _quotable(sentence: str, at: int) -> str:
    """The stretch of ``sentence`` around offset ``at`` that holds no double quotes or line
    breaks (a narrative cites a reason's words only then), at most QUOTE_LIMIT characters."""
    runs = [r for r in QUOTABLE_RUN.finditer(sentence) if r.group().strip()]
    run = next((r for r in runs if r.start() <= at < r.end()), None) or max(
        runs, key=lambda r: len(r.group()), default=None
    )
    if run is None:
        return sentence.strip()
    start, end = run.span()
    if end - start > QUOTE_LIMIT:  # cut at spaces, a third of the room before ``at``
        if at - QUOTE_LIMIT // 3 > start:
            space = sentence.find(" ", at - QUOTE_LIMIT // 3, at)
            start = space + 1 if space >= 0 else at - QUOTE_LIMIT // 3
        if start + QUOTE_LIMIT < end:
            space = sentence.rfind(" ", start + 1, start + QUOTE_LIMIT)
            end = space if space > start else start + QUOTE_LIMIT
    return sentence[start:end].strip().rstrip(",;:")
