"""The numbers and places that matter inside clauses, extracted so they compare over time.

Regular expressions plus a small grammar, no model. Precision matters more than recall: a
value (a duration, an age, an amount, a place) is only extracted when a *trigger* word of its
kind ("notify", "retain", "cancel", "liability", "governed by", "courts") sits near it in the
same clause and nothing in the clause vetoes it. Section numbers, years, dates, addresses,
phone numbers, counts and durations or amounts about something else are never parameters.

Kinds (``KINDS``) and their normalised ``value``:

- ``notice_period``: advance notice of changes to the terms or prices ("30 days").
- ``retention_period``: how long data is kept, or how long its deletion takes ("90 days").
- ``liability_cap``: an amount that caps liability ("USD 100").
- ``fee``: a price, fee or charge ("USD 9.99 per month").
- ``minimum_age``: the age needed to use the service, or under which it does not collect
  data ("13 years").
- ``opt_out_window``: the time to opt out of something other than arbitration ("30 days").
- ``cancellation_window``: the time to cancel or withdraw ("14 days").
- ``arbitration_opt_out_deadline``: the time to opt out of an arbitration agreement.
- ``refund_window``: the time to return a purchase or to ask for a refund.
- ``governing_law``: the law chosen for the contract ("State of California", "Ireland",
  "your place of residence").
- ``venue``: the courts chosen for disputes ("Santa Clara County, California").
- ``arbitration_body``: the institution that administers arbitration ("AAA", "JAMS", "ICC").

Durations keep their unit in ``value`` ("3 months") and are converted to days in
``quantity`` (a month is 30 days, a year 365; business days stay in ``business days``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from clausewatch.changes.redline import sentence_spans

KINDS = (
    "notice_period",
    "retention_period",
    "liability_cap",
    "fee",
    "minimum_age",
    "opt_out_window",
    "cancellation_window",
    "arbitration_opt_out_deadline",
    "refund_window",
    "governing_law",
    "venue",
    "arbitration_body",
)
LABELS = {kind: kind.replace("_", " ") for kind in KINDS} | {
    "arbitration_opt_out_deadline": "arbitration opt-out deadline",
    "opt_out_window": "opt-out window",
}
RESIDENCE = "your place of residence"  # the value for "the laws/courts of your country"


@dataclass(frozen=True)
class Parameter:
    kind: str
    value: str  # normalised and comparable: "30 days", "USD 100", "State of California"
    quantity: float | None  # base unit: days for durations, years for ages, the amount for money
    unit: str | None  # "days", "business days", "years", "USD", "EUR", ...
    quote: str  # always text[start:end]: the trigger and the value, as written
    start: int
    end: int


@dataclass(frozen=True)
class ParameterChange:
    kind: str
    old: Parameter | None
    new: Parameter | None

    def describe(self) -> str:
        label = LABELS.get(self.kind, self.kind.replace("_", " "))
        if self.old and self.new:
            return f"{label}: {self.old.value} → {self.new.value}"
        if self.new:
            return f"{label}: added {self.new.value}"
        if self.old:
            return f"{label}: removed ({self.old.value})"
        return f"{label}: unchanged"


def extract_parameters(text: str) -> list[Parameter]:
    """Every parameter stated in ``text`` (a clause or a whole document), in text order."""
    return list(_parameters_of(text))


@functools.lru_cache(maxsize=4096)  # a build reads each new provision text twice (revision, change)
def _parameters_of(text: str) -> tuple[Parameter, ...]:
    in_arbitration = _ARBITRATION.search(text) is not None
    found: list[Parameter] = []
    for clause in _clauses(text):
        ages = _ages(clause)
        found += ages
        found += _durations(clause, [(p.start, p.end) for p in ages], in_arbitration)
        found += _money(clause)
        found += _governing_law(clause)
        found += _venue(clause)
        found += _bodies(clause, in_arbitration)
    return tuple(_without_duplicates(found))


def compare_parameters(old: Sequence[Parameter], new: Sequence[Parameter]) -> list[ParameterChange]:
    """What changed between two parameter lists, kind by kind, values compared as sets.

    A value present on both sides is unchanged wherever it moved and however often it is
    repeated. A vanished and a new value of a kind pair into one change when each is its
    side's only value of that kind, or when their quotes read alike (numbers masked,
    rapidfuzz ratio ≥ 60); the rest are reported as removed or added.
    """
    changes: list[ParameterChange] = []
    for kind in KINDS:
        old_values = {p.value for p in old if p.kind == kind}
        new_values = {p.value for p in new if p.kind == kind}
        gone = _first_of_each_value([p for p in old if p.kind == kind], new_values)
        came = _first_of_each_value([p for p in new if p.kind == kind], old_values)
        alone = len(old_values) == len(new_values) == 1  # the same statement, reworded
        pairs = _pair(gone, came, alone=alone)
        paired = {id(p) for pair in pairs for p in pair}
        changes += [ParameterChange(kind, o, n) for o, n in pairs]
        changes += [ParameterChange(kind, o, None) for o in gone if id(o) not in paired]
        changes += [ParameterChange(kind, None, n) for n in came if id(n) not in paired]
    return changes


# --- clauses and the nearest-trigger rule ----------------------------------------------------


@dataclass(frozen=True)
class _Clause:
    text: str  # the whole input, so that offsets stay absolute
    start: int
    end: int

    def has(self, pattern: re.Pattern[str]) -> bool:
        return pattern.search(self.text, self.start, self.end) is not None

    def before(self, pos: int, width: int) -> str:
        return self.text[max(self.start, pos - width) : pos]

    def found(
        self,
        kind: str,
        value: str,
        span: tuple[int, int],
        quantity: float | None = None,
        unit: str | None = None,
    ) -> Parameter:
        start, end = span
        return Parameter(kind, value, quantity, unit, self.text[start:end], start, end)


def _clauses(text: str) -> Iterator[_Clause]:
    """Sentences, cut again at semicolons so that list items "(i) …; (ii) …" stand alone."""
    for start, end in sentence_spans(text):
        for part in re.finditer(r"[^;]+", text[start:end]):
            yield _Clause(text, start + part.start(), start + part.end())


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I | re.X)


@dataclass(frozen=True)
class _Rule:
    kind: str  # _BLOCK: a value nearest to this trigger is about something else
    trigger: re.Pattern[str]
    requires: re.Pattern[str] | None = None  # must also be somewhere in the clause
    veto: re.Pattern[str] | None = None  # must be nowhere in the clause
    reach: int = 160  # the most characters between trigger and value


_BLOCK = ""


def _nearest_trigger(
    clause: _Clause, span: tuple[int, int], rules: Sequence[_Rule]
) -> tuple[_Rule, tuple[int, int]] | None:
    """The rule whose trigger is closest to the value at ``span``, and that trigger's span.

    Rules whose requirement is missing or whose veto is present are skipped; on equal
    distance the earlier rule wins.
    """
    start, end = span
    best: tuple[int, int, _Rule, tuple[int, int]] | None = None
    for order, rule in enumerate(rules):
        if (rule.requires and not clause.has(rule.requires)) or (
            rule.veto and clause.has(rule.veto)
        ):
            continue
        for match in rule.trigger.finditer(clause.text, clause.start, clause.end):
            if match.start() < end and match.end() > start:
                continue  # the trigger is part of the value
            # A trigger after its value ("7 days and permanently deletes") counts double.
            gap = start - match.end() if match.end() <= start else 2 * (match.start() - end)
            if gap <= rule.reach and (best is None or (gap, order) < best[:2]):
                best = (gap, order, rule, match.span())
    return None if best is None else (best[2], best[3])


def _classified(
    clause: _Clause, span: tuple[int, int], rules: Sequence[_Rule]
) -> tuple[str, tuple[int, int]] | None:
    """The kind of the value at ``span`` and the span quoting its trigger and the value."""
    best = _nearest_trigger(clause, span, rules)
    if best is None or best[0].kind == _BLOCK:
        return None
    rule, (t_start, t_end) = best
    return rule.kind, (min(t_start, span[0]), max(t_end, span[1]))


# --- numbers ---------------------------------------------------------------------------------

_SMALL = {
    word: number
    for number, word in enumerate(
        re.findall(
            r"\w+",
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen",
        )
    )
}
_TENS = {
    word: 10 * number
    for number, word in enumerate(
        re.findall(r"\w+", "twenty thirty forty fifty sixty seventy eighty ninety"), start=2
    )
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUMBER_WORD = "|".join(sorted([*_SMALL, *_TENS, *_SCALES], key=len, reverse=True))
# "thirty", "twenty-four", "one hundred and eighty" ("zero" never starts one).
_WORDS = rf"(?:(?!zero\b)(?:{_NUMBER_WORD})(?:[\s-]+(?:and[\s-]+)?(?:{_NUMBER_WORD}))*)\b"


def _words_to_number(words: str) -> int:
    total, current = 0, 0
    for word in re.split(r"[\s-]+", words.lower()):
        if word in _SMALL:
            current += _SMALL[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
    return total + current


def _number(text: str) -> float:
    text = text.replace(",", "")
    return float(text) if re.fullmatch(r"[\d.]+", text) else float(_words_to_number(text))


def _fmt(quantity: float) -> str:
    return f"{quantity:.2f}" if quantity % 1 else str(int(quantity))


# --- durations -------------------------------------------------------------------------------

_DURATION = re.compile(
    rf"""(?<![\w$€£.,/-])
    (?:(?P<words>{_WORDS})\s*\(\s*(?P<paren>\d{{1,4}})\s*\)   # thirty (30)
      |(?P<digits>\d{{1,4}}(?:\.\d+)?)
      |(?P<word>{_WORDS}))
    [\s-]*(?:\(\s*\d{{1,4}}\s*\)\s*)?
    (?P<qualifier>calendar|business|working)?[\s-]*
    (?P<unit>hour|day|week|month|year)s?\b(?:['’](?!\w))?      # 14-day, 30 days’""",
    re.I | re.X,
)
_DAYS_PER = {"hour": 1 / 24, "day": 1, "week": 7, "month": 30, "year": 365}
_AGE_AFTER = _rx(r"\s*(?:old\b|of\s+age\b|or\s+(?:older|over)\b|and\s+(?:older|over)\b)")
_ARBITRATION = _rx(r"arbitra")
_CHANGES = r"chang|modif|amend|updat|revis|new\s+(?:version|terms)"
_COMPANY_PAYS = r"""we(?:\s+(?:will|shall|must)|['’]ll)\s+(?:\w+\s+){0,3}(?:refund|reimburse)
    |reimburs|will\s+refund\s+you|let\s+you\s+know"""
_DURATION_RULES = (
    _Rule(
        "opt_out_window",
        _rx(
            r"""opt(?:s|ing|ed)?[\s-]?out|reject\w*\b[^.;]{0,40}arbitrat
            |decline\s+(?:this|the)\s+(?:agreement\s+to\s+arbitrate|arbitration)"""
        ),
        # "we process opt-out requests within 15 days", cookie lifespans: not a user's window
        veto=_rx(r"\bprocess|respond|honou?r|cookie|lifespan|requests?\b|every|frequen"),
    ),
    _Rule(
        "cancellation_window",
        _rx(
            r"""cancel(?:s|led|ling|lation|ed|ing)?\b|withdraw\b|withdrawal\s+(?:right|period)
            |right\s+(?:of|to)\s+withdraw\w*|cooling[\s-]off|rescind|rescission
            |change\s+your\s+mind"""
        ),
        veto=_rx(
            rf"""{_COMPANY_PAYS}|(?:been|completed|expired)\s+or\s+cancel|has\s+been\s+cancel
            |\bfunds\b"""
        ),
    ),
    _Rule(
        "refund_window",
        _rx(r"refund\w*|money[\s-]back|returned|\breturns?\b"),
        requires=_rx(r"refund|purchas|goods|products?\b|items?\b|orders?\b|receipt"),
        # the company's own payment deadlines and automatic refunds are not a user's window
        veto=_rx(
            rf"""{_COMPANY_PAYS}|reject\s+(?:it|the\s+refund)|returned\s+to\s+(?:your|the)\s+account
            |refunded\s+to\s+your|will\s+be\s+(?:provided|issued|processed|made|credited)
            |amounts?\s+owed|refunds?\s+(?:may|will|can)\s+take"""
        ),
    ),
    _Rule(
        "notice_period",
        _rx(
            r"""notif\w*|notice|inform(?:s|ed|ing)?\b|in\s+advance|prior\s+to|before
            |(?:become|becomes|take|takes|go|goes|come|comes)\s+(?:into\s+)?effect|effective
            |post(?:ed|ing)"""
        ),
        requires=_rx(_CHANGES),
        # notice of disputes, of termination, or of a user's own account changes
        veto=_rx(
            r"""disput|arbitrat|terminat|suspen|clos(?:e|ing)\s+(?:\w+\s+){0,2}account
            |opt\w*\s+out|\breject|your\s+(?:\w+\s+){0,3}information|contact|password|settings
            |considered\s+(?:to\s+(?:be|have\s+been)\s+)?received|deemed"""
        ),
    ),
    _Rule(
        "retention_period",
        _rx(
            r"""retain\w*|retention|\bkept\b|\bkeep\w*|\bstor(?:e|ed|es|age|ing)\b|delet\w*
            |eras(?:e|ed|ure)|anonymi[sz]\w*|de-?identif\w*|purg\w*|back-?ups?|destroy\w*"""
        ),
        veto=_rx(r"respond|response|\bprocess\s+(?:your\s+)?(?:access|opt)|\bnotice\b|logged\s+in"),
    ),
    _Rule(
        _BLOCK,
        _rx(
            r"""resolv\w*|respond\w*|response|repl(?:y|ies)|arbitrator|deliver(?:y|ed)|redeem\w*
            |credited|claim\s+the\s+money|logged\s+(?:in|out)|bring\s+(?:a\s+)?claim"""
        ),
    ),
)


def _durations(
    clause: _Clause, taken: Sequence[tuple[int, int]], in_arbitration: bool
) -> list[Parameter]:
    found = []
    for match in _DURATION.finditer(clause.text, clause.start, clause.end):
        if _AGE_AFTER.match(clause.text, match.end()) or _overlaps(match.span(), taken):
            continue  # "13 years old" is an age
        classified = _classified(clause, match.span(), _DURATION_RULES)
        if classified is None:
            continue
        kind, span = classified
        if kind == "opt_out_window" and (in_arbitration or clause.has(_ARBITRATION)):
            kind = "arbitration_opt_out_deadline"
        value, quantity, unit = _duration_value(match)
        found.append(clause.found(kind, value, span, quantity, unit))
    return found


def _duration_value(match: re.Match[str]) -> tuple[str, float, str]:
    amount = _number(match["paren"] or match["digits"] or match["words"] or match["word"])
    unit = match["unit"].lower()
    qualifier = (match["qualifier"] or "").lower()
    value = f"{_fmt(amount)} {qualifier} {unit}".replace("  ", " ") + ("" if amount == 1 else "s")
    if qualifier in ("business", "working"):
        return value, amount, f"{qualifier} days"  # not convertible to calendar days
    return value, round(amount * _DAYS_PER[unit], 4), "days"


def _overlaps(span: tuple[int, int], taken: Sequence[tuple[int, int]]) -> bool:
    return any(span[0] < b and a < span[1] for a, b in taken)


# --- minimum age -----------------------------------------------------------------------------


def _age_number(n: int) -> str:
    return rf"(?P<age{n}>1\d|2[01]|{_WORDS})"


_AGE = re.compile(
    rf"""(?:
        \b(?:at\s+least|over|above|under|below|younger\s+than|older\s+than|aged)\s+
            (?:the\s+age\s+of\s+)?{_age_number(1)}
            (?:\s*(?:years?|yrs?)(?:\s+(?:old|of\s+age))?)?
            (?=\s*(?:[,.;)(\]]|$|\+|or\b|and\b|in\b|who\b|to\b|without\b|unless\b|may\b|must\b
                  |are\b|is\b|should\b|can(?:not)?\b|please\b|if\b|the\b|years?\b))
      | \bage\s+of\s+{_age_number(2)}\b(?!\s*(?:%|percent|days?|months?|hours?))
      | \bminimum\s+age\W{{0,3}}\s+(?:is|of|means|will\s+be)\s+{_age_number(3)}\b
      | (?<![\w$.,-]){_age_number(4)}\s*(?:years?|yrs?)\s*(?:old|of\s+age)
        (?:\s+or\s+(?:older|over|above))?
      | \b(?:be|are|is)\s+{_age_number(5)}(?:\s*(?:years?|yrs?)(?:\s+(?:old|of\s+age))?)?
        \s+(?:or|and)\s+(?:older|over|above)\b
    )""",
    re.I | re.X,
)
_AGE_GROUPS = ("age1", "age2", "age3", "age4", "age5")
_AGE_CONTEXT = _rx(
    r"""\byou(?:'re|’re)?\b|\buse\b|\busing\b|access|account|regist|sign(?:\s|-)?up|\bjoin
    |eligib|minimum\s+age|parental|consent|collect|knowingly|directed|intended|meant
    |permitted|allowed|\bcreate|services?\b|platform|\bapp\b|\bsite\b|products?\b"""
)
# Ages for ads, content, deliveries or age bands are not the age to use the service.
_AGE_VETO = _rx(
    r"""\bads?\b|advertis|target|visibility|restrict|adults?\b|alcohol|tobacco|gambling
    |firearm|cannabis|deliver|signed\s+for|U\.?S\.?C\b|court\s+order|between\s+(?:the\s+)?ages?
    |between\s+\d|responsible\s+for|minutes|age\s+of\s+majority|images|photo|depict|material
    |availability|certain\s+(?:content|features)|accompanied
    |\b1\d\s*(?:or|and|to|-|–)\s*1\d\b"""
)  # the last: an age band ("16 or 17 years old", "16 and 17 year olds"), not a minimum


def _ages(clause: _Clause) -> list[Parameter]:
    if not clause.has(_AGE_CONTEXT) or clause.has(_AGE_VETO):
        return []
    found = []
    for match in _AGE.finditer(clause.text, clause.start, clause.end):
        age = _number(next(group for group in match.group(*_AGE_GROUPS) if group))
        if 10 <= age <= 25:  # else not a plausible minimum age
            found.append(
                clause.found("minimum_age", f"{_fmt(age)} years", match.span(), age, "years")
            )
    return found


# --- money -----------------------------------------------------------------------------------

_CURRENCY_PREFIX = {
    "us$": "USD", "u.s.$": "USD", "u.s. $": "USD", "us $": "USD", "usd": "USD", "$": "USD",
    "a$": "AUD", "au$": "AUD", "aud": "AUD", "c$": "CAD", "ca$": "CAD", "cad": "CAD",
    "€": "EUR", "eur": "EUR", "£": "GBP", "gbp": "GBP", "chf": "CHF", "₹": "INR", "inr": "INR",
    "¥": "JPY", "jpy": "JPY", "sgd": "SGD", "s$": "SGD",
}  # fmt: skip
_CURRENCY_WORDS = {"dollar": "USD", "euro": "EUR", "pound": "GBP"}
_AMOUNT = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)(?!\d|[.,]\d)"
_PREFIX = "|".join(re.escape(p) for p in sorted(_CURRENCY_PREFIX, key=len, reverse=True))
_MONEY = re.compile(
    rf"""(?:
        (?<![\w$])(?P<prefix>{_PREFIX})\s?(?P<amount>{_AMOUNT})
        (?:\s?(?P<scale>million|billion)\b)?(?:\s?(?:USD|EUR|GBP)\b)?
      | (?<![\w.,])(?P<amount2>{_AMOUNT}|{_WORDS})\s?(?P<scale2>million|billion)?\s?
        (?P<suffix>USD|EUR|GBP|CHF|(?:(?:U\.?S\.?|US|American)\s+)?dollars?|euros?|pounds?)\b
    )""",
    re.I | re.X,
)
_PERIOD = _rx(
    r"""\s*(?:per|a|/|each|every)\s*(?P<period>month|year|week|day)\b
    |\s*(?P<adverb>monthly|annually|yearly|weekly)\b"""
)
_ADVERB_PERIOD = {"monthly": "month", "annually": "year", "yearly": "year", "weekly": "week"}
_MONEY_RULES = (
    _Rule(
        "liability_cap",
        _rx(
            r"""exceed\w*|limited\s+to|limit\w*|\bcap\w*|maximum|aggregate|greater\s+of
            |lesser\s+of|more\s+than|in\s+excess\s+of|up\s+to"""
        ),
        requires=_rx(r"liab\w*|damages|responsibility"),
        veto=_rx(r"deductible|arbitrat|liquidated"),  # arbitration thresholds, penalties
    ),
    _Rule(
        "fee",
        _rx(
            r"""\bfees?\b|\bprice[ds]?\b|pricing|\bcosts?\b|\bcharge[ds]?\b|subscription
            |membership|payable|\bbilled|per\s+(?:month|year|week)|monthly|annual(?:ly)?
            |\blate\b"""
        ),
        reach=40,
        # claim thresholds ("claims under $10,000"), awards, capital, liability, prizes
        veto=_rx(
            r"""amount\s+in\s+(?:controversy|dispute)|relief|amount\s+sought
            |value\s+of\s+(?:the\s+)?claim|award|threshold|share\s+capital|liab\w*|deductible
            |claims?\s+(?:for|of|under|less|more|below|above|totaling|where|is|are)
            |damages|win\b|prize|reward|incentive"""
        ),
    ),
)
_THRESHOLD_BEFORE = _rx(
    r"""(?:exceeds?|exceeding|involving|over|under|below|above|less\s+than|more\s+than
    |at\s+least)\s*$"""
)
_THRESHOLD_AFTER = _rx(r"\s*(?:USD|EUR|GBP)?\s*or\s+(?:less|more|greater|above|below)")


