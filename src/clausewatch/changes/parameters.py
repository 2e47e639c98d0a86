"""The numbers and places that matter inside clauses, extracted so they compare over time.

Regular expressions plus a small grammar, no model. Precision matters more than recall: a
value is only extracted when a *trigger* (e.g. "notify", "retain", "cancel") sits near it in
the same clause and nothing in the clause vetoes it, so section numbers, years, addresses,
phone numbers, counts and unrelated durations or amounts are never parameters.

Kinds (``KINDS``), each with its normalised ``value``:

- ``notice_period``: advance notice of changes to the terms or prices ("30 days").
- ``retention_period``: how long data is kept or how long deletion takes ("90 days").
- ``liability_cap``: an amount that caps liability ("USD 100").
- ``fee``: a price, fee or charge ("USD 9.99 per month").
- ``minimum_age``: the age required to use the service or below which data is not collected
  ("13 years").
- ``opt_out_window``: the time to opt out of something other than arbitration.
- ``cancellation_window``: the time to cancel or withdraw ("14 days").
- ``arbitration_opt_out_deadline``: the time to opt out of an arbitration agreement.
- ``refund_window``: the time to return a purchase or ask for a refund.
- ``governing_law``: the law chosen for the contract ("State of California", "Ireland").
- ``venue``: the courts chosen for disputes ("Santa Clara County, California").
- ``arbitration_body``: the institution that administers arbitration ("AAA", "JAMS").
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class Parameter:
    kind: str
    value: str  # normalised, comparable: "30 days", "USD 100", "State of California"
    quantity: float | None  # in the base unit: days for durations, years for ages, amounts
    unit: str | None  # "days", "years", "USD", "EUR", ...
    quote: str  # always text[start:end]: the words that state it
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


# --- numbers ---------------------------------------------------------------------------------

_SMALL = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    w: 10 * i
    for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUMBER_WORD = "|".join(sorted([*_SMALL, *_TENS, *_SCALES], key=len, reverse=True))
# "thirty", "twenty-four", "one hundred", "one hundred and eighty" ("zero" never starts one).
WORDS = rf"(?:(?!zero\b)(?:{_NUMBER_WORD})(?:[\s-]+(?:and[\s-]+)?(?:{_NUMBER_WORD}))*)\b"


def words_to_number(words: str) -> int:
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
    return float(text) if re.fullmatch(r"[\d.]+", text) else float(words_to_number(text))


def _fmt(quantity: float) -> str:
    return f"{quantity:,.2f}".replace(",", "") if quantity % 1 else str(int(quantity))


# --- clauses, triggers and the nearest-trigger rule ------------------------------------------


@dataclass(frozen=True)
class _Clause:
    text: str  # the whole input: offsets stay absolute
    start: int
    end: int

    @property
    def body(self) -> str:
        return self.text[self.start : self.end]

    def has(self, pattern: re.Pattern[str]) -> bool:
        return pattern.search(self.text, self.start, self.end) is not None


def _clauses(text: str) -> Iterator[_Clause]:
    """Sentences, cut again at semicolons so that list items "(i) …; (ii) …" stand alone."""
    for start, end in sentence_spans(text):
        for part in re.finditer(r"[^;]+", text[start:end]):
            yield _Clause(text, start + part.start(), start + part.end())


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I | re.X)


@dataclass(frozen=True)
class _Rule:
    kind: str
    trigger: re.Pattern[str]  # the nearest trigger to a value decides its kind
    requires: re.Pattern[str] | None = None  # must also be somewhere in the clause
    veto: re.Pattern[str] | None = None  # must be nowhere in the clause
    reach: int = 160  # the most characters between trigger and value


# A value nearest to one of these words is about something else (a reply time, a delivery).
_BLOCK = ""


def _nearest(
    clause: _Clause, start: int, end: int, rules: Sequence[_Rule]
) -> tuple[_Rule, int, int] | None:
    """The rule whose trigger is closest to ``text[start:end]``; ties go to the earlier rule."""
    best: tuple[int, int, _Rule, int, int] | None = None
    for order, rule in enumerate(rules):
        if rule.requires and not clause.has(rule.requires):
            continue
        if rule.veto and clause.has(rule.veto):
            continue
        for match in rule.trigger.finditer(clause.text, clause.start, clause.end):
            if match.start() < end and match.end() > start:
                continue  # the trigger is the value itself
            # A trigger after its value ("7 days and permanently deletes") counts double.
            gap = start - match.end() if match.end() <= start else 2 * (match.start() - end)
            if gap <= rule.reach and (best is None or (gap, order) < best[:2]):
                best = (gap, order, rule, match.start(), match.end())
    if best is None or best[2].kind == _BLOCK:
        return None
    return best[2], best[3], best[4]


def _parameter(
    clause: _Clause,
    kind: str,
    value: str,
    quantity: float | None,
    unit: str | None,
    span: tuple[int, int],
) -> Parameter:
    start, end = span
    return Parameter(kind, value, quantity, unit, clause.text[start:end], start, end)


# --- durations -------------------------------------------------------------------------------

_DURATION = re.compile(
    rf"""(?<![\w$€£.,/-])
    (?:(?P<words>{WORDS})\s*\(\s*(?P<paren>\d{{1,4}})\s*\)
      |(?P<digits>\d{{1,4}}(?:\.\d+)?)
      |(?P<word>{WORDS}))
    [\s-]*(?:\(\s*\d{{1,4}}\s*\)\s*)?
    (?P<qualifier>calendar|business|working)?[\s-]*
    (?P<unit>hour|day|week|month|year)s?\b(?:['’](?!\w))?""",
    re.I | re.X,
)
_DAYS_PER = {"hour": 1 / 24, "day": 1, "week": 7, "month": 30, "year": 365}
_AGE_AFTER = _rx(r"\s*(?:old\b|of\s+age\b|or\s+(?:older|over)\b|and\s+(?:older|over)\b)")


def _duration_value(match: re.Match[str]) -> tuple[str, float, str]:
    amount = _number(match["paren"] or match["digits"] or match["words"] or match["word"])
    unit = match["unit"].lower()
    qualifier = (match["qualifier"] or "").lower()
    name = f"{qualifier} {unit}".strip()
    value = f"{_fmt(amount)} {name}{'' if amount == 1 else 's'}"
    if qualifier in ("business", "working"):
        return value, amount, f"{qualifier} days"  # not convertible to calendar days
    return value, round(amount * _DAYS_PER[unit], 4), "days"


_ARBITRATION = _rx(r"arbitra")
_OPT_OUT = _rx(
    r"""opt(?:s|ing|ed)?[\s-]?out|decline\s+(?:this|the)\s+(?:agreement\s+to\s+arbitrate|arbitration)
    |reject\w*\b[^.;]{0,40}arbitrat"""
)
_DURATION_RULES = (
    _Rule(
        "opt_out_window",
        _OPT_OUT,
        veto=_rx(r"\bprocess|respond|honou?r|cookie|lifespan|requests?\b|every|frequen"),
    ),
    _Rule(
        "cancellation_window",
        _rx(
            r"""cancel(?:s|led|ling|lation|ed|ing)?\b|withdraw\b|withdrawal\s+(?:right|period)
            |right\s+(?:of|to)\s+withdraw\w*|cooling[\s-]off|rescind|rescission|change\s+your\s+mind"""
        ),
        veto=_rx(
            r"""we\s+(?:will|shall|must)\s+(?:\w+\s+){0,3}(?:refund|reimburse)|reimburs
            |(?:been|completed|expired)\s+or\s+cancel|has\s+been\s+cancel|\bfunds\b"""
        ),
    ),
    _Rule(
        "refund_window",
        _rx(r"refund\w*|money[\s-]back|returned|\breturns?\b"),
        requires=_rx(r"refund|purchas|goods|products?\b|items?\b|orders?\b|receipt"),
        veto=_rx(
            r"""we\s+(?:will|shall|must)\s+(?:\w+\s+){0,3}(?:refund|reimburse)|reimburs
            |reject\s+(?:it|the\s+refund)|returned\s+to\s+(?:your|the)\s+account
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
        requires=_rx(r"chang|modif|amend|updat|revis|new\s+(?:version|terms)"),
        veto=_rx(
            r"""disput|arbitrat|terminat|suspen|clos(?:e|ing)\s+(?:\w+\s+){0,2}account
            |opt\w*\s+out|\breject|your\s+(?:\w+\s+){0,3}information|contact|password|settings"""
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
            r"""resolv\w*|respond\w*|response|repl(?:y|ies)|arbitrator|deliver(?:y|ed)
            |redeem\w*|credited|claim\s+the\s+money|logged\s+(?:in|out)|bring\s+(?:a\s+)?claim"""
        ),
    ),
)


def _durations(
    clause: _Clause, taken: list[tuple[int, int]], in_arbitration: bool
) -> list[Parameter]:
    found = []
    for match in _DURATION.finditer(clause.text, clause.start, clause.end):
        if _AGE_AFTER.match(clause.text, match.end()) or _overlaps(match.span(), taken):
            continue
        chosen = _nearest(clause, match.start(), match.end(), _DURATION_RULES)
        if chosen is None:
            continue
        rule, t_start, t_end = chosen
        kind = rule.kind
        if kind == "opt_out_window" and (clause.has(_ARBITRATION) or in_arbitration):
            kind = "arbitration_opt_out_deadline"
        value, quantity, unit = _duration_value(match)
        span = (min(t_start, match.start()), max(t_end, match.end()))
        found.append(_parameter(clause, kind, value, quantity, unit, span))
    return found


def _overlaps(span: tuple[int, int], taken: Sequence[tuple[int, int]]) -> bool:
    return any(span[0] < b and a < span[1] for a, b in taken)


# --- minimum age -----------------------------------------------------------------------------


def _age_number(n: int) -> str:
    return rf"(?P<age{n}>1\d|2[01]|{WORDS})"


_AGE = re.compile(
    rf"""(?:
        \b(?:at\s+least|over|above|under|below|younger\s+than|older\s+than|aged)\s+
            (?:the\s+age\s+of\s+)?{_age_number(1)}
            (?:\s*(?:years?|yrs?)(?:\s+(?:old|of\s+age))?)?
            (?=\s*(?:[,.;)(\]]|$|\+|or\b|and\b|in\b|who\b|to\b|without\b|unless\b|may\b|must\b
                  |are\b|is\b|should\b|can(?:not)?\b|please\b|if\b|the\b|years?\b))
      | \bage\s+of\s+{_age_number(2)}\b(?!\s*(?:%|percent|days?|months?|hours?))
      | \b(?:be|are|is)\s+{_age_number(5)}(?:\s*(?:years?|yrs?)(?:\s+(?:old|of\s+age))?)?
        \s+(?:or|and)\s+(?:older|over|above)\b
      | \bminimum\s+age\W{{0,3}}\s+(?:is|of|means|will\s+be)\s+{_age_number(3)}\b
      | (?<![\w$.,-]){_age_number(4)}\s*(?:years?|yrs?)\s*(?:old|of\s+age)
        (?:\s+or\s+(?:older|over|above))?
    )""",
    re.I | re.X,
)
_AGE_CONTEXT = _rx(
    r"""\byou(?:'re|’re)?\b|\buse\b|\busing\b|access|account|regist|sign(?:\s|-)?up|\bjoin
    |eligib|minimum\s+age|parental|consent|collect|knowingly|directed|intended|meant
    |permitted|allowed|\bcreate|services?\b|platform|\bapp\b|\bsite\b|products?\b"""
)
_AGE_VETO = _rx(
    r"""\bads?\b|advertis|target|visibility|restrict|adults?\b|alcohol|tobacco|gambling
    |firearm|cannabis|deliver|signed\s+for|U\.?S\.?C\b|court\s+order|between\s+(?:the\s+)?ages?
    |between\s+\d|responsible\s+for|minutes|age\s+of\s+majority|images|photo|depict|material
    |availability|certain\s+(?:content|features)"""
)


def _ages(clause: _Clause) -> list[Parameter]:
    if not clause.has(_AGE_CONTEXT) or clause.has(_AGE_VETO):
        return []
    found = []
    for match in _AGE.finditer(clause.text, clause.start, clause.end):
        age = _number(next(g for g in match.group("age1", "age2", "age3", "age4", "age5") if g))
        if not 10 <= age <= 25:
            continue  # not a plausible minimum age
        value = f"{_fmt(age)} years"
        found.append(_parameter(clause, "minimum_age", value, age, "years", match.span()))
    return found


# --- money -----------------------------------------------------------------------------------

_CURRENCY_PREFIX = {
    "us$": "USD", "u.s.$": "USD", "u.s. $": "USD", "us $": "USD", "usd": "USD", "$": "USD",
    "a$": "AUD", "au$": "AUD", "aud": "AUD", "c$": "CAD", "ca$": "CAD", "cad": "CAD",
    "€": "EUR", "eur": "EUR", "£": "GBP", "gbp": "GBP", "chf": "CHF", "₹": "INR", "inr": "INR",
    "¥": "JPY", "jpy": "JPY", "sgd": "SGD", "s$": "SGD",
}  # fmt: skip
_CURRENCY_WORDS = {"dollar": "USD", "euro": "EUR", "pound": "GBP"}
_AMOUNT = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?"
_PREFIX = "|".join(re.escape(p) for p in sorted(_CURRENCY_PREFIX, key=len, reverse=True))
_MONEY = re.compile(
    rf"""(?:
        (?<![\w$])(?P<prefix>{_PREFIX})\s?(?P<amount>{_AMOUNT})(?:\s?(?P<scale>million|billion)\b)?
        (?:\s?(?:USD|EUR|GBP)\b)?
      | (?<![\w.,])(?P<amount2>{_AMOUNT}|{WORDS})\s?(?P<scale2>million|billion)?\s?
        (?P<suffix>USD|EUR|GBP|CHF|(?:(?:U\.?S\.?|US|American)\s+)?dollars?|euros?|pounds?)\b
    )""",
    re.I | re.X,
)
_PERIOD = _rx(
    r"\s*(?:per|a|/|each|every)\s*(?P<period>month|year|week|day)\b|\s*(?P<adverb>monthly|annually|yearly|weekly)\b"
)


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


_LIABILITY = _rx(r"liab\w*|damages|responsibility")
_MONEY_RULES = (
    _Rule(
        "liability_cap",
        _rx(
            r"""exceed\w*|limited\s+to|limit\w*|\bcap\w*|maximum|aggregate|greater\s+of|lesser\s+of
            |more\s+than|in\s+excess\s+of|up\s+to"""
        ),
        requires=_LIABILITY,
        veto=_rx(r"deductible|arbitrat|liquidated"),
    ),
    _Rule(
        "fee",
        _rx(
            r"""\bfees?\b|\bprice[ds]?\b|pricing|\bcosts?\b|\bcharge[ds]?\b|subscription|membership
            |payable|\bbilled|per\s+(?:month|year|week)|monthly|annual(?:ly)?|\blate\b"""
        ),
        reach=40,
        veto=_rx(
            r"""amount\s+in\s+(?:controversy|dispute)|relief|amount\s+sought|value\s+of\s+(?:the\s+)?claim
            |claims?\s+(?:for|of|under|less|more|below|above|totaling|where|is|are)|award|threshold
            |share\s+capital|liab\w*|deductible|damages|win\b|prize|reward|incentive"""
        ),
    ),
)


_THRESHOLD_BEFORE = _rx(
    r"(?:exceeds?|exceeding|involving|over|under|below|above|less\s+than|more\s+than|at\s+least)\s*$"
)
_THRESHOLD_AFTER = _rx(r"\s*(?:USD|EUR|GBP)?\s*or\s+(?:less|more|greater|above|below)")


def _is_threshold(clause: _Clause, match: re.Match[str]) -> bool:
    """ "claims of $10,000 or less", "more than €100,000": a bound on something else."""
    before = clause.text[max(clause.start, match.start() - 30) : match.start()]
    return bool(
        _THRESHOLD_BEFORE.search(before) or _THRESHOLD_AFTER.match(clause.text, match.end())
    )


def _money(clause: _Clause) -> list[Parameter]:
    found = []
    for match in _MONEY.finditer(clause.text, clause.start, clause.end):
        chosen = _nearest(clause, match.start(), match.end(), _MONEY_RULES)
        if chosen is None:
            continue
        rule, t_start, t_end = chosen
        if rule.kind == "fee" and _is_threshold(clause, match):
            continue
        amount, currency = _money_value(match)
        value, end = f"{currency} {_fmt(amount)}", match.end()
        if rule.kind == "fee" and (period := _PERIOD.match(clause.text, end, clause.end)):
            unit = (
                period["period"]
                or {"monthly": "month", "annually": "year", "yearly": "year", "weekly": "week"}[
                    period["adverb"].lower()
                ]
            )
            value, end = f"{value} per {unit}", period.end()
        span = (min(t_start, match.start()), max(t_end, end))
        found.append(_parameter(clause, rule.kind, value, amount, currency, span))
    return found


# --- places ----------------------------------------------------------------------------------

_US_STATES = """Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida
Georgia Hawaii Idaho Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts
Michigan Minnesota Mississippi Missouri Montana Nebraska Nevada New_Hampshire New_Jersey New_Mexico
New_York North_Carolina North_Dakota Ohio Oklahoma Oregon Pennsylvania Rhode_Island South_Carolina
South_Dakota Tennessee Texas Utah Vermont Virginia Washington West_Virginia Wisconsin Wyoming
District_of_Columbia"""
_COUNTRIES = """Ireland Netherlands Luxembourg Germany France Switzerland Austria Belgium Spain Italy
Portugal Sweden Norway Denmark Finland Poland Czech_Republic Greece Hungary Romania Bulgaria Croatia
Slovenia Slovakia Estonia Latvia Lithuania Cyprus Malta Iceland Liechtenstein Monaco United_States
United_Kingdom England_and_Wales England Wales Scotland Northern_Ireland Canada Mexico Brazil
Argentina Chile Colombia Peru Australia New_Zealand Japan China Hong_Kong Macau Taiwan Singapore
Malaysia Indonesia Thailand Philippines Vietnam India Pakistan Bangladesh Sri_Lanka South_Korea Israel
Turkey United_Arab_Emirates Saudi_Arabia Qatar Egypt South_Africa Nigeria Kenya Russia Ukraine
Albania Andorra Armenia Azerbaijan Belarus Bosnia_and_Herzegovina Moldova
Montenegro North_Macedonia Serbia Kosovo San_Marino Vatican_City Kazakhstan Uzbekistan Mongolia
Nepal Cambodia Laos Myanmar Brunei Jordan Lebanon Kuwait Bahrain Oman Morocco Algeria Tunisia
Ghana Ethiopia Tanzania Uganda Rwanda Zimbabwe Zambia Botswana Namibia Mauritius Uruguay Paraguay
Bolivia Ecuador Venezuela Costa_Rica Guatemala Honduras El_Salvador Nicaragua Dominican_Republic
Jamaica Trinidad_and_Tobago Bahamas Barbados Puerto_Rico
Cayman_Islands British_Virgin_Islands Bermuda Jersey Guernsey Isle_of_Man Gibraltar European_Union
"""
_PROVINCES = """Ontario Quebec British_Columbia Alberta Manitoba Saskatchewan Nova_Scotia New_Brunswick
Newfoundland_and_Labrador Prince_Edward_Island"""
_STATES = {s.replace("_", " ").lower(): s.replace("_", " ") for s in _US_STATES.split()}
_REGIONS = {s.replace("_", " ").lower() for s in _PROVINCES.split()}
_ALIASES = {s.replace("_", " ").lower(): s.replace("_", " ") for s in (*_COUNTRIES.split(), *_PROVINCES.split())} | {
    "usa": "United States", "u.s.a.": "United States", "u.s.a": "United States",
    "u.s.": "United States", "us": "United States", "united states of america": "United States",
    "uk": "United Kingdom", "u.k.": "United Kingdom", "great britain": "United Kingdom",
    "england": "England and Wales", "the netherlands": "Netherlands",
    "republic of ireland": "Ireland", "grand duchy of luxembourg": "Luxembourg",
    "federal republic of germany": "Germany", "kingdom of the netherlands": "Netherlands",
    "republic of korea": "South Korea", "korea": "South Korea", "brasil": "Brazil",
    "people's republic of china": "China", "prc": "China", "russian federation": "Russia",
    "republic of china": "Taiwan", "roc": "Taiwan", "türkiye": "Turkey", "uae": "United Arab Emirates", "state of israel": "Israel",
    "eu": "European Union",
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
    "united states federal": "United States", "federal": "United States", "european": "European Union",
}  # fmt: skip
_US_SUFFIX = _rx(r",?\s*(?:U\.S\.A\.?|USA|U\.S\.|US|United\s+States(?:\s+of\s+America)?)$")
_STATE_PREFIX = _rx(r"^(?:the\s+)?(?:State|Commonwealth)\s+of\s+")
_FORMAL_PREFIX = _rx(
    r"""^(?:the\s+)?(?:(?:Federal|Democratic|People's|Islamic|United|Hellenic|Italian|French|Slovak
    |Czech|Portuguese)\s+)?(?:Republic|Kingdom|Grand\s+Duchy|Principality|State|Commonwealth
    |Confederation|Federation|Province|Canton)\s+of\s+(?:the\s+)?"""
)

# A known jurisdiction, matched case-insensitively (all-capital text has no other cue).
_KNOWN = sorted(
    [
        *_STATES,
        *_ALIASES,
        *(f"state of {s}" for s in _STATES),
        *(f"commonwealth of {s}" for s in _STATES),
    ],
    key=len,
    reverse=True,
)
_KNOWN_NAMES = "|".join(re.escape(k) for k in _KNOWN if len(k) > 2)
_KNOWN_PLACE = re.compile(
    r"(?:the\s+)?(?:(?:province|state|commonwealth|republic|kingdom|canton)\s+of\s+(?:the\s+)?)?(?:"
    + "|".join(re.escape(k) for k in _KNOWN if len(k) > 2)
    + r")(?!\w)(?!\.\w)",
    re.I,
)
_UPPER = "A-ZÀ-ÖØ-Þ"
_CAP_WORD = rf"[{_UPPER}][\w'’.-]*"
# Any capitalised name ("Santa Clara County", "Northern District of California", "Tel Aviv").
_CAP_PLACE = re.compile(
    rf"""(?:the\s+)?(?:City\s+and\s+County\s+of\s+)?
    {_CAP_WORD}(?:\s+(?:(?:of|de|upon|on)\s+(?:the\s+)?)?{_CAP_WORD}){{0,5}}""",
    re.X,
)
# Capitalised words that are defined terms or headings, never the name of a place.
_NOT_PLACE = re.compile(
    r"\b(?:Section|Article|Clause|Courts?|Jurisdictions?|Applicable|Designated|Countries|Territory"
    r"|Agreement|Terms|Services?|Federal|Arbitration|Rules|Company|Member\s+State)\b"
    r"|^(?:the\s+)?(?:City|County|State|District|Province|Country|Place)$",
    re.I,
)
# In all-capital text: "SAN FRANCISCO COUNTY", or a city before a known place ("DUBLIN, IRELAND").
_UPPER_COUNTY = re.compile(
    rf"(?:[{_UPPER}]+\s+){{1,3}}(?:COUNTY|CITY)\b|(?:[{_UPPER}]+\s+){{0,2}}[{_UPPER}]+(?=,\s*(?:{_KNOWN_NAMES})\b)",
    re.I,
)


def _place_at(text: str, pos: int, end: int) -> tuple[int, str] | None:
    """Parse a place name starting at ``pos``; returns its end and its words.

    A known jurisdiction matches in any letter case; otherwise a run of capitalised words
    ("Santa Clara County", "Tel Aviv"), or in all-capital text a "… COUNTY" name. The longer
    reading wins, and ", California, USA"-style known tails are kept.
    """
    shouting = _is_shouting(text[max(0, pos - 100) : pos + 100])
    guess = (_UPPER_COUNTY if shouting else _CAP_PLACE).match(text, pos, end)
    if guess and _NOT_PLACE.search(guess.group()):
        guess = None
    known = _KNOWN_PLACE.match(text, pos, end)
    if guess and not known and re.fullmatch(r"the\s+\S+", guess.group(), re.I):
        guess = None  # "the Netherlands" is known; "the Company" is no place
    found = [m for m in (known, guess) if m]
    if not found:
        return None
    start, stop = pos, max(m.end() for m in found)
    # "Dublin, Ireland", "San Mateo County, California, USA": a known place may follow a
    # smaller one; after a country a comma starts a list ("England and Wales, Scotland").
    while (more := _COMMA.match(text, stop, end)) and not _is_country(text[start:stop]):
        tail = _KNOWN_PLACE.match(text, more.end(), end)
        if tail is None:
            break
        start, stop = more.end(), tail.end()
    return stop, text[pos:stop]


_COMMA = re.compile(r",\s*")


def _is_country(segment: str) -> bool:
    name = _FORMAL_PREFIX.sub("", re.sub(r"^the\s+", "", segment.strip(), flags=re.I)).lower()
    return name in _ALIASES and name not in _REGIONS


def _is_shouting(text: str) -> bool:
    letters = [c for c in text[:200] if c.isalpha()]
    return len(letters) > 10 and sum(c.isupper() for c in letters) / len(letters) > 0.8


def canonical_place(raw: str) -> str:
    """A comparable name: "the State of California, USA" → "State of California"."""
    place = re.sub(r"^the\s+", "", " ".join(raw.replace("’", "'").split()).strip(" ,"), flags=re.I)
    if place.lower() in _ALIASES or place.lower().rstrip(".") in _ALIASES:
        return _ALIASES.get(place.lower()) or _ALIASES[place.lower().rstrip(".")]
    place = place.rstrip(".")
    if _is_shouting(place) or place.isupper():
        place = " ".join(
            w if w.lower() in ("of", "and", "the") else w.capitalize()
            for w in place.lower().split()
        )
        place = re.sub(r"\b(Usa|U\.s\.a?\.?)\b", "USA", place)
    place = re.sub(r"^the\s+", "", place, flags=re.I)
    if place.lower() not in _ALIASES:
        place = _US_SUFFIX.sub("", place).strip(" ,") or place
    parts = [p.strip() for p in place.split(",") if p.strip()]
    parts = [_canonical_part(p, alone=len(parts) == 1) for p in parts]
    return ", ".join(dict.fromkeys(parts))  # "State of California, California" reads once


def _canonical_part(part: str, *, alone: bool) -> str:
    lowered = _STATE_PREFIX.sub("", part).lower()
    if lowered in _STATES:
        name = _STATES[lowered]
        return f"State of {name}" if alone and name != "District of Columbia" else name
    if part.lower() in _ALIASES:
        return _ALIASES[part.lower()]
    bare = _FORMAL_PREFIX.sub("", part).lower()  # "Republic of Lithuania" → "Lithuania"
    return _ALIASES.get(bare, part)


def _demonym_place(adjective: str) -> str | None:
    words = " ".join(adjective.split()).lower().removeprefix("the ")
    if words in _DEMONYMS:
        resolved = _DEMONYMS[words]
    elif words in _STATES or words in _ALIASES:
        resolved = _STATES.get(words) or _ALIASES[words]
    else:
        return None
    return canonical_place(resolved)


_RESIDENCE = _rx(
    r"""(?:(?:the\s+)?laws?|courts?)\s+(?:of|in)\s+(?:the\s+)?
        (?:your\s+(?:country|place|state|jurisdiction)\s+of\s+(?:residence|domicile|habitual\s+residence)
          |(?:country|state|place|jurisdiction)(?:\s+or\s+province)?\s+(?:where|in\s+which)\s+you\s+(?:live|reside|are\s+domiciled|habitually\s+reside)
          |your\s+(?:home\s+)?(?:country|jurisdiction|place\s+of\s+domicile))
      |your\s+(?:country|home\s+country)['’]s\s+laws?
      |your\s+local\s+courts?|local\s+courts?\s+of\s+your\s+place\s+of\s+(?:domicile|residence)"""
)
_RESIDENCE_VALUE = "your place of residence"

# --- governing law ---

_GOVERN_VERB = _rx(
    r"\s*(?:(?:will|shall|exclusively|solely|also|to)\s+)*(?:govern\w*|appl(?:y|ies)|control)\b"
)
_GOVERNED_BY_LAWS_OF = _rx(
    r"""(?:governed|construed|interpreted|determined)\s+(?:exclusively\s+|solely\s+|in\s+all\s+respects\s+)?
        (?:by|under|in\s+accordance\s+with)\s+
        (?:(?:and\s+)?(?:construed|interpreted)\s+(?:in\s+accordance\s+with|under)\s+)?
        (?:(?:this\s+agreement|these\s+terms)\s+and\s+)?
        (?:the\s+)?(?:substantive\s+|internal\s+)?laws?\s+(?:of|in\s+force\s+in)\s+"""
)
_LAWS_OF = _rx(r"\b(?:the\s+)?laws?\s+of\s+")
_ADJECTIVE_LAW = re.compile(
    rf"(?P<adj>(?:[{_UPPER}][\w'’.-]*\s+(?:and\s+)?){{0,2}}[{_UPPER}][\w'’.-]*)\s+(?:federal\s+|state\s+)?law\b",
)
_ADJECTIVE_LAW_CUE = _rx(
    r"""(?:governed\s+(?:exclusively\s+)?by|construed\s+(?:in\s+accordance\s+with|under)
        |subject\s+(?:exclusively\s+)?to|using|interpreted\s+(?:in\s+accordance\s+with|under)
        |in\s+accordance\s+with)
      (?:[^.;]{0,80}\band\s+(?:applicable\s+|controlling\s+)?)?\s+(?:the\s+)?$"""
)
_LAW_VETO = _rx(
    r"""mandatory|protections?\s+(?:afforded|granted|under)|consumer\s+protection|export|sanction
    |trademark|copyright|patent|\s+which\s+(?:are|is)\s+mandatory
    |(?<!construed\s)(?<!interpreted\s)(?<!governed\s)\bunder\s+(?:the\s+)?$"""
)


def _governing_law(clause: _Clause) -> list[Parameter]:
    found = [p for p in _law_mentions(clause) if not _vetoed_law(clause, p)]
    return found


def _vetoed_law(clause: _Clause, p: Parameter) -> bool:
    """ "mandatory provisions of the law of …", "consumer protection law of …": not a choice."""
    before = clause.text[max(clause.start, p.start - 60) : p.start]
    return _LAW_VETO.search(before) is not None or _LAW_VETO.match(clause.text, p.end) is not None


def _law_mentions(clause: _Clause) -> list[Parameter]:
    found = []
    text, end = clause.text, clause.end
    for cue in _LAWS_OF.finditer(text, clause.start, end):
        strong = _GOVERNED_BY_LAWS_OF.search(text, max(clause.start, cue.start() - 90), cue.end())
        place = _place_at(text, cue.end(), end)
        if place is None:
            continue
        stop, raw = place
        if (
            not strong
            and not _GOVERN_VERB.match(text, stop, end)
            and not _govern_follows(text, stop, end)
        ):
            continue
        start = strong.start() if strong and strong.end() == cue.end() else cue.start()
        found.append(
            _parameter(clause, "governing_law", canonical_place(raw), None, None, (start, stop))
        )
    for match in _ADJECTIVE_LAW.finditer(text, clause.start, end):
        place = _adjective_place(match["adj"])
        if place is None:
            continue
        before = text[max(clause.start, match.start() - 60) : match.start()]
        if not (_ADJECTIVE_LAW_CUE.search(before) or _GOVERN_VERB.match(text, match.end(), end)):
            continue
        found.append(_parameter(clause, "governing_law", place, None, None, match.span()))
    for match in _RESIDENCE.finditer(text, clause.start, end):
        if match.group().lower().lstrip().startswith(("law", "the law", "your")) and (
            _GOVERN_VERB.match(text, match.end(), end)
            or _GOVERNED_BY_LAWS_OF.search(text, max(clause.start, match.start() - 90), match.end())
        ):
            found.append(
                _parameter(clause, "governing_law", _RESIDENCE_VALUE, None, None, match.span())
            )
    return found


def _govern_follows(text: str, stop: int, end: int) -> bool:
    """ "the laws of Ireland, excluding its conflict of laws rules, shall govern …"."""
    window = text[stop : min(end, stop + 120)]
    return (
        re.match(
            r"[^.]*?\b(?:will|shall)\s+(?:exclusively\s+)?(?:govern|apply)|\s*\([^)]*\)\s*govern|,[^,]*,\s*govern",
            window,
            re.I,
        )
        is not None
    )


def _adjective_place(adjective: str) -> str | None:
    """Resolve "Irish", "California", "English and Welsh", "the Dutch" to a place."""
    words = adjective.split()
    for size in range(len(words), 0, -1):  # "Dublin, Ireland" → longest resolvable tail
        place = _demonym_place(" ".join(words[-size:]).strip(","))
        if place:
            return place
    return None


# --- venue ---

_COURTS_IN = _rx(
    r"""\bcourts?\s+(?:(?:located|sitting|situated|seated|based)\s+)?(?:in|of|within|for|at|that\s+govern)\s+
        (?:the\s+)?(?:(?:county|district|city|canton|province)\s+of\s+)?"""
)
_FORUM_IN = _rx(
    r"""\b(?:(?:venue|forum|jurisdiction)\s+(?:(?:\w+\s+){0,3}?)(?:in|of)
    |(?:brought|litigated|resolved|filed|heard)\s+(?:(?:solely|exclusively|only)\s+)?in)\s+(?:the\s+)?"""
)
_PLACE_COURTS = re.compile(
    rf"(?P<adj>(?:[{_UPPER}][\w'’.-]*,?\s+){{0,3}}[{_UPPER}][\w'’.-]*)\s+(?:[Ss]tate\s+|[Ff]ederal\s+)?[Cc]ourts?\b"
)
_VENUE_CONTEXT = _rx(
    r"jurisdiction|venue|forum|resolved|brought|litigat|submit|proceeding|dispute|claim|action|exclusive"
)
_VENUE_VETO = _rx(r"small\s+claims")


def _venue(clause: _Clause) -> list[Parameter]:
    if not clause.has(_VENUE_CONTEXT) or clause.has(_VENUE_VETO):
        return []
    found = []
    text, end = clause.text, clause.end
    for cue in (
        *_COURTS_IN.finditer(text, clause.start, end),
        *_FORUM_IN.finditer(text, clause.start, end),
    ):
        if _RESIDENCE.match(text, cue.start()):
            continue
        place = _place_at(text, cue.end(), end)
        if place:
            found.append(
                _parameter(
                    clause, "venue", canonical_place(place[1]), None, None, (cue.start(), place[0])
                )
            )
    for match in _PLACE_COURTS.finditer(text, clause.start, end):
        adjective = match["adj"]
        place = _adjective_place(adjective)
        if place is None and re.search(r"\bCounty$", adjective):
            place = canonical_place(adjective)
        if place:
            found.append(_parameter(clause, "venue", place, None, None, match.span()))
    for match in _RESIDENCE.finditer(text, clause.start, end):
        if "court" in match.group().lower():
            found.append(_parameter(clause, "venue", _RESIDENCE_VALUE, None, None, match.span()))
    return found


# --- arbitration bodies ----------------------------------------------------------------------

_BODY_NAMES = {
    "American Arbitration Association": "AAA",
    "Judicial Arbitration and Mediation Services": "JAMS",
    "International Chamber of Commerce": "ICC",
    "ICC International Court of Arbitration": "ICC",
    "London Court of International Arbitration": "LCIA",
    "Singapore International Arbitration Centre": "SIAC",
    "Singapore International Arbitration Center": "SIAC",
    "Hong Kong International Arbitration Centre": "HKIAC",
    "International Centre for Dispute Resolution": "ICDR",
    "International Center for Dispute Resolution": "ICDR",
    "National Arbitration and Mediation": "NAM",
    "China International Economic and Trade Arbitration Commission": "CIETAC",
    "Stockholm Chamber of Commerce": "SCC",
    "Netherlands Arbitration Institute": "NAI",
    "German Arbitration Institute": "DIS",
    "Vienna International Arbitral Centre": "VIAC",
    "International Institute for Conflict Prevention and Resolution": "CPR",
}
_BODY_FULL = re.compile(
    "|".join(re.escape(n) for n in sorted(_BODY_NAMES, key=len, reverse=True)), re.I
)
# Acronyms are case-sensitive and only count in a text about arbitration.
_BODY_ACRONYM = re.compile(r"(?<![\w-])(AAA|JAMS|ICC|LCIA|SIAC|HKIAC|ICDR|CIETAC)(?![\w-])")


def _bodies(clause: _Clause, in_arbitration: bool) -> list[Parameter]:
    found = []
    names = {n.lower(): a for n, a in _BODY_NAMES.items()}
    for match in _BODY_FULL.finditer(clause.text, clause.start, clause.end):
        value = names[match.group().lower()]
        found.append(_parameter(clause, "arbitration_body", value, None, None, match.span()))
    if in_arbitration or clause.has(_ARBITRATION):
        for match in _BODY_ACRONYM.finditer(clause.text, clause.start, clause.end):
            found.append(
                _parameter(clause, "arbitration_body", match.group(), None, None, match.span())
            )
    return found


# --- extraction and comparison ---------------------------------------------------------------


def extract_parameters(text: str) -> list[Parameter]:
    """Every parameter stated in ``text`` (a clause or a whole document), in text order."""
    in_arbitration = _ARBITRATION.search(text) is not None
    found: list[Parameter] = []
    for clause in _clauses(text):
        ages = _ages(clause)
        taken = [(p.start, p.end) for p in ages]
        found += ages
        found += _durations(clause, taken, in_arbitration)
        found += _money(clause)
        found += _governing_law(clause)
        found += _venue(clause)
        found += _bodies(clause, in_arbitration)
    return _without_duplicates(found)


def _without_duplicates(found: list[Parameter]) -> list[Parameter]:
    """One parameter per statement: two readings of one statement (same kind and value,
    overlapping spans, e.g. "one hundred dollars ($100)") keep the longest quote."""
    kept: list[Parameter] = []
    for p in sorted(found, key=lambda p: (p.start, -(p.end - p.start))):
        if not any(_same_statement(k, p) for k in kept):
            kept.append(p)
    return sorted(kept, key=lambda p: (p.start, p.end, p.kind))


def _same_statement(a: Parameter, b: Parameter) -> bool:
    return (a.kind, a.value) == (b.kind, b.value) and a.start < b.end and b.start < a.end


_PAIR_CUTOFF = 60.0


def compare_parameters(old: Sequence[Parameter], new: Sequence[Parameter]) -> list[ParameterChange]:
    """What changed between two parameter lists, per kind, values compared as sets.

    A value present on both sides is unchanged wherever it moved and however often it is
    repeated. A vanished and a new value of a kind pair into one change when each is its
    side's only value of that kind, or when their quotes read alike (numbers masked,
    rapidfuzz ratio ≥ 60); the rest are reported as removed or added.
    """
    changes: list[ParameterChange] = []
    for kind in KINDS:
        old_values = {p.value for p in old if p.kind == kind}
        new_values = {p.value for p in new if p.kind == kind}
        gone = _distinct([p for p in old if p.kind == kind], new_values)
        came = _distinct([p for p in new if p.kind == kind], old_values)
        # One value on each side: the same statement, however reworded.
        pairs = _pair(gone, came, alone=len(old_values) == len(new_values) == 1)
        paired_old = {id(o) for o, _ in pairs}
        paired_new = {id(n) for _, n in pairs}
        changes += [ParameterChange(kind, o, n) for o, n in pairs]
        changes += [ParameterChange(kind, o, None) for o in gone if id(o) not in paired_old]
        changes += [ParameterChange(kind, None, n) for n in came if id(n) not in paired_new]
    return changes


def _distinct(params: list[Parameter], other_values: set[str]) -> list[Parameter]:
    """The first statement of each value that the other side does not have."""
    seen: dict[str, Parameter] = {}
    for p in params:
        if p.value not in other_values:
            seen.setdefault(p.value, p)
    return list(seen.values())


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
    return re.sub(rf"\d[\d,.]*|\b{WORDS}", "#", quote.lower())
