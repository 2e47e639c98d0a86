"""The reader text of a change record, and the effective date a document states for itself.

Both are pure and deterministic. The reader text only restates what was measured — the
provisions' titles, the clause types the classifier found gained or lost, the severity moves
and parameter changes of :mod:`clausewatch.changes.direction` — in sentences a person reads in
ten seconds (docs/changes.md, "Reader text"):

1. a lead sentence on what matters most: the most important change of the record (highest
   change severity; then a clause type gained or lost before a severity move before a parameter;
   then a change that leaves users less protected first), e.g. "Adds a clause allowing AI
   training on your content (High)." or "Shortens the notice period from 30 to 7 days (Medium).";
2. one line per group — "Added (n): …", "Removed (n): …", "Modified (n): …" — listing the
   provisions with a change to report first, each by its clean title (Markdown stripped), with
   what changed; provisions with nothing to report are counted under their section ("3
   provisions under “Your data”"), never listed as a run of equal titles;
3. the non-substantive edits collapsed into one line ("And 12 wording edits with no change of
   meaning.").

:func:`compose_change` makes it from :class:`ItemFacts`; the analysis stores its text as the
record's ``summary``, which the change page, the changes list, alert emails, digests, Atom feeds
and webhook payloads all show (:func:`summary_lines`, :func:`summary_line`). Before analysis,
:func:`summarise_change` makes the same form from what building the record knows (titles and
parameter changes, no clause types).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from clausewatch.changes.direction import (
    GAINED,
    KEPT,
    LESS,
    LOST,
    MORE,
    PARAMETER,
    USER_PROTECTIONS,
    Evidence,
    ItemAssessment,
    parameter_vote,
)
from clausewatch.changes.parameters import LABELS, ParameterChange
from clausewatch.classify.taxonomy import SEVERITIES, default_taxonomy
from clausewatch.extract.normalise import ignorecase_folded
from clausewatch.render import to_plain_line

# --- effective date --------------------------------------------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_DATE_FORMS = (
    # 4 June 2026, 4th of June, 2026, 11 August, 2021
    re.compile(rf"{_DAY}(?:\s+of)?\s+(?P<month>{_MONTH})\.?,?\s+{_YEAR}(?!\d)", re.I),
    # June 4, 2026, Jun. 4th 2026
    re.compile(rf"(?P<month>{_MONTH})\.?\s+{_DAY},?\s+{_YEAR}(?!\d)", re.I),
    # 2026-06-04, 2026/06/04
    re.compile(rf"{_YEAR}[-/.](?P<mnum>[01]?\d)[-/.]{_DAY}(?!\d)"),
    # 04/06/2026 or 06/04/2026: only when the day cannot be the month (one part > 12)
    re.compile(rf"(?P<first>[0-3]?\d)[/.](?P<second>[0-3]?\d)[/.]{_YEAR}(?!\d)"),
)
# Markdown emphasis, colons, dashes and filler allowed between a label and its date.
_GAP = r"[\s*_:|\-–—]*(?:(?:on|as\s+of|from|of|is|was|date|dated|:)[\s*_:|\-–—]*){0,3}"
# Each label pattern opens with a lookahead on its possible first letters: the engine then skips
# most positions of a long text at once (2.6x faster on pga texts, same matches).
_EFFECTIVE = re.compile(
    rf"""(?=[eicvta])(?:(?<![^\W_])effective(?:\s+date)?|(?<![^\W_])in\s+(?:force|effect)|(?<![^\W_])entry\s+into\s+force
        |(?<![^\W_])(?:come|comes|came|coming)\s+into\s+(?:force|effect)|(?<![^\W_])(?:take|takes|took)\s+effect
        |(?<![^\W_])valid\s+from|(?<![^\W_])applicable\s+from)
        {_GAP}(?=\S)""",
    re.I | re.X,
)
_UPDATED = re.compile(
    rf"""(?=[ulmrdv])(?:(?<![^\W_])(?:last\s+)?(?:updated|modified|revised)|(?<![^\W_])last\s+(?:amended|changed)
        |(?<![^\W_])date\s+of\s+(?:the\s+)?last\s+(?:update|revision|modification)
        |(?<![^\W_])(?:version|revision)\s+date)
        {_GAP}(?=\S)""",
    re.I | re.X,
)
# "(?<![^\W_])" is a word start that, unlike \b, also follows "_" (Markdown emphasis).
_LOOKAHEAD = 40  # characters after a label in which its date must start


def effective_date(text: str) -> dt.date | None:
    """The date from which the document says it applies, or None.

    An explicit effective date ("Effective date: 4 June 2026", "These terms are effective as of
    January 1, 2025", "comes into force on 2025-01-01") wins; otherwise "Last updated / Last
    modified / Revised: …". Only a date right after such a label counts, so dates elsewhere
    in the text are ignored. English wording; day-month-year, month-day-year and ISO forms.
    """
    folded = ignorecase_folded(text)
    for label, stems, words in _LABELS:
        found = (
            label.finditer(text)
            if folded is None
            else _label_matches(label, text, _near_stems(text, folded, stems, words))
        )
        for match in found:
            date = _date_at(text, match.end())
            if date is not None:
                return date
    return None


# Scanning a whole text with the case-insensitive label patterns was most of the build's time
# on dates (about 6 ms for a 70 kB text). Every label holds one of a few stems (last word of
# "entry into force", first of "effective"), found at once with str.find in the lowercased
# text; the patterns are then tried only where a label holding that stem could start: the stem
# itself and up to ``words`` words of at most _LABEL_WORD characters before it. Same matches.
_LABELS = (
    (_EFFECTIVE, ("effect", "force", "valid", "applicable"), 2),
    (_UPDATED, ("updat", "modifi", "revis", "amended", "changed", "version"), 4),
)
_LABEL_WORD = 6  # the longest word before a stem: "coming"


def _near_stems(text: str, folded: str, stems: Sequence[str], words: int) -> list[int]:
    """Every position where a label holding one of ``stems`` could start, in order."""
    starts: set[int] = set()
    for stem in stems:
        at = folded.find(stem)
        while at >= 0:
            start = at
            for _ in range(words):  # back over whitespace, then over one word (\s+ between)
                while start > 0 and text[start - 1].isspace():
                    start -= 1
                stop = max(0, start - _LABEL_WORD)
                while start > stop and not text[start - 1].isspace():
                    start -= 1
            starts.update(range(start, at + 1))
            at = folded.find(stem, at + 1)
    return sorted(starts)


def _label_matches(
    label: re.Pattern[str], text: str, starts: Iterable[int]
) -> Iterator[re.Match[str]]:
    """What ``label.finditer(text)`` yields, trying only ``starts`` (all possible match starts;
    a match at a position still sees the text before it, for the patterns' lookbehinds)."""
    end = 0
    for start in starts:
        if start >= end and (match := label.match(text, start)) is not None:
            yield match
            end = match.end()


def _date_at(text: str, pos: int) -> dt.date | None:
    window = text[pos : pos + _LOOKAHEAD]
    for form in _DATE_FORMS:
        found = form.match(window)
        if found:
            return _to_date(found)
    return None


def _to_date(found: re.Match[str]) -> dt.date | None:
    parts = found.groupdict()
    year = int(parts["year"])
    if parts.get("month"):
        month, day = _MONTHS[parts["month"].lower().rstrip(".")], int(parts["day"])
    elif parts.get("mnum"):
        month, day = int(parts["mnum"]), int(parts["day"])
    else:
        first, second = int(parts["first"]), int(parts["second"])
        if first <= 12 and second <= 12 and first != second:
            return None  # 04/06/2026: April or June? Refuse to guess.
        month, day = (second, first) if first > 12 else (first, second)
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


# --- reader text -----------------------------------------------------------------------------

# How a reader's sentence names each clause type: "Adds <phrase>", "Removes <the phrase>".
TYPE_PHRASES: dict[str, str] = {
    "arbitration": "a mandatory arbitration clause",
    "class-action-waiver": "a class-action waiver",
    "limitation-of-liability": "a limit on the provider's liability",
    "warranty-disclaimer": "an “as is” warranty disclaimer",
    "indemnification": "a clause making you indemnify the provider",
    "governing-law": "a governing-law clause",
    "jurisdiction-venue": "a clause choosing the courts for disputes",
    "limitation-period": "a shorter time limit to bring claims",
    "data-collection": "a clause on collecting your personal data",
    "data-use-purposes": "a clause on what your data is used for",
    "targeted-advertising": "a clause using your data for advertising",
    "data-sharing-sale": "a clause sharing or selling your personal data",
    "data-retention": "a data-retention clause",
    "user-data-rights": "a clause on your rights over your personal data",
    "tracking-cookies": "a clause on cookies and tracking",
    "international-transfers": "a clause on transferring your data abroad",
    "law-enforcement-access": "a clause on disclosing data to authorities",
    "data-security": "a clause on security and breach notification",
    "privacy-by-reference": "a clause including the privacy policy by reference",
    "ai-training-on-user-data": "a clause allowing AI training on your content",
    "automated-decision-making": "a clause on automated decisions about you",
    "ai-generated-output": "a clause on AI-generated output",
    "license-to-user-content": "a licence to your content",
    "feedback-ownership": "a clause taking rights in your feedback",
    "content-removal": "a clause allowing removal of your content",
    "copyright-claims": "a copyright-complaint procedure",
    "unilateral-termination": "a clause letting the provider end your account",
    "account-suspension": "a clause letting the provider suspend your account",
    "acceptable-use": "a list of prohibited conduct",
    "account-responsibility": "a clause making you responsible for your account",
    "fees-auto-renewal": "a clause on fees and automatic renewal",
    "refunds": "a clause on refunds and cancellation",
    "unilateral-change": "a clause letting the provider change the terms on its own",
    "policy-change-notice": "a promise to tell you about changes",
    "service-discontinuation": "a clause letting the provider change or stop the service",
    "minimum-age": "a minimum-age requirement",
    "childrens-data": "a clause on children's personal data",
    "contract-by-using": "a clause binding you by simply using the service",
    "severability-waiver": "a severability and no-waiver clause",
}
_DURATIONS = {
    "notice_period",
    "retention_period",
    "opt_out_window",
    "cancellation_window",
    "arbitration_opt_out_deadline",
    "refund_window",
}
_PLACES = {"governing_law", "venue"}
_KIND_ORDER = {GAINED: 0, LOST: 0, KEPT: 1, PARAMETER: 2}
_VOTE_ORDER = {LESS: 0, MORE: 1}
GROUPS = (("added", "Added"), ("removed", "Removed"), ("modified", "Modified"))
_GROUP_OF = {"added": "added", "removed": "removed"}  # modified, moved, split, merged: modified
_EDITS_END = " with no change of meaning."
MAX_ENTRIES = 4  # entries per group line; the rest are counted
MAX_TITLES = 2  # provisions named per change of a group line
MAX_TITLE_CHARS = 60
# Among changes of equal severity, kind and vote: the types readers ask about first.
TYPE_PRIORITY = (
    "ai-training-on-user-data",
    "arbitration",
    "class-action-waiver",
    "license-to-user-content",
    "data-sharing-sale",
    "unilateral-change",
    "unilateral-termination",
    "childrens-data",
    "automated-decision-making",
    "limitation-period",
    "indemnification",
    "limitation-of-liability",
    "user-data-rights",
    "refunds",
    "policy-change-notice",
    "targeted-advertising",
    "data-retention",
)


@dataclass(frozen=True)
class ItemFacts:
    """What the reader text says about one change item."""

    kind: str  # added removed modified moved split merged
    substantive: bool
    title: str  # the provision's title (Markdown is stripped here)
    section: str = ""  # its deepest heading, for counting provisions under it
    severity: str | None = None  # the severity of what changed (change severity)
    headline: str | None = None  # the sentence of its most important change, no severity
    importance: tuple[int, ...] = (9,)  # sort key of that change: smaller is more important
    parameters: tuple[str, ...] = ()  # parameter changes not already in the headline
    part: bool = False  # a split or merge piece whose change its primary item reports


@dataclass(frozen=True)
class ChangeText:
    """A record's reader text: the lead, one line per group, the collapsed edits."""

    lead: str
    groups: tuple[tuple[str, str], ...] = ()  # (group, line)
    edits: str = ""
    severity: str | None = None  # of the change the lead names
    entries: dict[str, list[str]] = field(default_factory=dict, compare=False)

    @property
    def lines(self) -> list[str]:
        return [
            self.lead,
            *(line for _, line in self.groups),
            *([self.edits] if self.edits else []),
        ]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def clean_title(title: str | None, limit: int = MAX_TITLE_CHARS) -> str:
    """A title as a reader sees it: Markdown stripped, one line, cut at a word boundary."""
    text = _clean(to_plain_line(title or ""))
    if len(text) > limit:
        cut = text[: limit - 1]
        space = cut.rfind(" ")
        text = (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:—-") + "…"
    return text


def definite(phrase: str) -> str:
    """“a class-action waiver” → “the class-action waiver”."""
    for article in ("a ", "an "):
        if phrase.startswith(article):
            return "the " + phrase[len(article) :]
    return phrase if phrase.startswith("the ") else "the " + phrase


def type_phrase(type_id: str | None) -> str:
    if type_id in TYPE_PHRASES:
        return TYPE_PHRASES[type_id]
    ctype = default_taxonomy().by_id.get(type_id or "")
    return f"a clause on {ctype.name.lower()}" if ctype else "a clause"


def _quotes(quotes: Iterable[str]) -> str:
    return ", ".join(f"“{q}”" for q in quotes)


def parameter_sentence(change: ParameterChange, vote: str | None = None) -> str:
    """“Shortens the notice period from 30 to 7 days”, “Changes the governing law from
    California to Ireland”, “Now states a notice period of 30 days”."""
    label = LABELS.get(change.kind, change.kind.replace("_", " "))
    old, new = change.old, change.new
    if old is not None and new is not None:
        span = _from_to(old.value, new.value)
        comparable = (
            old.quantity is not None
            and new.quantity is not None
            and old.unit == new.unit
            and old.quantity != new.quantity
            and change.kind not in _PLACES
        )
        if comparable:
            larger = new.quantity > old.quantity  # type: ignore[operator]
            if change.kind in _DURATIONS:
                verb = "Lengthens" if larger else "Shortens"
            else:
                verb = "Raises" if larger else "Lowers"
            return f"{verb} the {label} {span}"
        return f"Changes the {label} {span}"
    if new is not None:
        if change.kind in _PLACES:
            return f"Now names {new.value} for the {label}"
        return f"Now states a {label} of {new.value}"
    if old is not None:
        return f"No longer states a {label} (was {old.value})"
    return f"Keeps the {label}"


def _from_to(old: str, new: str) -> str:
    o, n = old.split(" ", 1), new.split(" ", 1)
    if len(o) == 2 and len(n) == 2 and o[1] == n[1] and _number(o[0]) and _number(n[0]):
        return f"from {o[0]} to {n[0]} {o[1]}"  # from 30 to 7 days
    return f"from {old} to {new}"


def _number(token: str) -> bool:
    return bool(re.fullmatch(r"\d+(?:[.,]\d+)?", token))


def evidence_sentence(e: Evidence) -> str | None:
    """The reader's sentence for one piece of evidence (no severity), None for a parameter
    that is part of a clause type gained or lost (the type speaks for it)."""
    if e.kind == GAINED:
        phrase = type_phrase(e.type_id)
        if e.vote == LESS and e.type_id in USER_PROTECTIONS and e.quotes:
            return f"Adds {phrase}, restricted: {_quotes(e.quotes)}"
        return f"Adds {phrase}"
    if e.kind == LOST:
        return f"Removes {definite(type_phrase(e.type_id))}"
    if e.kind == KEPT:
        the = definite(type_phrase(e.type_id))
        how = {LESS: "less favourable to you", MORE: "more favourable to you"}.get(
            e.vote or "", "different"
        )
        said = [f"now says {_quotes(e.quotes)}"] if e.quotes else []
        said += [f"no longer says {_quotes(e.dropped)}"] if e.dropped else []
        return f"Makes {the} {how}: it {' and '.join(said)}" if said else f"Changes {the}"
    if e.kind == PARAMETER and e.parameter is not None and e.weight is not None:
        return parameter_sentence(e.parameter, e.vote)
    return None


def _importance(e: Evidence) -> tuple[int, ...]:
    ctype = default_taxonomy().by_id.get(e.type_id or "")
    default = -SEVERITIES.index(ctype.severity) if ctype and ctype.severity in SEVERITIES else 1
    priority = TYPE_PRIORITY.index(e.type_id) if e.type_id in TYPE_PRIORITY else len(TYPE_PRIORITY)
    return (
        -SEVERITIES.index(e.weight) if e.weight in SEVERITIES else 1,
        _KIND_ORDER.get(e.kind, 3),
        _VOTE_ORDER.get(e.vote or "", 2),
        default,
        priority,
    )


def item_facts(
    kind: str,
    substantive: bool,
    title: str | None,
    heading_path: Sequence[str] = (),
    assessment: ItemAssessment | None = None,
    parameters: Sequence[str] = (),
) -> ItemFacts:
    """The facts of one change item: its clean title and section, and from its assessment the
    most important change (headline) with the severity of what changed. ``parameters`` are the
    item's parameter change descriptions (``ParameterChange.describe``)."""
    section = clean_title(heading_path[-1]) if heading_path else ""
    part = kind in ("split", "merged") and not substantive
    headline: str | None = None
    importance: tuple[int, ...] = (9,)
    severity: str | None = None
    described: set[str] = set()
    if assessment is not None and substantive:
        ranked = sorted((e for e in assessment.evidence if e.weight is not None), key=_importance)
        for e in ranked:
            sentence = evidence_sentence(e)
            if sentence:
                headline, importance, severity = sentence, _importance(e), e.weight
                if e.parameter is not None:
                    described.add(e.parameter.describe())
                break
        severity = assessment.change_severity or severity
    return ItemFacts(
        kind=kind,
        substantive=substantive,
        title=clean_title(title),
        section=section,
        severity=severity,
        headline=headline,
        importance=importance,
        parameters=tuple(p for p in dict.fromkeys(parameters) if p not in described),
        part=part,
    )


def compose_change(
    items: Sequence[ItemFacts], parameter_changes: Sequence[ParameterChange] = ()
) -> ChangeText:
    """The reader text of a record from its items' facts (the module docstring).
    ``parameter_changes`` not tied to an item (a record built before analysis) can give the
    lead when no item has a headline."""
    items = [replace(f, title=clean_title(f.title), section=clean_title(f.section)) for f in items]
    substantive = [f for f in items if f.substantive and not f.part]
    groups: list[tuple[str, str]] = []
    entries: dict[str, list[str]] = {}
    for group, label in GROUPS:
        members = [f for f in substantive if _GROUP_OF.get(f.kind, "modified") == group]
        if members:
            named = _entries(members, group)
            entries[group] = [entry for entry, _ in named]
            groups.append((group, f"{label} ({len(members)}): {_listed(named, len(members))}."))
    loose = list(dict.fromkeys(c.describe() for c in parameter_changes))
    loose = [d for d in loose if not any(d in f.parameters for f in substantive)]
    if loose:
        groups.append(("parameters", "Parameters: " + "; ".join(loose) + "."))
    edits = _edits(items, bool(substantive))
    top = min((f for f in substantive if f.headline), key=lambda f: f.importance, default=None)
    if top is not None:
        severity = top.severity
        lead = f"{top.headline}{f' ({severity})' if severity else ''}."
    elif parameter_changes:
        best = sorted(parameter_changes, key=lambda c: _VOTE_ORDER.get(parameter_vote(c) or "", 2))
        severity = None
        lead = parameter_sentence(best[0]) + "."
    else:
        severity = None
        lead = _count_lead(substantive) or (edits and _capitalised(edits.removeprefix("And ")))
        edits = "" if lead == _capitalised(edits.removeprefix("And ")) else edits
        lead = lead or "No provision changed."
    return ChangeText(lead, tuple(groups), edits, severity, entries)


def _entries(members: Sequence[ItemFacts], group: str) -> list[tuple[str, int]]:
    """Entries of one group line with the number of provisions each covers: the changes to
    report first (most important first), each once with the provisions it is in; then the
    provisions with nothing to report, counted under their section or title."""
    by_note: dict[str, list[ItemFacts]] = {}
    for f in sorted(members, key=lambda f: f.importance):
        if f.headline or f.parameters:
            by_note.setdefault(_note(f, group), []).append(f)
    named = []
    for note, facts in by_note.items():
        titles = list(dict.fromkeys(_quoted_title(f.title) for f in facts))
        shown = ", ".join(titles[:MAX_TITLES])
        more = len(facts) - min(len(titles), MAX_TITLES)
        where = f"{shown} and {more} other{'' if more == 1 else 's'}" if more > 0 else shown
        named.append((f"{note} in {where}", len(facts)))
    rest: dict[tuple[str, bool], int] = {}
    for f in members:
        if not (f.headline or f.parameters):
            key = (f.section, True) if f.section else (f.title, False)
            rest[key] = rest.get(key, 0) + 1
    for (name, is_section), n in rest.items():
        if n == 1 and not is_section:
            named.append((_quoted_title(name), 1))
        else:
            where = "under" if is_section else "titled"
            named.append((f"{n} provision{'' if n == 1 else 's'} {where} {_quoted_title(name)}", n))
    return named


def _note(f: ItemFacts, group: str) -> str:
    notes = []
    if f.headline:
        text = _lower_first(f.headline)
        prefix = {"added": "adds ", "removed": "removes "}.get(group, "")
        if prefix and text.startswith(prefix):
            text = text[len(prefix) :]  # "Added: a class-action waiver"
        notes.append(text + (f" ({f.severity})" if f.severity else ""))
    notes += f.parameters
    return "; ".join(notes)


def _listed(named: Sequence[tuple[str, int]], total: int) -> str:
    shown = list(named[:MAX_ENTRIES])
    rest = total - sum(n for _, n in shown)
    text = "; ".join(entry for entry, _ in shown)
    return f"{text}; and {rest} more" if len(named) > MAX_ENTRIES and rest > 0 else text


def _edits(items: Sequence[ItemFacts], after_changes: bool) -> str:
    edits = sum(
        1 for f in items if not f.substantive and f.kind not in ("moved", "split", "merged")
    )
    moves = sum(1 for f in items if not f.substantive and f.kind == "moved")
    parts = []
    if edits:
        parts.append(f"{edits} wording edit{'' if edits == 1 else 's'}")
    if moves:
        parts.append(f"{moves} provision{' moved' if moves == 1 else 's moved'}")
    if not parts:
        return ""
    text = " and ".join(parts) + _EDITS_END
    return f"And {text}" if after_changes else _capitalised(text)


def _count_lead(substantive: Sequence[ItemFacts]) -> str:
    counts = {
        g: sum(1 for f in substantive if _GROUP_OF.get(f.kind, "modified") == g) for g, _ in GROUPS
    }
    verbs = {"added": "Adds", "removed": "removes", "modified": "modifies"}
    parts: list[str] = []
    for group, _ in GROUPS:
        n = counts[group]
        if n:
            verb = verbs[group] if parts else _capitalised(verbs[group])
            noun = f"{n} provision{'' if n == 1 else 's'}" if not parts else str(n)
            parts.append(f"{verb} {noun}")
    if not parts:
        return ""
    return (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]) + "."


def summarise_change(
    *,
    added: Sequence[str] = (),
    removed: Sequence[str] = (),
    modified: Sequence[tuple[str, str]] = (),
    moved: int = 0,
    parameter_changes: Sequence[ParameterChange] = (),
) -> str:
    """The reader text of a record before analysis (titles and parameter changes only; no
    clause types, so the lead names a parameter change or the counts). ``modified`` holds
    ``(old title, new title)`` per substantively modified provision; ``moved`` counts
    provisions whose position changed only. The analysis replaces it with
    :func:`compose_change` of the classified items."""
    items = [
        *(ItemFacts("added", True, clean_title(t)) for t in added),
        *(ItemFacts("removed", True, clean_title(t)) for t in removed),
        *(ItemFacts("modified", True, clean_title(new or old)) for old, new in modified),
        *(ItemFacts("moved", False, "") for _ in range(moved)),
    ]
    return compose_change(items, parameter_changes).text


def summary_lines(summary: str | None) -> list[str]:
    """A stored reader text's lines: the lead first, then the group lines and the edits."""
    return [line.strip() for line in (summary or "").splitlines() if line.strip()]


def summary_line(summary: str | None) -> str:
    """A stored reader text on one line (feed entries, digest lines)."""
    return " ".join(summary_lines(summary))


def summary_lead(summary: str | None) -> str:
    lines = summary_lines(summary)
    return lines[0] if lines else ""


def _clean(title: str) -> str:
    return " ".join(title.split()).strip("\"'“”‘’ ")


def _quoted_title(title: str) -> str:
    return f"“{title}”" if title else "an untitled provision"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() or len(text) < 2 else text


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def reader_view(summary: str | None, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What the change page shows, from the stored reader text and the record's items: the lead,
    the group lines, the collapsed edits line; the substantive items grouped (added, removed,
    modified; the most severe change first) and the others, for a folded list."""
    lines = summary_lines(summary)
    edits = lines[-1] if len(lines) > 1 and lines[-1].endswith(_EDITS_END) else ""
    rank = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    grouped: dict[str, list[dict[str, Any]]] = {group: [] for group, _ in GROUPS}
    folded = []
    for item in items:
        if item.get("substantive"):
            grouped[_GROUP_OF.get(item.get("kind", ""), "modified")].append(item)
        else:
            folded.append(item)
    groups = [
        (label, sorted(grouped[g], key=lambda i: rank.get(i.get("severity") or "", len(rank))))
        for g, label in GROUPS
        if grouped[g]
    ]
    return {
        "lead": lines[0] if lines else "",
        "lines": lines[1:-1] if edits else lines[1:],
        "edits": edits,
        "groups": groups,
        "folded": folded,
    }