def _money(clause: _Clause) -> list[Parameter]:
    found = []
    for match in _MONEY.finditer(clause.text, clause.start, clause.end):
        classified = _classified(clause, match.span(), _MONEY_RULES)
        if classified is None:
            continue
        kind, span = classified
        if kind == "fee" and _is_threshold(clause, match):
            continue
        amount, currency = _money_value(match)
        value = f"{currency} {_fmt(amount)}"
        if kind == "fee" and (period := _PERIOD.match(clause.text, match.end(), clause.end)):
            every = period["period"] or _ADVERB_PERIOD[period["adverb"].lower()]
            value, span = f"{value} per {every.lower()}", (span[0], max(span[1], period.end()))
        found.append(clause.found(kind, value, span, amount, currency))
    return found


def _money_value(match: re.Match[str]) -> tuple[float, str]:
    if match["prefix"]:
        currency = _CURRENCY_PREFIX[re.sub(r"\s+", " ", match["prefix"].lower())]
        amount, scale = _number(match["amount"]), match["scale"]
    else:
        suffix = match["suffix"].lower()
        word = next((w for w in _CURRENCY_WORDS if w in suffix), None)
        currency = _CURRENCY_WORDS[word] if word else suffix.upper()
        amount, scale = _number(match["amount2"]), match["scale2"]
    if scale:
        amount *= 1_000_000 if scale.lower() == "million" else 1_000_000_000
    return amount, currency


