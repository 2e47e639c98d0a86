"""Grounded narrative sections of a provision page, and the check that keeps them grounded.

:func:`narrate` writes the sections from two sources only:

- the taxonomy's *general* text for the clause type (``narrative.why`` / ``impact`` /
  ``actions``, its name and description), always phrased about clauses of the type;
- facts found in the provision's own text, each stated next to an exact quote of it: a short
  quote of the provision, the parameters :func:`~clausewatch.changes.parameters.extract_parameters`
  finds (notice period, governing law, arbitration body, retention period, fee, ...), the words
  that moved the severity (from ``severity_of``), and opt-out / settings / contact passages.

Every quote is an exact substring of the text (``Narrative.quotes``). A provision without a
substantive clause type gets a short, honest narrative that claims nothing about it.

:func:`check_grounded` compares a rewritten narrative (an LLM's) with the template one and lists
what is not supported: new numbers, quotes that are not in the text, new names, a dropped
section, a changed severity, or too much length. See ``docs/narrative.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from clausewatch.changes.parameters import LABELS, Parameter, extract_parameters
from clausewatch.changes.redline import sentence_spans
from clausewatch.classify.conventions import CARVE_OUT_REASON, OPT_OUT_REASON, QUOTABLE_RUN
from clausewatch.classify.severity import FAIRNESS_PREFIX, NEGATED_REASON
from clausewatch.classify.taxonomy import BOILERPLATE, ClauseType, Taxonomy, default_taxonomy

QUOTE_LIMIT = 220  # characters of the provision quoted in "It reads: …"
SHORT_RUN_WORDS = 5  # a run between double quotes shorter than this is not quoted alone
ACTION_QUOTE_LIMIT = 160  # characters quoted for a text-backed action
MAX_PARAMETERS = 4
MAX_TEXT_ACTIONS = 3
SEVERITY_WORDS = ("High", "Medium", "Low")
NOT_MATCHED = "This provision was not matched to a substantive clause type"

_QUOTE_CHARS = re.compile(r"[\"“”]")
_QUOTED = re.compile(r"[“\"]([^“”\"]*)[”\"]")
_ELLIPSIS = re.compile(r"…|\.\.\.")
_REASON = re.compile(r"^(raise|lower)s: (.*) \(“(.*)”\)$", re.S)
_DEADLINES = (
    "arbitration_opt_out_deadline",
    "opt_out_window",
    "cancellation_window",
    "refund_window",
)
_OPT_OUT = re.compile(
    r"\bopt(?:s|ing|ed)?[- ]?out\b|\bwithdraw (?:your )?consent\b|\bunsubscrib\w*", re.I
)
_SETTINGS = re.compile(
    r"\bsettings\b|\b(?:privacy|account|ad|ads|cookie) (?:setting|controls?|preferences)\b"
    r"|\bprivacy (?:center|centre|dashboard|hub)\b",
    re.I,
)
_CONTACT = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\bcontact (?:us|our)\b|\b(?:write|email) to us\b"
    r"|\bemail us\b|\bcontact form\b",
    re.I,
)


@dataclass(frozen=True)
class NarrativeInput:
    platform: str  # "LinkedIn"
    document: str  # "LinkedIn Privacy Policy"
    title: str  # provision title
    text: str  # the provision's exact archived text
    type_ids: tuple[str, ...]  # clause types found, most confident first (may be empty)
    severity: str | None  # High / Medium / Low of the primary type (None when no type)
    severity_reasons: tuple[str, ...]  # from severity_of(): "Default for X: High", "raises: …"
    platforms_with_type: int | None = None  # rarity, from the one query path
    monitored_platforms: int | None = None


@dataclass(frozen=True)
class Narrative:
    what_it_is: str
    why_it_matters: str
    consumer_impact: str
    what_you_can_do: tuple[str, ...]
    faq: tuple[tuple[str, str], ...]  # (question, answer)
    quotes: tuple[str, ...]  # every fragment quoted from the text; each an exact substring
    writer: str = "template"  # or "llm:<model>"
    rejected: tuple[str, ...] = ()  # reasons an LLM rewrite was rejected, if one was tried

    def sections(self) -> Iterator[tuple[str, str]]:
        """``(name, text)`` of every section, e.g. ``("faq[1].answer", "…")``."""
        yield "what_it_is", self.what_it_is
        yield "why_it_matters", self.why_it_matters
        yield "consumer_impact", self.consumer_impact
        for i, action in enumerate(self.what_you_can_do):
            yield f"what_you_can_do[{i}]", action
        for i, (question, answer) in enumerate(self.faq):
            yield f"faq[{i}].question", question
            yield f"faq[{i}].answer", answer

    def full_text(self) -> str:
        return "\n".join(text for _, text in self.sections())


# --- quoting ---------------------------------------------------------------------------------


def _clean(value: str) -> str:
    """A name or title without double quotes (only the provision is ever quoted)."""
    return " ".join(_QUOTE_CHARS.sub("", value).split())


def _plain_reason(reason: str) -> str:
    reason = _clean(reason).rstrip(".")
    return reason[:1].lower() + reason[1:] if reason[1:2].islower() else reason


class _Quoter:
    """Quotes exact fragments of the text and remembers them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans = sentence_spans(text) if text.strip() else []
        self.quotes: list[str] = []

    def quote(self, fragment: str) -> str:
        assert fragment and fragment in self.text, fragment
        if fragment not in self.quotes:
            self.quotes.append(fragment)
        return f"“{fragment}”"

    def sentence(self, pos: int) -> tuple[int, int]:
        for start, end in self.spans:
            if start <= pos < end:
                return start, end
        line_start = self.text.rfind("\n", 0, pos) + 1
        line_end = self.text.find("\n", pos)
        return line_start, len(self.text) if line_end < 0 else line_end

    def around(self, start: int, end: int, limit: int) -> tuple[str, bool] | None:
        """An exact, quotable fragment of the sentence holding ``text[start:end]``: no line
        breaks or double quotes, at most ``limit`` characters, cut at spaces. Also says
        whether the fragment is only part of its sentence."""
        s_start, s_end = self.sentence(start)
        runs = [
            m.span() for m in QUOTABLE_RUN.finditer(self.text, s_start, s_end) if m.group().strip()
        ]
        if not runs:
            return None
        holding = [r for r in runs if r[0] <= start < r[1]]
        longest = max(runs, key=lambda r: r[1] - r[0])
        r_start, r_end = holding[0] if holding else longest
        if len(self.text[r_start:r_end].split()) < SHORT_RUN_WORDS:
            # a term in quotes (“Do Not Track”) says nothing alone: its sentence's longest run
            r_start, r_end = longest
        r_start, r_end = self._strip(r_start, r_end)
        partial = (r_start, r_end) != self._strip(s_start, s_end)
        if r_end - r_start > limit:
            anchor = min(max(start, r_start), r_end)
            w_start = max(r_start, anchor - limit // 3)
            if w_start > r_start:
                space = self.text.find(" ", w_start, anchor)
                w_start = space + 1 if space >= 0 else w_start
            w_end = min(r_end, w_start + limit)
            if w_end < r_end:
                space = self.text.rfind(" ", max(anchor, w_start + 1), w_end)
                w_end = space if space > w_start else w_end
            r_start, r_end = self._strip(w_start, w_end)
            partial = True
        fragment = self.text[r_start:r_end].rstrip(",;:")
        if len(fragment.strip()) < 3:
            return None
        return fragment, partial

    def _strip(self, start: int, end: int) -> tuple[int, int]:
        while start < end and self.text[start].isspace():
            start += 1
        while end > start and self.text[end - 1].isspace():
            end -= 1
        return start, end


# --- the template ----------------------------------------------------------------------------


def narrate(inp: NarrativeInput, taxonomy: Taxonomy | None = None) -> Narrative:
    """The template narrative of one provision (see the module docstring)."""
    tax = taxonomy or default_taxonomy()
    types = [tax.by_id[t] for t in dict.fromkeys(inp.type_ids) if t in tax.by_id]
    substantive = [t for t in types if t.id != BOILERPLATE]
    quoter = _Quoter(inp.text)
    if not substantive:
        return _unmatched(inp, quoter, tax.by_id.get(BOILERPLATE) if types else None)
    return _matched(inp, quoter, substantive[0], substantive[1:])


def _names(inp: NarrativeInput) -> tuple[str, str, str]:
    platform = _clean(inp.platform) or "The platform"
    document = _clean(inp.document) or "document"
    # "11. Limitation of Liability." starts a sentence of ours: its own stop would end it
    title = _clean(inp.title).rstrip(".:;, ")
    return platform, document, title


def _intro(inp: NarrativeInput) -> str:
    platform, document, title = _names(inp)
    source = document if document.startswith(platform) else f"{document} ({platform})"
    if title:
        return f"{title} is a provision of the {source}."
    return f"This provision is part of the {source}."


def _reads(quoter: _Quoter, primary: ClauseType | None) -> str:
    """“It reads: …” with the sentence that holds the type's first trigger (or the first one)."""
    anchor = _first_trigger(quoter.text, primary) if primary else None
    if anchor is None:
        anchor = quoter.spans[0] if quoter.spans else None
    if anchor is None:
        return ""
    found = quoter.around(anchor[0], anchor[1], QUOTE_LIMIT)
    if found is None:
        return ""
    fragment, partial = found
    stop = "" if fragment.endswith((".", "!", "?")) else "."
    return f"It reads{' in part' if partial else ''}: {quoter.quote(fragment)}{stop}"


def _first_trigger(text: str, ctype: ClauseType) -> tuple[int, int] | None:
    matches = [m for m in (p.search(text) for p in ctype.triggers) if m is not None]
    if not matches:
        return None
    first = min(matches, key=lambda m: m.start())
    return first.start(), first.end()


def _matched(
    inp: NarrativeInput, quoter: _Quoter, primary: ClauseType, secondary: list[ClauseType]
) -> Narrative:
    platform, _, title = _names(inp)
    name = _clean(primary.name)
    also = [_clean(t.name) for t in secondary]
    severity = inp.severity if inp.severity in SEVERITY_WORDS else None

    classified = f"clausewatch classified it as {name}"
    if also:
        classified += f", and also as {_join(also)}"
    if severity:
        classified += f", with {severity} severity"
    reads = _reads(quoter, primary)
    what_it_is = " ".join(x for x in (_intro(inp), classified + ".", reads) if x)

    why = [primary.narrative.why]
    if also:
        why.append(f"The provision also matched {_join(also)}.")
    why += _severity_sentences(inp, quoter, primary, severity)

    params = _parameters(inp.text)
    stated = [f"{LABELS.get(p.kind, p.kind)}: {p.value} ({quoter.quote(p.quote)})" for p in params]
    impact = [primary.narrative.impact]
    if NEGATED_REASON in inp.severity_reasons:  # the general impact is what this text denies
        impact = [
            f"{platform} states that it does not do this. Where clauses of this type do apply: "
            f"{_lower_first(primary.narrative.impact)}"
        ]
    elif any(r.startswith(CARVE_OUT_REASON) for r in inp.severity_reasons):
        # a carve-out: the type's impact is what the document's other limits do, not this text
        impact = [
            f"This text keeps liability or rights that the law does not let {platform} exclude; "
            "it limits nothing itself. Where clauses of this type do limit: "
            f"{_lower_first(primary.narrative.impact)}"
        ]
    if stated:
        impact.append(f"{platform}'s text states: {'; '.join(stated)}.")
    consumer_impact = " ".join(impact)

    actions = [*primary.narrative.actions, *_text_actions(quoter, params)]

    subject = f"{platform}'s {title} clause" if title else f"this {platform} clause"
    faq = [
        (
            f"What does {subject} do?",
            " ".join(
                x
                for x in (
                    f"clausewatch matched it to the clause type {name} "
                    f"(taxonomy definition: {_clean(primary.description).rstrip('.')})."
                    + (f" It also matched {_join(also)}." if also else ""),
                    reads,
                )
                if x
            ),
        ),
        ("How does this clause affect you?", consumer_impact),
    ]
    rarity = _rarity(inp, name)
    if rarity:
        faq.append(("How common is this clause?", rarity))
    faq.append(_affiliation(inp))
    return Narrative(
        what_it_is=what_it_is,
        why_it_matters=" ".join(why),
        consumer_impact=consumer_impact,
        what_you_can_do=tuple(actions),
        faq=tuple(faq),
        quotes=tuple(quoter.quotes),
    )


def _severity_sentences(
    inp: NarrativeInput, quoter: _Quoter, primary: ClauseType, severity: str | None
) -> list[str]:
    if severity is None:
        return []
    platform, _, _ = _names(inp)
    name = _clean(primary.name)
    steps = []
    for reason in inp.severity_reasons:
        m = _REASON.match(reason)
        if m is not None and reason.startswith(OPT_OUT_REASON) and m.group(3) not in inp.text:
            steps.append(  # read in another provision of the document: said, not quoted
                f"Elsewhere, the {_names(inp)[1]} lets users opt out of its arbitration "
                "agreement, which lowers the severity."
            )
            continue
        if m is None or not m.group(3) or m.group(3) not in inp.text:
            continue  # only words that are in the text are cited
        if _QUOTE_CHARS.search(m.group(3)):
            continue
        effect = "raises" if m.group(1) == "raise" else "lowers"
        steps.append(
            f"{platform}'s text says {quoter.quote(m.group(3))}, which {effect} the severity "
            f"({_plain_reason(m.group(2))})."
        )
    if NEGATED_REASON in inp.severity_reasons:
        return [f"Severity: Low: {platform} states that it does not do this."]
    steps += [_plain_fairness(r) for r in inp.severity_reasons if r.startswith(FAIRNESS_PREFIX)]
    if severity == primary.severity and not steps:
        return [f"Severity: {severity}, the default for {name}; nothing in the text moved it."]
    if severity == primary.severity:
        return [f"Severity: {severity}, the same as the default for {name}.", *steps]
    return [f"Severity: {severity}; the default for {name} is {primary.severity}.", *steps]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _plain_fairness(reason: str) -> str:
    """ "Compared with CLAUDETTE's annotated clauses: 80% likely unfair, …" as a sentence."""
    figures = reason.removeprefix(FAIRNESS_PREFIX).strip(": ")
    return f"Compared with clauses legal experts annotated in the CLAUDETTE corpus: {figures}."


def _parameters(text: str) -> list[Parameter]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in extract_parameters(text):
        key = (p.kind, p.value)
        if key in seen or not p.quote.strip() or _QUOTE_CHARS.search(p.quote):
            continue
        if p.quote not in text:  # never happens: quote == text[start:end]
            continue
        seen.add(key)
        out.append(p)
    return out[:MAX_PARAMETERS]


def _text_actions(quoter: _Quoter, params: list[Parameter]) -> list[str]:
    """Actions the text itself offers, each with its quote."""
    out: list[str] = []
    for p in params:
        if p.kind in _DEADLINES:
            label = LABELS.get(p.kind, p.kind)
            out.append(f"Note the {label} stated in the text ({p.value}): {quoter.quote(p.quote)}")
    cues = (
        (_OPT_OUT, "Read what the text says about opting out: {}"),
        (_SETTINGS, "Check the settings the text mentions: {}"),
        (_CONTACT, "Contact route given in the text: {}"),
    )
    used: set[str] = set()
    for pattern, template in cues:
        m = pattern.search(quoter.text)
        if m is None:
            continue
        found = quoter.around(m.start(), m.end(), ACTION_QUOTE_LIMIT)
        if found is None or found[0] in used:
            continue
        used.add(found[0])
        out.append(template.format(quoter.quote(found[0])))
    return out[:MAX_TEXT_ACTIONS]


def _rarity(inp: NarrativeInput, name: str) -> str | None:
    n, m = inp.platforms_with_type, inp.monitored_platforms
    if n is None or not m or n < 0 or n > m:
        return None
    share = 100 * n / m
    pct = f"{share:.1f}" if 0 < share < 1 else f"{share:.0f}"
    return (
        f"Found in {n} of {m} monitored platforms ({pct}%): the platforms with at least one "
        f"provision classified as {name}."
    )


def _affiliation(inp: NarrativeInput) -> tuple[str, str]:
    platform, document, _ = _names(inp)
    return (
        f"Is clausewatch affiliated with {platform}?",
        f"No. clausewatch is an independent monitor and is not affiliated with or endorsed by "
        f"{platform}. This analysis is general information, not legal advice; the original "
        f"text of the {document} is what applies.",
    )


def _unmatched(inp: NarrativeInput, quoter: _Quoter, boilerplate: ClauseType | None) -> Narrative:
    label = (
        f"; clausewatch labelled it {_clean(boilerplate.name)}" if boilerplate is not None else ""
    )
    reads = _reads(quoter, None)
    matched = f"It was not matched to a substantive clause type{label}."
    what_it_is = " ".join(x for x in (_intro(inp), matched, reads) if x)
    why = [f"{NOT_MATCHED}, so clausewatch makes no compliance assessment of it."]
    impact = [
        "clausewatch identified no specific consumer impact for this provision; that is not a "
        "finding that it has none, so read the quoted text for what it says."
    ]
    if boilerplate is not None:
        why.append(boilerplate.narrative.why)
        impact.append(boilerplate.narrative.impact)
    actions = [
        "Read the original text if this part of the document matters to you",
        *_text_actions(quoter, []),
    ]
    platform, _, title = _names(inp)
    subject = f"{platform}'s {title} provision" if title else f"this {platform} provision"
    faq = (
        (
            f"What does {subject} do?",
            " ".join(x for x in (f"{NOT_MATCHED}.", reads) if x),
        ),
        _affiliation(inp),
    )
    return Narrative(
        what_it_is=what_it_is,
        why_it_matters=" ".join(why),
        consumer_impact=" ".join(impact),
        what_you_can_do=tuple(actions),
        faq=faq,
        quotes=tuple(quoter.quotes),
    )


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# --- the check -------------------------------------------------------------------------------

_SMALL = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_NUMBER_WORD = r"(?:" + "|".join(sorted([*_SMALL, *_TENS], key=len, reverse=True)) + r")"
_SPELLED = rf"{_NUMBER_WORD}(?:[\s-]+{_NUMBER_WORD})?(?:\s+(?:hundred|thousand))?"
_DIGITS = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_SPELLED_ANY = re.compile(rf"\b{_SPELLED}\b", re.I)
_UNIT = r"(?:hours?|days?|weeks?|months?|years?|percent|per\s+cent|dollars?|euros?|pounds?)"
_SPELLED_AMOUNT = re.compile(
    rf"\b(?P<n>{_SPELLED})[\s-]+(?:calendar\s+|business\s+|working\s+)?{_UNIT}\b", re.I
)
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9'’&.-]*")
_OPENERS = " \t\n(“\"'‘[-–—*•"


def _spelled_value(words: str) -> str:
    total = 0
    for word in re.split(r"[\s-]+", words.lower()):
        if word in _SMALL:
            total += _SMALL.index(word)
        elif word in _TENS:
            total += 10 * (_TENS.index(word) + 2)
        elif word == "hundred":
            total = max(total, 1) * 100
        elif word == "thousand":
            total = max(total, 1) * 1000
    return str(total)


def _digit_value(raw: str) -> str:
    value = raw.replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value.lstrip("0") or "0"


def _number_values(text: str) -> set[str]:
    """Every number in ``text``, normalised ("1,000" → "1000", "thirty" → "30")."""
    values = {_digit_value(m.group()) for m in _DIGITS.finditer(text)}
    values |= {_spelled_value(m.group()) for m in _SPELLED_ANY.finditer(text)}
    return values


def _claimed_numbers(text: str) -> list[tuple[str, str]]:
    """``(as written, value)`` of the numbers a section states: all digits, and spelled-out
    numbers with a unit ("forty-five days")."""
    found = [(m.group(), _digit_value(m.group())) for m in _DIGITS.finditer(text)]
    found += [(m.group(), _spelled_value(m["n"])) for m in _SPELLED_AMOUNT.finditer(text)]
    return found


def quoted_fragments(text: str) -> list[str]:
    """The fragments a text quotes (inside straight or curly double quotes), split at
    ellipses, stripped."""
    out: list[str] = []
    for m in _QUOTED.finditer(text):
        for part in _ELLIPSIS.split(m.group(1)):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out


def _vocabulary(*texts: str) -> set[str]:
    return {w.lower() for text in texts for w in re.findall(r"[A-Za-z0-9]+", text)}


def _severities(text: str, *, exact_case: bool) -> set[str]:
    flags = 0 if exact_case else re.I
    found = re.findall(r"\b(High|Medium|Low)\b", _QUOTED.sub(" ", text), flags)
    return {w.capitalize() for w in found}


def check_grounded(
    candidate: Narrative,
    inp: NarrativeInput,
    reference: Narrative,
    taxonomy: Taxonomy | None = None,
) -> list[str]:
    """What in ``candidate`` is not supported by the provision text or ``reference``
    (``[]`` when nothing). Each problem names the section and the offending words."""
    tax = taxonomy or default_taxonomy()
    problems: list[str] = []
    headers = (inp.platform, inp.document, inp.title)
    reference_text = reference.full_text()

    # A dropped section.
    for name in ("what_it_is", "why_it_matters", "consumer_impact"):
        if not getattr(candidate, name).strip():
            problems.append(f"{name}: empty")
    if reference.what_you_can_do and not any(a.strip() for a in candidate.what_you_can_do):
        problems.append("what_you_can_do: empty")
    if len(candidate.faq) < len(reference.faq):
        problems.append(
            f"faq: {len(candidate.faq)} questions, the reference has {len(reference.faq)}"
        )
    for i, (question, answer) in enumerate(candidate.faq):
        if not question.strip() or not answer.strip():
            problems.append(f"faq[{i}]: empty question or answer")

    numbers = _number_values(inp.text) | _number_values(reference_text)
    for header in headers:
        numbers |= _number_values(header)
    vocabulary = _vocabulary(inp.text, reference_text, *headers)
    vocabulary |= _vocabulary(*(t.name for t in tax.types), *tax.groups.values())
    stated = _severities(reference_text, exact_case=True)
    required = {inp.severity} & stated if inp.severity else set()
    allowed = stated

    for name, text in candidate.sections():
        # Quotes must be exact text.
        for fragment in quoted_fragments(text):
            if fragment not in inp.text and not any(fragment in h for h in headers):
                problems.append(f"{name}: quotes “{fragment}”, which is not in the provision text")
        unquoted = _QUOTED.sub(" ", text)
        # Numbers, dates, amounts, percentages, durations.
        bad = [raw for raw, value in _claimed_numbers(unquoted) if value not in numbers]
        if bad:
            problems.append(
                f"{name}: states {_list(bad)}, not in the provision text or the reference"
            )
        # Names: capitalised words not at a sentence start, and acronyms.
        unknown = [w for w in _named(unquoted) if not _known(w, vocabulary)]
        if unknown:
            problems.append(
                f"{name}: names {_list(unknown)}, not in the provision text, the reference "
                "or the taxonomy"
            )
        extra = _severities(text, exact_case=True) - allowed
        if extra:
            problems.append(
                f"{name}: states severity {_list(sorted(extra))}; the reference states "
                f"{_list(sorted(allowed)) or 'none'}"
            )
    for fragment in candidate.quotes:
        if fragment not in inp.text:
            problems.append(f"quotes: “{fragment}” is not in the provision text")
    if required and not required <= _severities(candidate.full_text(), exact_case=False):
        problems.append(f"severity: the reference states {_list(sorted(required))}; dropped")

    length, limit = len(candidate.full_text()), 2 * len(reference_text)
    if length > limit:
        problems.append(
            f"length: {length} characters, more than twice the reference's {len(reference_text)}"
        )
    return problems


def _named(text: str) -> list[str]:
    """Capitalised words that are not at a sentence start, and all-caps acronyms."""
    out: list[str] = []
    for m in _TOKEN.finditer(text):
        word = re.sub(r"(?:['’]s)?[.'’-]*$", "", m.group())
        letters = re.sub(r"[^A-Za-z]", "", word)
        if not letters or not letters[0].isupper() or word == "I":
            continue
        acronym = len(letters) >= 2 and letters.isupper()
        before = text[: m.start()].rstrip(_OPENERS + "”’)]")
        at_start = not before or before[-1] in ".!?:;"
        if (acronym or not at_start) and word not in out:
            out.append(word)
    return out


def _known(word: str, vocabulary: set[str]) -> bool:
    return all(p.lower() in vocabulary for p in re.findall(r"[A-Za-z0-9]+", word))


def _list(items: list[str]) -> str:
    return ", ".join(f"“{x}”" for x in items)
