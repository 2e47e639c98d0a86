"""Plain-language change summaries and the effective date a document states for itself.

Both are pure and deterministic. A summary only restates what the caller measured: counts,
the titles it was given, and parameter changes. It never characterises a change.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence

from clausewatch.changes.parameters import ParameterChange

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
_EFFECTIVE = re.compile(
    rf"""(?:(?<![^\W_])effective(?:\s+date)?|(?<![^\W_])in\s+(?:force|effect)|(?<![^\W_])entry\s+into\s+force
        |(?<![^\W_])(?:come|comes|came|coming)\s+into\s+(?:force|effect)|(?<![^\W_])(?:take|takes|took)\s+effect
        |(?<![^\W_])valid\s+from|(?<![^\W_])applicable\s+from)
        {_GAP}(?=\S)""",
    re.I | re.X,
)
_UPDATED = re.compile(
    rf"""(?:(?<![^\W_])(?:last\s+)?(?:updated|modified|revised)|(?<![^\W_])last\s+(?:amended|changed)
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
    for label in (_EFFECTIVE, _UPDATED):
        for match in label.finditer(text):
            date = _date_at(text, match.end())
            if date is not None:
                return date
    return None


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


# --- summary ---------------------------------------------------------------------------------

_MAX_TITLES = 3
_MAX_TITLE_CHARS = 80


def summarise_change(
    *,
    added: Sequence[str] = (),
    removed: Sequence[str] = (),
    modified: Sequence[tuple[str, str]] = (),
    moved: int = 0,
    parameter_changes: Sequence[ParameterChange] = (),
    max_titles: int = _MAX_TITLES,
) -> str:
    """A short factual summary of one change record, built only from its arguments.

    ``added`` and ``removed`` are the titles of the provisions added and removed (an empty
    title counts but is not quoted); ``modified`` holds ``(old title, new title)`` per modified
    provision, so a renamed one can say so; ``moved`` counts provisions whose position changed
    only. Example: "2 provisions added (“A”, “B”), 1 removed (“C”), 3 modified; notice period:
    30 days → 7 days. 1 provision moved."
    """
    counts = list(_count_parts(added, removed, modified, max_titles))
    parameters = list(dict.fromkeys(change.describe() for change in parameter_changes))
    sentences = []
    first = ", ".join(counts)
    if parameters:
        first = "; ".join([first, *parameters]) if first else _capitalised("; ".join(parameters))
    if first:
        sentences.append(first + ".")
    if moved:
        sentences.append(f"{_provisions(moved)} moved.")
    return " ".join(sentences) or "No provision changed."


def _count_parts(
    added: Sequence[str],
    removed: Sequence[str],
    modified: Sequence[tuple[str, str]],
    max_titles: int,
) -> Iterator[str]:
    renamed = [(old, new) for old, new in modified if _clean(old) != _clean(new) and old and new]
    parts = [
        (len(added), "added", _titles(added, max_titles)),
        (len(removed), "removed", _titles(removed, max_titles)),
        (len(modified), "modified", _renames(renamed, len(modified), max_titles)),
    ]
    noun_used = False
    for count, verb, detail in parts:
        if not count:
            continue
        number = str(count) if noun_used else _provisions(count)
        noun_used = True
        yield f"{number} {verb}{detail}"


def _provisions(count: int) -> str:
    return f"{count} provision{'' if count == 1 else 's'}"


def _titles(titles: Sequence[str], limit: int) -> str:
    named = [_quoted(t) for t in titles if _clean(t)]
    if not named or limit <= 0:
        return ""
    shown = named[:limit]
    rest = len(named) - len(shown)
    return f" ({', '.join(shown)}{f' and {rest} more' if rest else ''})"


def _renames(renamed: Sequence[tuple[str, str]], modified: int, limit: int) -> str:
    if not renamed or limit <= 0:
        return ""
    shown = [f"{_quoted(old)} renamed {_quoted(new)}" for old, new in renamed[:limit]]
    rest = len(renamed) - len(shown)
    label = "including " if modified > 1 else ""
    return f" ({label}{', '.join(shown)}{f' and {rest} more renamed' if rest else ''})"


def _clean(title: str) -> str:
    return " ".join(title.split()).strip("\"'“”‘’ ")


def _quoted(title: str) -> str:
    text = _clean(title)
    if len(text) > _MAX_TITLE_CHARS:
        text = text[: _MAX_TITLE_CHARS - 1].rstrip() + "…"
    return f"“{text}”"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