def _is_threshold(clause: _Clause, match: re.Match[str]) -> bool:
    """ "claims of $10,000 or less", "more than €100,000": a bound on something else."""
    return bool(
        _THRESHOLD_BEFORE.search(clause.before(match.start(), 30))
        or _THRESHOLD_AFTER.match(clause.text, match.end())
    )


# --- places ----------------------------------------------------------------------------------


def _names(words: str) -> dict[str, str]:
    return {w.replace("_", " ").lower(): w.replace("_", " ") for w in words.split()}


_STATES = _names(
    """Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia
    Hawaii Idaho Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts
    Michigan Minnesota Mississippi Missouri Montana Nebraska Nevada New_Hampshire New_Jersey
    New_Mexico New_York North_Carolina North_Dakota Ohio Oklahoma Oregon Pennsylvania
    Rhode_Island South_Carolina South_Dakota Tennessee Texas Utah Vermont Virginia Washington
    West_Virginia Wisconsin Wyoming District_of_Columbia"""
)
_PROVINCES = _names(
    """Ontario Quebec British_Columbia Alberta Manitoba Saskatchewan Nova_Scotia New_Brunswick
    Newfoundland_and_Labrador Prince_Edward_Island"""
)
_COUNTRIES = _names(
    """Ireland Netherlands Luxembourg Germany France Switzerland Austria Belgium Spain Italy
    Portugal Sweden Norway Denmark Finland Poland Czech_Republic Greece Hungary Romania Bulgaria
    Croatia Slovenia Slovakia Estonia Latvia Lithuania Cyprus Malta Iceland Liechtenstein Monaco
    United_States United_Kingdom England_and_Wales England Wales Scotland Northern_Ireland Canada
    Mexico Brazil Argentina Chile Colombia Peru Australia New_Zealand Japan China Hong_Kong Macau
    Taiwan Singapore Malaysia Indonesia Thailand Philippines Vietnam India Pakistan Bangladesh
    Sri_Lanka South_Korea Israel Turkey United_Arab_Emirates Saudi_Arabia Qatar Egypt
    South_Africa Nigeria Kenya Russia Ukraine Albania Andorra Armenia Azerbaijan Belarus
    Bosnia_and_Herzegovina Moldova Montenegro North_Macedonia Serbia Kosovo San_Marino
    Vatican_City Kazakhstan Uzbekistan Mongolia Nepal Cambodia Laos Myanmar Brunei Jordan Lebanon
    Kuwait Bahrain Oman Morocco Algeria Tunisia Ghana Ethiopia Tanzania Uganda Rwanda Zimbabwe
    Zambia Botswana Namibia Mauritius Uruguay Paraguay Bolivia Ecuador Venezuela Costa_Rica
    Guatemala Honduras El_Salvador Nicaragua Dominican_Republic Jamaica Trinidad_and_Tobago
    Bahamas Barbados Puerto_Rico Cayman_Islands British_Virgin_Islands Bermuda Jersey Guernsey
    Isle_of_Man Gibraltar European_Union"""
)
_ALIASES = _COUNTRIES | _PROVINCES | {
    "usa": "United States", "u.s.a.": "United States", "u.s.a": "United States",
    "u.s.": "United States", "us": "United States", "united states of america": "United States",
    "uk": "United Kingdom", "u.k.": "United Kingdom", "great britain": "United Kingdom",
    "england": "England and Wales", "the netherlands": "Netherlands",
    "republic of ireland": "Ireland", "grand duchy of luxembourg": "Luxembourg",
    "federal republic of germany": "Germany", "kingdom of the netherlands": "Netherlands",
    "republic of korea": "South Korea", "korea": "South Korea", "brasil": "Brazil",
    "people's republic of china": "China", "prc": "China", "russian federation": "Russia",
    "republic of china": "Taiwan", "roc": "Taiwan", "türkiye": "Turkey",
    "uae": "United Arab Emirates", "state of israel": "Israel", "eu": "European Union",
}  # fmt: skip
_DEMONYMS = {
    "irish": "Ireland", "english": "England and Wales", "english and welsh": "England and Wales",
    "welsh": "England and Wales", "scottish": "Scotland", "scots": "Scotland",
    "northern irish": "Northern Ireland", "british": "United Kingdom", "dutch": "Netherlands",
    "german": "Germany", "french": "France", "swiss": "Switzerland", "austrian": "Austria",
    "belgian": "Belgium", "luxembourgish": "Luxembourg", "spanish": "Spain", "italian": "Italy",
    "portuguese": "Portugal", "swedish": "Sweden", "norwegian": "Norway", "danish": "Denmark",
    "finnish": "Finland", "polish": "Poland", "czech": "Czech Republic", "greek": "Greece",
    "canadian": "Canada", "mexican": "Mexico", "brazilian": "Brazil", "australian": "Australia",
    "japanese": "Japan", "chinese": "China", "singaporean": "Singapore", "korean": "South Korea",
    "indian": "India", "israeli": "Israel", "turkish": "Turkey", "californian": "California",
    "american": "United States", "u.s. federal": "United States", "us federal": "United States",
    "united states federal": "United States", "federal": "United States",
    "european": "European Union",
}  # fmt: skip
_US_SUFFIX = _rx(r",?\s*(?:U\.S\.A\.?|USA|U\.S\.|US|United\s+States(?:\s+of\s+America)?)$")
_STATE_PREFIX = _rx(r"^(?:the\s+)?(?:State|Commonwealth)\s+of\s+")
_FORMAL_PREFIX = _rx(
    r"""^(?:the\s+)?(?:(?:Federal|Democratic|People's|Islamic|United|Hellenic|Italian|French
    |Slovak|Czech|Portuguese)\s+)?(?:Republic|Kingdom|Grand\s+Duchy|Principality|State
    |Commonwealth|Confederation|Federation|Province|Canton)\s+of\s+(?:the\s+)?"""
)
_KNOWN_NAMES = "|".join(
    re.escape(name)
    for name in sorted([*_STATES, *_ALIASES], key=len, reverse=True)
    if len(name) > 2  # "us", "uk" would match inside words
)
# A known jurisdiction, in any letter case (all-capital text has no other cue).
_KNOWN_PLACE = re.compile(
    rf"""(?:the\s+)?(?:(?:province|state|commonwealth|republic|kingdom|canton)\s+of\s+(?:the\s+)?)?
    (?:{_KNOWN_NAMES})(?!\w)(?!\.\w)""",
    re.I | re.X,
)
_UPPER = "A-ZÀ-ÖØ-Þ"
_CAP_WORD = rf"[{_UPPER}][\w'’.-]*"
# Any capitalised name: "Santa Clara County", "Northern District of California", "Tel Aviv".
_CAP_PLACE = re.compile(
    rf"""(?:the\s+)?(?:City\s+and\s+County\s+of\s+)?
    {_CAP_WORD}(?:\s+(?:(?:of|de|upon|on)\s+(?:the\s+)?)?{_CAP_WORD}){{0,5}}""",
    re.X,
)
# In all-capital text: "SAN FRANCISCO COUNTY", or a city before a known place ("DUBLIN, IRELAND").
_UPPER_PLACE = re.compile(
    rf"""(?:[{_UPPER}]+\s+){{1,3}}(?:COUNTY|CITY)\b
    |(?:[{_UPPER}]+\s+){{0,2}}[{_UPPER}]+(?=,\s*(?:{_KNOWN_NAMES})\b)""",
    re.I | re.X,
)
# Capitalised words of defined terms and headings, never a place.
_NOT_PLACE = re.compile(
    r"""\b(?:Section|Article|Clause|Courts?|Jurisdictions?|Applicable|Designated|Countries
    |Territory|Agreement|Terms|Services?|Federal|Arbitration|Rules|Company|Member\s+State)\b
    |^(?:the\s+)?(?:City|County|State|District|Province|Country|Place)$""",
    re.I | re.X,
)
_COMMA = re.compile(r",\s*")


