"""Severity and direction of a change: how serious it is and whether it leaves the user more or
less protected, with the evidence for each vote.

Pure functions (no database): the caller passes each changed provision's texts, the classifier's
predictions for both sides (:class:`clausewatch.classify.model.Prediction`) and the parameter
changes (:func:`clausewatch.changes.parameters.compare_parameters`).

**Item severity** is the highest severity among the clause types present on the side of the
provision that exists now (the new side; the old side for a removed provision), ``boilerplate``
ignored; ``None`` when no other type is present. Non-substantive items (``substantive=False``)
and ``moved`` items whose text did not change substantively are ``neutral``, with no severity
and no reasons.

**Direction** comes from evidence. Each piece of evidence is a reason, and most also vote
``less protective`` or ``more protective``:

- *A clause type gained* (every type of an added provision, or a type that a modified, moved,
  split or merged provision did not have before): a type whose taxonomy default severity is
  High or Medium votes less protective ("new clause type: Mandatory arbitration (High)"); a
  type of :data:`USER_PROTECTIONS` votes more protective, unless the new text matches one of
  the type's severity-raising modifiers ("non-refundable", "may refuse"), when it restricts the
  right and votes less protective; a type of :data:`NO_VOTE_TYPES` and a Low-default type give a
  reason without a vote.
- *A clause type lost* (a removed provision's types, or a type a provision no longer has): the
  mirror image. An adverse type lost votes more protective; a user protection lost votes less
  protective, unless the old text restricted it (a raising modifier matched), when losing it
  votes more protective.
- A type counts as gained or lost only when the sentence the classifier quoted for it
  (``Prediction.supporting_text``) is not found unchanged on the other side: the classifier
  reading the same sentence differently next to other sentences is not a change.
- *A type on both sides*: the severity of the type is computed with
  :func:`~clausewatch.classify.severity.severity_of` on the old and the new text. A move up votes
  less protective, a move down more protective, and the reason names the modifiers whose match
  differs, quoting the words matched ("severity of Unilateral termination: Medium → High
  (raises: “without notice”)"). When the severity does not move (modifiers that cancel out, or
  a level already at High or Low), each modifier that started or stopped matching votes on its
  own: a raising modifier gained or a lowering one lost is less protective, the reverse more.
- *Parameters* (:data:`PARAMETER_RULES`): a value that changed with comparable quantities
  (same unit; for money the same currency and period) votes by its kind — notice period
  shorter, retention period longer, liability cap lower, fee higher, minimum age lower,
  opt-out / cancellation / refund window or arbitration opt-out deadline shorter: less
  protective, and the reverse more. A governing law or venue that changes gives a reason
  without a vote (one place is not better than another), except a move to or from "your place
  of residence" (users keep their own law and courts). An arbitration body changed gives no
  vote. A value added or removed votes as the table says (notice, windows and the minimum age:
  added more, removed less protective; a fee or an arbitration body added: less protective;
  retention periods, liability caps and places added or removed: no vote, the change alone
  cannot tell). Added values do not vote when the provision gains a clause type that votes
  (they belong to the new clause, which speaks for itself: an arbitration clause that comes
  with an opt-out deadline is not "mixed"); removed values likewise when it loses one.

An item with votes one way has that direction; with votes both ways ``mixed``; with none
``neutral``.

**Change severity** (``ItemAssessment.change_severity``): how serious *what changed* is, not
how serious the clause is. Each piece of evidence weighs:

- a clause type gained or lost: the severity of that type on the side where it is (the type's
  level as computed for that text), except that a user protection lost (a vote less
  protective) weighs at least Medium: losing a right is never minor;
- a severity move or a modifier that started or stopped matching: the higher of the two levels;
- a parameter change that votes less protective (shorter notice, a higher fee): the item's
  severity (the clause it belongs to), at least Medium; one that cannot tell (a governing law
  moved): the item's severity, Low when nothing is classified; one that votes more protective:
  Low. A value that is part of a clause type gained or lost does not weigh on its own.

An item's change severity is the highest weight of its evidence; ``None`` with no evidence (a
rewording the classifier reads the same way on both sides, a non-substantive edit).

**Record** (:func:`assess_record`): all item votes one way gives that direction, both ways
(an item that is mixed counts both) ``mixed``, none ``neutral``. Its severity is the highest
item *change* severity: an added High clause makes a High record, a reworded High clause with
nothing else changed does not. A record with substantive items none of which carries evidence
is Low (its words changed; nothing we can classify did); a record without substantive items
has none. Its reasons are the items' reasons, de-duplicated and ordered most severe first (by
the severity of the type each reason is about; a parameter reason takes its item's severity).

Reasons never invent: they cite the taxonomy names of types the classifier found, parameter
values the extractor found, and modifier words quoted exactly as matched in the texts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from clausewatch.changes.parameters import LABELS, RESIDENCE, Parameter, ParameterChange
from clausewatch.changes.redline import is_substantive
from clausewatch.classify.conventions import convention_of
from clausewatch.classify.model import Prediction
from clausewatch.classify.severity import severity_of
from clausewatch.classify.taxonomy import (
    BOILERPLATE,
    SEVERITIES,
    ClauseType,
    Taxonomy,
    default_taxonomy,
)

LESS, MORE, MIXED, NEUTRAL = "less protective", "more protective", "mixed", "neutral"
DIRECTIONS = (LESS, MORE, MIXED, NEUTRAL)
ITEM_KINDS = ("added", "removed", "modified", "moved", "split", "merged")

# Clause types whose presence protects the user: gaining one is more protective, losing one
# less (unless the clause restricted the right: a raising modifier matched its text).
USER_PROTECTIONS: dict[str, str] = {
    "user-data-rights": "rights of access, correction, deletion, portability and objection",
    "refunds": "refunds and the right to cancel or withdraw",
    "policy-change-notice": "users are told about changes to the terms",
    "data-security": "security measures and breach notification",
}
# Clause types whose presence alone says nothing about the direction.
NO_VOTE_TYPES: dict[str, str] = {
    "minimum-age": "an age limit shields minors but restricts users; the minimum age decides",
}


@dataclass(frozen=True)
class ParameterRule:
    """How a change of one parameter kind votes. ``None`` is no vote."""

    larger: str | None  # the vote when the quantity grows (the smaller value votes the reverse)
    larger_why: str = ""
    smaller_why: str = ""
    added: str | None = None
    added_why: str = "the change alone cannot tell"
    removed: str | None = None
    removed_why: str = "the change alone cannot tell"


def _window(what: str) -> ParameterRule:
    return ParameterRule(
        MORE, f"more time to {what}", f"less time to {what}",
        MORE, f"a time to {what} is now stated", LESS, f"no time to {what} is stated any more",
    )  # fmt: skip


PARAMETER_RULES: dict[str, ParameterRule] = {
    "notice_period": ParameterRule(
        MORE, "longer notice", "shorter notice",
        MORE, "advance notice is now promised", LESS, "no notice period is stated any more",
    ),
    "retention_period": ParameterRule(
        LESS, "data kept longer", "data kept for less time",
        None, "a stated period may be a limit or a minimum",
        None, "a period no longer stated may be a limit lifted or a minimum dropped",
    ),
    "liability_cap": ParameterRule(
        MORE, "higher cap", "lower cap",
        None, "a cap may replace unlimited liability or a full exclusion",
        None, "a cap dropped may mean unlimited liability or a full exclusion",
    ),
    "fee": ParameterRule(
        LESS, "higher fee", "lower fee",
        LESS, "a new charge", None, "a fee no longer stated is not a fee waived",
    ),
    "minimum_age": ParameterRule(
        MORE, "higher minimum age", "lower minimum age: younger children admitted",
        MORE, "a minimum age is now stated", LESS, "no minimum age is stated any more",
    ),
    "opt_out_window": _window("opt out"),
    "cancellation_window": _window("cancel"),
    "arbitration_opt_out_deadline": _window("opt out of arbitration"),
    "refund_window": _window("ask for a refund"),
    "governing_law": ParameterRule(None),
    "venue": ParameterRule(None),
    "arbitration_body": ParameterRule(
        None, added=LESS, added_why="disputes go to an arbitration institution",
    ),
}  # fmt: skip
_RESIDENCE_WHY = {  # kind -> (why a move to "your place of residence" helps, why leaving hurts)
    "governing_law": (
        "users keep the law of their place of residence",
        "users no longer keep the law of their place of residence",
    ),
    "venue": (
        "users can go to court where they live",
        "users can no longer go to court where they live",
    ),
}


GAINED, LOST, KEPT, PARAMETER = "gained", "lost", "kept", "parameter"  # Evidence.kind


@dataclass(frozen=True)
class Evidence:
    """One reason, its vote (LESS, MORE or None) and the severity it is about (for ordering).

    The other fields say what the reason is about, for readers' sentences
    (:mod:`clausewatch.changes.summary`): ``kind`` (GAINED, LOST, KEPT — a type on both sides
    whose severity or modifiers moved — or PARAMETER), the clause type or the parameter change,
    the words quoted, and ``weight``: the severity of the change itself (module docstring).
    """

    reason: str
    vote: str | None
    severity: str | None
    kind: str = ""
    type_id: str | None = None
    parameter: ParameterChange | None = None
    quotes: tuple[str, ...] = ()
    weight: str | None = None
    dropped: tuple[str, ...] = ()  # KEPT: quoted words that no longer occur (``quotes``: new ones)


@dataclass(frozen=True)
class ItemAssessment:
    severity: str | None  # High/Medium/Low of the clause, None when nothing is classified
    direction: str  # one of DIRECTIONS
    reasons: tuple[str, ...]
    evidence: tuple[Evidence, ...] = ()  # the reasons with their votes
    change_severity: str | None = None  # of what changed (the highest evidence weight)
    substantive: bool = field(default=True, compare=False)


def assess_item(
    kind: str,
    old_text: str | None,
    new_text: str | None,
    old_preds: Sequence[Prediction],
    new_preds: Sequence[Prediction],
    parameter_changes: Sequence[ParameterChange],
    substantive: bool = True,
    *,
    taxonomy: Taxonomy | None = None,
) -> ItemAssessment:
    """Severity, direction and reasons of one changed provision (see the module docstring)."""
    if kind not in ITEM_KINDS:
        raise ValueError(f"unknown change item kind {kind!r}; expected one of {ITEM_KINDS}")
    if not substantive or (
        kind == "moved"
        and (old_text is None or new_text is None or not is_substantive(old_text, new_text))
    ):
        return ItemAssessment(None, NEUTRAL, (), substantive=False)
    tax = taxonomy or default_taxonomy()
    old = {} if kind == "added" else _types(old_preds, tax)
    new = {} if kind == "removed" else _types(new_preds, tax)
    severity = _highest(p.severity for p in (old if kind == "removed" else new).values())

    gained = [
        _gained(tax.by_id[t], p, new_text or "")
        for t, p in new.items()
        if t not in old and not _still_there(p, old_text)
    ]
    lost = [
        _lost(tax.by_id[t], p, old_text or "")
        for t, p in old.items()
        if t not in new and not _still_there(p, new_text)
    ]
    kept = [
        e
        for t, p in new.items()
        if t in old
        for e in _moved(tax.by_id[t], old[t], p, old_text, new_text)
    ]
    evidence = sorted([*gained, *lost, *kept], key=lambda e: _rank(e.severity))
    gains = any(e.vote for e in gained)
    losses = any(e.vote for e in lost)
    evidence += [_parameter(change, severity, gains, losses) for change in parameter_changes]
    evidence = _unique(evidence)
    return ItemAssessment(
        severity, _direction(e.vote for e in evidence), tuple(e.reason for e in evidence),
        tuple(evidence), _highest(e.weight for e in evidence),
    )  # fmt: skip


def assess_record(items: Sequence[ItemAssessment]) -> tuple[str | None, str, tuple[str, ...]]:
    """(severity, direction, reasons) of a change record from its items' assessments.

    The severity is the highest change severity of the items (for an item read back with its
    reasons but without its evidence, its stored severity, which is its change severity); Low
    when some item is substantive but none carries one; None when no item is substantive."""
    votes: list[str | None] = []
    evidence: list[Evidence] = []
    for item in items:
        votes += [LESS, MORE] if item.direction == MIXED else [item.direction]
        evidence += item.evidence or [Evidence(r, None, item.severity) for r in item.reasons]
    evidence.sort(key=lambda e: _rank(e.severity))  # stable: item order within a severity
    reasons = tuple(e.reason for e in _unique(evidence))
    severity = _highest(
        item.severity if item.reasons and not item.evidence else item.change_severity
        for item in items
    )
    if severity is None and any(item.substantive for item in items):
        severity = "Low"
    return severity, _direction(votes), reasons


# --- clause types ----------------------------------------------------------------------------


def _types(preds: Sequence[Prediction], tax: Taxonomy) -> dict[str, Prediction]:
    """The non-boilerplate types of one side (the first prediction of each type)."""
    out: dict[str, Prediction] = {}
    for pred in preds:
        if pred.type_id != BOILERPLATE and pred.type_id in tax.by_id:
            out.setdefault(pred.type_id, pred)
    return out


def _still_there(pred: Prediction, other_text: str | None) -> bool:
    """Whether the sentence the classifier quoted for ``pred`` is unchanged on the other side:
    then the type was not gained or lost, the classifier only read it differently there."""
    return bool(pred.supporting_text and other_text and pred.supporting_text in other_text)


def _restrictions(ctype: ClauseType, text: str) -> list[str]:
    """The words of ``text`` that match the type's severity-raising modifiers."""
    found = []
    for mod in ctype.modifiers:
        if mod.effect == "raise" and (m := mod.pattern.search(text)) is not None:
            found.append(m.group(0))
    return found