def _place_at(text: str, pos: int, end: int) -> tuple[int, str] | None:
    """The place name starting at ``pos``, as (its end, its words), or None.

    A known jurisdiction matches in any letter case; otherwise a run of capitalised words, or
    in all-capital text a "… COUNTY" name. The longer reading wins. A known place may follow
    a smaller one after a comma ("Dublin, Ireland", "San Mateo County, California, USA"), but
    after a country a comma starts a list ("England and Wales, Scotland or …").
    """
    known = _KNOWN_PLACE.match(text, pos, end)
    guess = (_UPPER_PLACE if _is_shouting(text, pos) else _CAP_PLACE).match(text, pos, end)
    if guess and (
        _NOT_PLACE.search(guess.group())
        or (not known and re.fullmatch(r"the\s+\S+", guess.group(), re.I))  # "the Company"
    ):
        guess = None
    if not known and not guess:
        return None
    start, stop = pos, max(m.end() for m in (known, guess) if m)
    while (comma := _COMMA.match(text, stop, end)) and not _is_country(text[start:stop]):
        tail = _KNOWN_PLACE.match(text, comma.end(), end)
        if tail is None:
            break
        start, stop = comma.end(), tail.end()
    return stop, text[pos:stop]


def _is_shouting(text: str, pos: int) -> bool:
    """Whether the text around ``pos`` is in capitals, where capitals mark no names."""
    letters = [c for c in text[max(0, pos - 100) : pos + 100] if c.isalpha()]
    return len(letters) > 10 and sum(c.isupper() for c in letters) / len(letters) > 0.8


def _is_country(segment: str) -> bool:
    name = _FORMAL_PREFIX.sub("", re.sub(r"^the\s+", "", segment.strip(), flags=re.I)).lower()
    return name in _ALIASES and name not in _PROVINCES


def canonical_place(raw: str) -> str:
    """A comparable place name: "the State of California, U.S.A." → "State of California",
    "SAN FRANCISCO COUNTY, STATE OF CALIFORNIA" → "San Francisco County, California",
    "the Republic of Ireland" → "Ireland"."""
    place = re.sub(r"^the\s+", "", " ".join(raw.replace("’", "'").split()), flags=re.I)
    place = place.strip(" ,")
    alias = _ALIASES.get(place.lower()) or _ALIASES.get(place.lower().rstrip("."))
    if alias:
        return alias
    place = place.rstrip(".")
    if place.isupper():
        place = " ".join(
            w if w in ("of", "and", "the") else w.capitalize() for w in place.lower().split()
        )
    place = _US_SUFFIX.sub("", place).strip(" ,") or place
    parts = [p.strip() for p in place.split(",") if p.strip()]
    names = [_canonical_part(p, alone=len(parts) == 1) for p in parts]
    return ", ".join(dict.fromkeys(names))


def _canonical_part(part: str, *, alone: bool) -> str:
    state = _STATES.get(_STATE_PREFIX.sub("", part).lower())
    if state:  # "State of California" alone, "California" after a county
        return f"State of {state}" if alone and state != "District of Columbia" else state
    return _ALIASES.get(part.lower()) or _ALIASES.get(_FORMAL_PREFIX.sub("", part).lower(), part)