def _quoted(words: Iterable[str]) -> str:
    return ", ".join(f"“{w}”" for w in words)


def _gained(ctype: ClauseType, pred: Prediction, text: str) -> Evidence:
    label = f"{ctype.name} ({pred.severity})"
    sev = pred.severity

    def evidence(reason: str, vote: str | None, quotes: Sequence[str] = ()) -> Evidence:
        return Evidence(reason, vote, sev, GAINED, ctype.id, None, tuple(quotes), sev)

    if ctype.id in USER_PROTECTIONS:
        restricted = _restrictions(ctype, text)
        if restricted:
            reason = f"new clause type: {label}, restricting the right: {_quoted(restricted)}"
            return evidence(reason, LESS, restricted)
        return evidence(f"new user protection: {label}", MORE)
    vote = LESS if ctype.id not in NO_VOTE_TYPES and ctype.severity != "Low" else None
    return evidence(f"new clause type: {label}", vote)


def _lost(ctype: ClauseType, pred: Prediction, text: str) -> Evidence:
    label = f"{ctype.name} ({pred.severity})"
    sev = pred.severity

    def evidence(
        reason: str, vote: str | None, quotes: Sequence[str] = (), weight: str | None = sev
    ) -> Evidence:
        return Evidence(reason, vote, sev, LOST, ctype.id, None, tuple(quotes), weight)

    if ctype.id in USER_PROTECTIONS:
        restricted = _restrictions(ctype, text)
        if restricted:
            reason = f"removed clause type: {label}, which restricted the right: "
            return evidence(reason + _quoted(restricted), MORE, restricted)
        # losing a right is never minor: at least Medium
        return evidence(f"removed user protection: {label}", LESS, weight=_highest([sev, "Medium"]))
    vote = MORE if ctype.id not in NO_VOTE_TYPES and ctype.severity != "Low" else None
    return evidence(f"removed clause type: {label}", vote)