def _adjective_place(adjective: str) -> str | None:
    """Resolve "Irish", "California", "English and Welsh", "Dublin, Ireland" to a place."""
    words = adjective.split()
    for size in range(len(words), 0, -1):  # the longest tail that names a place
        tail = " ".join(words[-size:]).strip(",").lower().removeprefix("the ")
        name = _DEMONYMS.get(tail) or _STATES.get(tail) or _ALIASES.get(tail)
        if name:
            return canonical_place(name)
    return None


_RESIDENCE = _rx(
    r"""(?:(?:the\s+)?laws?|courts?)\s+(?:of|in)\s+(?:the\s+)?
        (?:your\s+(?:country|place|state|jurisdiction)\s+of
            \s+(?:residence|domicile|habitual\s+residence)
          |(?:country|state|place|jurisdiction)(?:\s+or\s+province)?\s+(?:where|in\s+which)
            \s+you\s+(?:live|reside|are\s+domiciled|habitually\s+reside)
          |your\s+(?:home\s+)?(?:country|jurisdiction|place\s+of\s+domicile))
      |your\s+(?:country|home\s+country)['’]s\s+laws?
      |your\s+local\s+courts?|local\s+courts?\s+of\s+your\s+place\s+of\s+(?:domicile|residence)"""
)

# --- governing law ---

_GOVERN_VERB = _rx(
    r"\s*(?:(?:will|shall|exclusively|solely|also|to)\s+)*(?:govern\w*|appl(?:y|ies)|control)\b"
)
_GOVERN_LATER = _rx(
    r"""[^.]*?\b(?:will|shall)\s+(?:exclusively\s+)?(?:govern|apply)  # "…, shall govern"
    |\s*\([^)]*\)\s*govern|,[^,]*,\s*govern"""
)
_GOVERNED_BY_LAWS_OF = _rx(
    r"""(?:governed|construed|interpreted|determined)
        \s+(?:exclusively\s+|solely\s+|in\s+all\s+respects\s+)?
        (?:by|under|in\s+accordance\s+with)\s+
        (?:(?:and\s+)?(?:construed|interpreted)\s+(?:in\s+accordance\s+with|under)\s+)?
        (?:(?:this\s+agreement|these\s+terms)\s+and\s+)?
        (?:the\s+)?(?:substantive\s+|internal\s+)?laws?\s+(?:of|in\s+force\s+in)\s+"""
)
_LAWS_OF = _rx(r"\b(?:the\s+)?laws?\s+of\s+")
_AND = _rx(r"\s+and\s+(?:the\s+)?(?=(?:State|Commonwealth|Province)\s+of\b)")
_ADJECTIVE_LAW = re.compile(
    rf"""(?P<adj>(?:[{_UPPER}][\w'’.-]*\s+(?:and\s+)?){{0,2}}[{_UPPER}][\w'’.-]*)
    \s+(?:federal\s+|state\s+)?law\b""",
    re.X,
)
_ADJECTIVE_LAW_CUE = _rx(
    r"""(?:governed\s+(?:exclusively\s+)?by|construed\s+(?:in\s+accordance\s+with|under)
        |subject\s+(?:exclusively\s+)?to|using|interpreted\s+(?:in\s+accordance\s+with|under)
        |in\s+accordance\s+with)
      (?:[^.;]{0,80}\band\s+(?:applicable\s+|controlling\s+)?)?\s+(?:the\s+)?$"""
)
# "mandatory provisions of the law of …", "consumer protection law of …", "valid under X law".
_LAW_VETO = _rx(
    r"""mandatory|protections?\s+(?:afforded|granted|under)|consumer\s+protection|export
    |sanction|trademark|copyright|patent|\s+which\s+(?:are|is)\s+mandatory
    |(?<!construed\s)(?<!interpreted\s)(?<!governed\s)\bunder\s+(?:the\s+)?$"""
)


def _governing_law(clause: _Clause) -> list[Parameter]:
    mentions = [*_laws_of_place(clause), *_adjective_laws(clause), *_residence_laws(clause)]
    return [p for p in mentions if not _vetoed_law(clause, p)]


def _vetoed_law(clause: _Clause, p: Parameter) -> bool:
    return bool(_LAW_VETO.search(clause.before(p.start, 60)) or _LAW_VETO.match(clause.text, p.end))


def _laws_of_place(clause: _Clause) -> Iterator[Parameter]:
    """ "governed by the laws of X", "the laws of X, excluding …, govern"."""
    text, end = clause.text, clause.end
    for cue in _LAWS_OF.finditer(text, clause.start, end):
        strong = _GOVERNED_BY_LAWS_OF.search(text, max(clause.start, cue.start() - 90), cue.end())
        place = _place_at(text, cue.end(), end)
        if place is None:
            continue
        stop, raw = place
        if strong or _GOVERN_VERB.match(text, stop, end) or _GOVERN_LATER.match(text, stop, end):
            start = strong.start() if strong and strong.end() == cue.end() else cue.start()
            yield clause.found("governing_law", canonical_place(raw), (start, stop))
            # "the laws of the United States and the State of California"
            if (joined := _AND.match(text, stop, end)) and (
                second := _place_at(text, joined.end(), end)
            ):
                yield clause.found("governing_law", canonical_place(second[1]), (start, second[0]))


def _adjective_laws(clause: _Clause) -> Iterator[Parameter]:
    """ "governed by Dutch law", "Irish law will govern", "using California law"."""
    for match in _ADJECTIVE_LAW.finditer(clause.text, clause.start, clause.end):
        place = _adjective_place(match["adj"])
        cued = _ADJECTIVE_LAW_CUE.search(clause.before(match.start(), 60))
        if place and (cued or _GOVERN_VERB.match(clause.text, match.end(), clause.end)):
            yield clause.found("governing_law", place, match.span())


def _residence_laws(clause: _Clause) -> Iterator[Parameter]:
    """ "the laws of your country of residence govern"."""
    for match in _RESIDENCE.finditer(clause.text, clause.start, clause.end):
        if "court" in match.group().lower():
            continue
        governed = _GOVERN_VERB.match(clause.text, match.end(), clause.end)
        cued = _GOVERNED_BY_LAWS_OF.search(
            clause.text, max(clause.start, match.start() - 90), match.end()
        )
        if governed or cued:
            yield clause.found("governing_law", RESIDENCE, match.span())


# --- venue ---

_COURTS_IN = _rx(
    r"""\bcourts?\s+(?:(?:located|sitting|situated|seated|based)\s+)?
    (?:in|of|within|for|at|that\s+govern)\s+
    (?:the\s+)?(?:(?:county|district|city|canton|province)\s+of\s+)?"""
)
_FORUM_IN = _rx(
    r"""\b(?:(?:venue|forum|jurisdiction)\s+(?:(?:\w+\s+){0,3}?)(?:in|of)
    |(?:brought|litigated|resolved|filed|heard)\s+(?:(?:solely|exclusively|only)\s+)?in)
    \s+(?:the\s+)?"""
)
_PLACE_COURTS = re.compile(
    rf"""(?P<adj>(?:[{_UPPER}][\w'’.-]*,?\s+){{0,3}}[{_UPPER}][\w'’.-]*)
    \s+(?:[Ss]tate\s+|[Ff]ederal\s+)?[Cc]ourts?\b""",
    re.X,
)
_VENUE_CONTEXT = _rx(
    r"""jurisdiction|venue|forum|resolved|brought|litigat|submit|proceeding|dispute|claim
    |action|exclusive"""
)
_VENUE_VETO = _rx(r"small\s+claims")