def _moved(
    ctype: ClauseType,
    old_pred: Prediction,
    new_pred: Prediction,
    old_text: str | None,
    new_text: str | None,
) -> list[Evidence]:
    """A type on both sides: its severity move and the modifiers that started or stopped
    matching (quoted from the text where they match)."""
    if old_text is None or new_text is None:
        return []
    old_level, old_why = severity_of(ctype, old_text)
    new_level, new_why = severity_of(ctype, new_text)
    changes: list[tuple[str, str, str]] = []  # (phrase, quote, vote)
    for mod in ctype.modifiers:
        before, after = mod.pattern.search(old_text), mod.pattern.search(new_text)
        verb = "raises" if mod.effect == "raise" else "lowers"
        if after is not None and before is None:
            changes.append((verb, after.group(0), LESS if mod.effect == "raise" else MORE))
        elif before is not None and after is None:
            changes.append(
                (f"no longer {verb}", before.group(0), MORE if verb == "raises" else LESS)
            )
    if not changes:
        return []
    if old_level != new_level:
        vote = LESS if SEVERITIES.index(new_level) > SEVERITIES.index(old_level) else MORE
        # a convention that now holds says why, beside the words ("notice given: not High")
        rules = [rule for r in new_why if r not in old_why and (rule := convention_of(r))]
        detail = "; ".join([*_grouped(changes), *rules])
        reason = f"severity of {ctype.name}: {old_level} → {new_level} ({detail})"
        top = _highest([old_level, new_level])
        now = tuple(quote for phrase, quote, _ in changes if not phrase.startswith("no longer"))
        gone = tuple(quote for phrase, quote, _ in changes if phrase.startswith("no longer"))
        return [Evidence(reason, vote, top, KEPT, ctype.id, None, now, top, gone)]
    return [
        Evidence(
            f"{ctype.name}: {phrase} “{quote}” (severity stays {new_level})",
            vote, new_level, KEPT, ctype.id, None,
            () if phrase.startswith("no longer") else (quote,), new_level,
            (quote,) if phrase.startswith("no longer") else (),
        )
        for phrase, quote, vote in changes
    ]  # fmt: skip