def _venue(clause: _Clause) -> list[Parameter]:
    if not clause.has(_VENUE_CONTEXT) or clause.has(_VENUE_VETO):
        return []
    return [*_courts_in_place(clause), *_place_courts(clause), *_residence_courts(clause)]


def _courts_in_place(clause: _Clause) -> Iterator[Parameter]:
    """ "courts located in X", "exclusive jurisdiction of X", "brought solely in X"."""
    text, end = clause.text, clause.end
    cues = [
        *_COURTS_IN.finditer(text, clause.start, end),
        *_FORUM_IN.finditer(text, clause.start, end),
    ]
    for cue in cues:
        place = None if _RESIDENCE.match(text, cue.start()) else _place_at(text, cue.end(), end)
        if place:
            stop, raw = place
            yield clause.found("venue", canonical_place(raw), (cue.start(), stop))


def _place_courts(clause: _Clause) -> Iterator[Parameter]:
    """ "California courts", "English courts", "Santa Clara County courts"."""
    for match in _PLACE_COURTS.finditer(clause.text, clause.start, clause.end):
        adjective = match["adj"]
        place = _adjective_place(adjective)
        if place is None and re.search(r"\bCounty$", adjective):
            place = canonical_place(adjective)
        if place:
            yield clause.found("venue", place, match.span())


def _residence_courts(clause: _Clause) -> Iterator[Parameter]:
    for match in _RESIDENCE.finditer(clause.text, clause.start, clause.end):
        if "court" in match.group().lower():
            yield clause.found("venue", RESIDENCE, match.span())


# --- arbitration bodies ----------------------------------------------------------------------

_BODY_NAMES = {
    "american arbitration association": "AAA",
    "judicial arbitration and mediation services": "JAMS",
    "international chamber of commerce": "ICC",
    "icc international court of arbitration": "ICC",
    "london court of international arbitration": "LCIA",
    "singapore international arbitration centre": "SIAC",
    "singapore international arbitration center": "SIAC",
    "hong kong international arbitration centre": "HKIAC",
    "international centre for dispute resolution": "ICDR",
    "international center for dispute resolution": "ICDR",
    "national arbitration and mediation": "NAM",
    "china international economic and trade arbitration commission": "CIETAC",
    "stockholm chamber of commerce": "SCC",
    "netherlands arbitration institute": "NAI",
    "german arbitration institute": "DIS",
    "vienna international arbitral centre": "VIAC",
    "international institute for conflict prevention and resolution": "CPR",
}
_BODY_FULL = re.compile(
    "|".join(re.escape(n) for n in sorted(_BODY_NAMES, key=len, reverse=True)), re.I
)
# Acronyms are case-sensitive and only count in a text about arbitration.
_BODY_ACRONYM = re.compile(r"(?<![\w-])(?:AAA|JAMS|ICC|LCIA|SIAC|HKIAC|ICDR|CIETAC)(?![\w-])")


def _bodies(clause: _Clause, in_arbitration: bool) -> list[Parameter]:
    found = [
        clause.found("arbitration_body", _BODY_NAMES[m.group().lower()], m.span())
        for m in _BODY_FULL.finditer(clause.text, clause.start, clause.end)
    ]
    if in_arbitration or clause.has(_ARBITRATION):
        found += [
            clause.found("arbitration_body", m.group(), m.span())
            for m in _BODY_ACRONYM.finditer(clause.text, clause.start, clause.end)
        ]
    return found


# --- results ---------------------------------------------------------------------------------


def _without_duplicates(found: list[Parameter]) -> list[Parameter]:
    """Two readings of one statement (same kind and value, overlapping spans, as in
    "one hundred dollars ($100)") keep the longer quote."""
    kept: list[Parameter] = []
    for p in sorted(found, key=lambda p: (p.start, p.start - p.end)):
        if not any(_same_statement(k, p) for k in kept):
            kept.append(p)
    return sorted(kept, key=lambda p: (p.start, p.end, p.kind))


def _same_statement(a: Parameter, b: Parameter) -> bool:
    return (a.kind, a.value) == (b.kind, b.value) and a.start < b.end and b.start < a.end


_PAIR_CUTOFF = 60.0


def _first_of_each_value(params: list[Parameter], other_values: set[str]) -> list[Parameter]:
    """The first statement of each value that the other side does not have."""
    firsts: dict[str, Parameter] = {}
    for p in params:
        if p.value not in other_values:
            firsts.setdefault(p.value, p)
    return list(firsts.values())


def _pair(
    gone: list[Parameter], came: list[Parameter], *, alone: bool
) -> list[tuple[Parameter, Parameter]]:
    if alone and gone and came:
        return [(gone[0], came[0])]
    scored = sorted(
        (-fuzz.ratio(_masked(o.quote), _masked(n.quote)), i, j)
        for i, o in enumerate(gone)
        for j, n in enumerate(came)
    )
    used_old: set[int] = set()
    used_new: set[int] = set()
    pairs = []
    for score, i, j in scored:
        if -score >= _PAIR_CUTOFF and i not in used_old and j not in used_new:
            used_old.add(i)
            used_new.add(j)
            pairs.append((gone[i], came[j]))
    return sorted(pairs, key=lambda pair: pair[1].start)


def _masked(quote: str) -> str:
    """The quote without its numbers, so that only the surrounding words are compared."""
    return re.sub(rf"\d[\d,.]*|\b{_WORDS}", "#", quote.lower())