def _grouped(changes: list[tuple[str, str, str]]) -> list[str]:
    by_phrase: dict[str, list[str]] = {}
    for phrase, quote, _ in changes:
        by_phrase.setdefault(phrase, []).append(quote)
    return [f"{phrase}: {_quoted(quotes)}" for phrase, quotes in by_phrase.items()]


# --- parameters ------------------------------------------------------------------------------


def _parameter(
    change: ParameterChange, severity: str | None, gains: bool, losses: bool
) -> Evidence:
    rule = PARAMETER_RULES.get(change.kind, ParameterRule(None))
    label = LABELS.get(change.kind, change.kind.replace("_", " "))
    old, new = change.old, change.new

    def evidence(reason: str, vote: str | None, part_of_a_type: bool = False) -> Evidence:
        if part_of_a_type:
            weight = None  # the clause type gained or lost weighs for it
        elif vote == MORE:
            weight = "Low"
        elif vote == LESS:  # at least Medium: less time, a higher fee, a lower cap
            weight = _highest([severity, "Medium"])
        else:  # the change alone cannot tell: the clause's severity
            weight = severity or "Low"
        return Evidence(reason, vote, severity, PARAMETER, None, change, (), weight)

    if old is not None and new is not None:
        vote, why = _paired(change.kind, rule, old, new)
        return evidence(f"{label}: {old.value} → {new.value} ({why})", vote)
    if new is not None:
        if gains and rule.added is not None:
            return evidence(f"{label}: added {new.value} (part of a new clause type)", None, True)
        return evidence(f"{label}: added {new.value} ({rule.added_why})", rule.added)
    if old is not None:
        if losses and rule.removed is not None:
            reason = f"{label}: removed {old.value} (part of a removed clause type)"
            return evidence(reason, None, True)
        return evidence(f"{label}: removed {old.value} ({rule.removed_why})", rule.removed)
    return evidence(f"{label}: unchanged", None)


def parameter_vote(change: ParameterChange) -> str | None:
    """How a parameter change votes on its own (LESS, MORE or None), as in :func:`assess_item`
    for a provision that neither gains nor loses a clause type."""
    return _parameter(change, None, False, False).vote


def _paired(
    kind: str, rule: ParameterRule, old: Parameter, new: Parameter
) -> tuple[str | None, str]:
    if kind in _RESIDENCE_WHY and RESIDENCE in (old.value, new.value):
        gained, lost = _RESIDENCE_WHY[kind]
        return (MORE, gained) if new.value == RESIDENCE else (LESS, lost)
    if rule.larger is None:
        return None, "the change alone cannot tell"
    if old.quantity is None or new.quantity is None or not _comparable(old, new):
        return None, "not comparable"
    if old.quantity == new.quantity:
        return None, "same length" if old.unit and "days" in old.unit else "same amount"
    larger = new.quantity > old.quantity
    vote = rule.larger if larger else _reverse(rule.larger)
    return vote, rule.larger_why if larger else rule.smaller_why


def _comparable(old: Parameter, new: Parameter) -> bool:
    """Same unit; for money also the same period ("USD 9.99 per month" vs "USD 99 per year")."""
    if old.unit != new.unit:
        return False
    return old.kind not in ("fee", "liability_cap") or _period(old.value) == _period(new.value)


def _period(value: str) -> str:
    return " ".join(value.split()[2:])  # "EUR 9.99 per month" -> "per month"


# --- votes and severities --------------------------------------------------------------------


def _reverse(vote: str) -> str:
    return MORE if vote == LESS else LESS


def _direction(votes: Iterable[str | None]) -> str:
    cast = {v for v in votes if v in (LESS, MORE)}
    if len(cast) == 2:
        return MIXED
    return cast.pop() if cast else NEUTRAL


def _rank(severity: str | None) -> int:
    """Sort key: High first, then Medium, Low, and None last."""
    return -SEVERITIES.index(severity) if severity in SEVERITIES else 1


def _highest(severities: Iterable[str | None]) -> str | None:
    known = [s for s in severities if s in SEVERITIES]
    return max(known, key=SEVERITIES.index) if known else None


def _unique(evidence: list[Evidence]) -> list[Evidence]:
    seen: set[str] = set()
    out = []
    for e in evidence:
        if e.reason not in seen:
            seen.add(e.reason)
            out.append(e)
    return out
