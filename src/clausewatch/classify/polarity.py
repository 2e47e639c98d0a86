"""Sentence-level polarity rules, applied after the classifier has proposed a clause type.

All rules read one sentence through :mod:`clausewatch.classify.normtext` (lowercase, plain quotes,
no Markdown), so "We will not “sell” or “share”" reads ``we will not sell or share``.

* :func:`negated_practice` – the provider says it does *not* do a practice ("We do not sell your
  personal data"). A stated exception makes it not negated: "we do not share … unless you give
  us permission", "… except (a) …", "without your consent", "in the traditional sense", "but we
  may …" all describe a practice that does happen under conditions. "By default, we do not
  train …" stays negated (the default is what the user gets).
* :func:`addressed_to_user` – a prohibition or duty addressed to users, advertisers, developers
  ("You may not …", "Do not …", "X prohibits …"), or an item under a prohibition lead-in.
* :func:`licence_direction` – who grants a licence to whom.
* :func:`user_right` – the user is given a power (terminate, delete, opt out, cancel …).

Each is one or two compiled regex searches: about 5-15 µs per sentence, normalisation included.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from clausewatch.classify.normtext import NormText, inflect_pattern, normalise

Span = tuple[int, int]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ADV = r"(?:(?:\w+ly|also|still|ever|further|otherwise|now|then|therefore|thus),? )"
_MARKER = r"(?:(?:[-+•]|\d{1,3}(?:\.\d{1,3})*[.)]?|\(?[a-z]{1,4}[.)]) )?"

# --- negated practice -----------------------------------------------------------------------------
_PRACTICE = (
    inflect_pattern(
        ["sell", "share", "disclose", "rent", "lease", "trade", "train", "profile", "track",
         "transfer", "keep", "retain", "store", "collect", "read", "scan", "monitor", "record",
         "sold", "kept"]
    )
    + r"|\buse\w* (?:[^.;:]{0,80}? )?(?:to|for) (?:[^.;:]{0,40}? )?"
    r"(?:train\w*|fine-?tun\w*|profil\w*|targeted|advertis\w*|ads)\b"
    r"|\bengag\w* in (?:any )?(?:profiling|tracking|the sale|selling|automated decision)"
    r"|\bmak\w* (?:any )?(?:\w+ )?decisions? (?:based )?solely"
    r"|\bmak\w* (?:any )?automated decisions?"
)  # fmt: skip
_PARTICIPLE = (
    r"(?:sold|shared|disclosed|rented|leased|traded|transferred|kept|retained|stored|collected"
    r"|tracked|monitored|read|scanned|profiled|recorded|used (?:to|for) (?:train\w*|profil\w*))"
)
_NEG = r"(?:(?:do|does|did|will|would|shall|can|are|is|have|has)(?: not|n't)|won't|cannot|never)"
_VERBS = rf"(?:'?[a-z-]+'?(?:,? (?:or|and|nor) |, |/)){{0,4}}'?(?:{_PRACTICE})"
_DATA = r"(?:data|information|content|messages?|conversations?|chats?|inputs?|prompts?|outputs?"
_DATA += r"|details|numbers?|records?|history|photos|files|emails?|models?)"
# Anchored at the negation; its subject is read just before it (see _subject).
_ACTIVE = re.compile(rf"\b(?P<neg>{_NEG}) {_ADV}{{0,3}}{_VERBS}")
_NOR = re.compile(rf"\bnor (?:do|does|will|would) (?P<subj>we|\w+) {_ADV}{{0,2}}{_VERBS}")
_PASSIVE = re.compile(
    rf"\bno (?:[\w'-]+ ){{0,6}}(?:will|shall|is|are|has|have)(?: ever)?(?: be| been){{1,2}}"
    rf" {_ADV}{{0,2}}{_PARTICIPLE}\b"
    rf"|\b{_DATA}(?: [\w'-]+){{0,4}} (?:is|are|will|shall)(?: not|n't| never)(?: be)? "
    rf"{_ADV}{{0,2}}{_PARTICIPLE}\b"
    # the last of a negated list ("Chats … won't appear in history, use or create memories, or
    # be used to train our models"): no modal or "but" between the negation and the practice
    rf"|\b{_DATA}\b[^.;:]{{0,60}}?\b(?:won't|will not|(?:will|are|is) never|(?:is|are)(?: not|n't)"
    rf"|never)\b(?:(?!\b(?:may|might|can|could|will|shall|must|but|however)\b)[^.;:]){{0,120}}?"
    rf"\b(?:or|nor)(?: be)? {_ADV}{{0,2}}{_PARTICIPLE}\b"
)
_SUBJECT = re.compile(rf"(?:^|[^\w&'-])(?P<subj>[\w&'-]+),? {_ADV}{{0,3}}$")
_EXCEPTION = re.compile(
    r"\b(?:except|unless|other than|save for|apart from|without (?:first )?(?:your|their|"
    r"getting|obtaining|asking|prior)\b|in the traditional sense|as traditionally understood"
    r"|(?:but|although|though|however,?) (?:(?:we|it) )?(?:may|might|can|could|will|do)\b)"
)
# "which we don't collect": the denial is about the noun before it, not the sentence's practice
_RELATIVE = re.compile(r"\b(?:which|whom),? $")
# "if the information is not shared …, we will remove": a denial inside a condition states none
_CONDITION = re.compile(r"\b(?:if|unless|whether|in case|provided that)\b[^,;:.()]{0,40}$")
# Capitalised words that are not the provider (a name subject must be capitalised).
_NOT_PROVIDER = _words(
    "you your they it this that these those he she i users user advertisers advertiser "
    "developers developer creators partners people members anyone content which who what and "
    "or but so please also if when then customer customers licensee recipient party parties "
    "company's it's"
)


def negated_practice(sentence: str) -> Span | None:
    """Span (offsets into ``sentence``) of the provider's statement that it does *not* do a
    practice ("We do not sell your personal data"), or None (also when an exception follows)."""
    norm = _norm(sentence)
    text = norm.text
    if "not" not in text and "n't" not in text and "nev" not in text and "no" not in text:
        return None  # no negation at all: most sentences stop here
    for m in _ACTIVE.finditer(text):
        start = _subject(norm, m.start(), m.group("neg"))
        if start is None or _aside(text, start):
            continue
        if not _EXCEPTION.search(text, start):
            return norm.original_span(start, m.end())
    for rx in (_NOR, _PASSIVE):
        for m in rx.finditer(text):
            if (rx is _PASSIVE or _provider(norm, m.start("subj"), m.group("subj"), "will")) and (
                not _EXCEPTION.search(text, m.start()) and not _aside(text, m.start())
            ):
                return norm.original_span(m.start(), m.end())
    return None


def _aside(text: str, start: int) -> bool:
    """Whether the denial starting at ``start`` sits in a relative clause or a condition."""
    return bool(
        _RELATIVE.search(text, max(0, start - 8), start)
        or _CONDITION.search(text, max(0, start - 60), start)
    )


def _subject(norm: NormText, neg_start: int, neg: str) -> int | None:
    """Start of the provider subject just before the negation, or None if it is not one."""
    m = _SUBJECT.search(norm.text, max(0, neg_start - 60), neg_start)
    if m is None or not _provider(norm, m.start("subj"), m.group("subj"), neg):
        return None
    return m.start("subj")


def _provider(norm: NormText, start: int, subj: str, neg: str) -> bool:
    """ "we", or a capitalised name ("Bluesky does not sell"), not "Users do not"."""
    if subj in ("we", "we'll", "we've", "we're"):
        return True
    if subj in _NOT_PROVIDER or neg.startswith(("do ", "don't", "are", "is")):
        return False  # "Users do not", "Apps are not sold": a plural or passive, not a name
    a, _ = norm.original_span(start, start + 1)
    return norm.original[a : a + 1].isupper()


# --- addressed to the user ------------------------------------------------------------------------
_PERSON = (
    r"(?:you|users?|advertisers?|developers?|creators?|sellers?|buyers?|members?|customers?"
    r"|participants?|publishers?|streamers?|partners?|licensees?|anyone|no one|nobody|people)"
)
_THING = r"(?:ads?|adverts?|advertisements?|listings?|posts?|apps?|applications?|content)"
# Modals that make a rule; "will not" and "shall" only with "you" ("You will not provide …").
_PERSON_MODAL = (
    r"may not|must not|mustn't|shall not|cannot|can't|can not|should not|shouldn't"
    r"|(?:are|is) not (?:allowed|permitted|authori[sz]ed|entitled)|(?:are|is) (?:prohibited|"
    r"forbidden|not to)|agrees? (?:that \w+ will )?not|must|(?:are|is) required to"
    r"|agrees? to comply"
)
_THING_MODAL = r"may not|must not|must|should not|(?:are|is) not (?:allowed|permitted)"
_MODAL = re.compile(rf"\b(?:{_PERSON_MODAL}|will not|won't|shall)\b")
_PERSON_BEFORE = re.compile(rf"\b{_PERSON},? {_ADV}{{0,2}}$")
_THING_BEFORE = re.compile(rf"\b{_THING},? {_ADV}{{0,2}}$")
# "Do Not Track" as the name of a browser signal (a heading "Do Not Track", or a sentence that
# speaks of signals, browsers or DNT), not "Do not track other users"
_NOT_DNT = (
    r"(?! track(?:$|\b(?=(?s:.*)\b(?:signals?|browsers?|dnt|preferences?|standards?|headers?)\b)))"
)
_ADDRESSED = re.compile(
    "|".join(
        [
            # "Do Not Track" is the name of a browser signal, not an instruction
            rf"^{_MARKER}(?:please )?(?:do not|don't|never|avoid)\b{_NOT_DNT}",
            # "legal restrictions that prohibit their use of the information" bind a partner;
            # "we do not allow third party tracker networks to record" is our own practice
            r"\b(?:prohibits?|forbids?|bans)\b(?! (?:their|its) )"
            # ("if you do not allow cookies" is the user's choice)
            r"|(?<!you )\b(?:do|does)(?: not|n't) (?:allow|permit)\b"
            r"(?! (?:any )?(?:third[ -]part|track)| (?:us|we)\b)",
            r"\b(?:is|are|be) (?:strictly |expressly )?(?:prohibited|forbidden"
            r"|not (?:allowed|permitted))\b",
            r"\bnot (?:allowed|permitted) to\b",
        ]
    )
)
_PERSON_MODAL_RE = re.compile(rf"(?:{_PERSON_MODAL})\Z")
_THING_MODAL_RE = re.compile(rf"(?:{_THING_MODAL})\Z")
# The provider's own power in the same sentence ("you must not …, or we may terminate …").
_PROVIDER_ACTS = re.compile(
    r"\b(?:we|us)\b(?: \w+){0,2} (?:may|will|can|reserve|have the right)\b"
    r"|^(?:\w+ ){0,3}reserves the right\b"  # "Massdrop reserves the right to … prohibit"
    r"|\b(?:you )?(?:agree|acknowledge|understand) that (?:we|\w+ (?:may|will|can))\b"
)
_PROHIBITION_CONTEXT = re.compile(
    rf"\b(?:must not|may not|shall not|cannot|can't|agree not|(?:do not|don't){_NOT_DNT}|never"
    r"|not allowed"
    r"|not permitted|prohibit\w*|forbidden|restrictions?|don'ts|what you (?:can't|cannot)"
    r"|unacceptable|not acceptable|banned)\b"
)
_CONTEXT_SEP = re.compile(r"\s[>›»|/]\s|\n")
# What follows a modal when it states a consequence or a possibility, not a rule: "you may not
# be able to use all portions of the Site", "you cannot be identified with it", "where you may
# not have the same rights"; and "so you cannot recover your account" after our own act.
_NOT_A_RULE_AFTER = re.compile(
    r" (?:be able|be (?:personally )?identif\w*|have the same|have access)\b"
)
_CONSEQUENCE_BEFORE = re.compile(r"\bso (?:that )?$")
# "These partners are required to process personal information in accordance with …": the
# provider's terms for the recipients of our data, part of its sharing practice
_PARTNER_DATA_DUTY = re.compile(
    r" (?:\w+ ){0,2}(?:process|protect|safeguard|handle|treat|keep)\w* (?:\w+ ){0,3}"
    r"(?:data|information)\b"
)
# "to the extent a waiver is not permitted": a legal hedge, not a prohibition
_HEDGE = re.compile(
    r"\b(?:to the extent|where|if)\b[^,;.]{0,40}? (?:is|are) (?:not (?:permitted|allowed)"
    r"|prohibited)"
    r"(?: by (?:applicable )?law)?"
)


def addressed_to_user(sentence: str, context: str | None = None) -> bool:
    """Whether ``sentence`` is a rule addressed to users (or advertisers, developers …) rather
    than the provider's own practice. ``context`` is the list lead-in ("You must not:") or
    heading path; an item under a prohibition context counts, unless it states our own acts."""
    text = _norm(sentence).text
    if ("we" in text or "that" in text or "reserve" in text) and _PROVIDER_ACTS.search(text):
        return False
    if _has_cue(text) and _ADDRESSED.search(_HEDGE.sub(" ", text)):
        return True
    if _ours(text):  # "We use your posts to train our models, and you cannot opt out"
        return False
    return _rule_subject(text) or (context is not None and _prohibition_context(context))


def _has_cue(text: str) -> bool:
    """A cheap pre-check for _ADDRESSED: one of the words it needs is there."""
    return any(cue in text for cue in ("not", "n't", "never", "avoid", "prohib", "forbid", "ban"))


def _rule_subject(text: str) -> bool:
    """A modal of obligation or prohibition whose subject is the user (or their ads, apps …)."""
    for m in _MODAL.finditer(text):
        window = max(0, m.start() - 50)
        modal = m.group()
        if _NOT_A_RULE_AFTER.match(text, m.end()):
            continue
        subject = _PERSON_BEFORE.search(text, window, m.start())
        if subject and _CONSEQUENCE_BEFORE.search(text, window, subject.start()):
            continue
        if subject and "partner" in subject.group() and _PARTNER_DATA_DUTY.match(text, m.end()):
            continue
        if subject and (
            _PERSON_MODAL_RE.match(modal) or text[window : m.start()].endswith(("you ", "you, "))
        ):
            return True
        if _THING_MODAL_RE.match(modal) and _THING_BEFORE.search(text, window, m.start()):
            return True
    return False


def _prohibition_context(context: str) -> bool:
    parts = [p for p in _CONTEXT_SEP.split(context) if p.strip()]
    return bool(parts) and _PROHIBITION_CONTEXT.search(_norm(parts[-1]).text) is not None


def _ours(text: str) -> bool:
    return re.match(rf"{_MARKER}(?:we|our|us)\b", text) is not None


def list_lead_in(text: str, start: int) -> str | None:
    """The lead-in line ("You must not:") of the list that the sentence at ``start`` is in."""
    for line in reversed(text[:start].splitlines()):
        if line.rstrip().rstrip("*_").endswith(":"):
            return line.strip()
    return None


# --- licence direction ----------------------------------------------------------------------------
_LICENCE = (
    r"(?:licen[cs]e|sublicen[cs]e|(?:rights?|permission) to (?:use|access|copy|host|reproduce"
    r"|display|distribute|modify|edit|publish|exploit|monetize|monetise))"
)
_TO_PROVIDER = re.compile(
    rf"\b(?:you|users?|licensee)(?: \w+ly| also| thereby| hereby){{0,2}} (?:grants?|gives?"
    rf"|are granting|agree to grant)\b(?:[^.;]{{0,200}}?)\b{_LICENCE}"
)
_TO_USER = re.compile(
    rf"\b(?:grants?|gives?) (?:to )?you\b(?:[^.;]{{0,200}}?)\b{_LICENCE}"
    rf"|\byou (?:are|will be) (?:hereby )?granted\b(?:[^.;]{{0,120}}?)\b{_LICENCE}"
    r"|\blicensed(?:,? (?:and )?not sold,?)? to you\b"
)


def licence_direction(sentence: str) -> Literal["to_provider", "to_user"] | None:
    """Who grants a licence to whom: "you grant us a licence" → ``"to_provider"``; "we grant you
    a licence", "you are granted a licence" → ``"to_user"``; None when no grant is stated.
    When both are stated the first one wins."""
    text = _norm(sentence).text
    if "licen" not in text and "right" not in text and "permission" not in text:
        return None
    up, down = _TO_PROVIDER.search(text), _TO_USER.search(text)
    if up and (not down or up.start() <= down.start()):
        return "to_provider"
    return "to_user" if down else None


# --- user right -----------------------------------------------------------------------------------
_POWER = (
    r"(?:terminate|cancel|close|delete|deactivate|opt ?out|optout|stop using|leave|withdraw"
    r"|unsubscribe|end|discontinue|object|appeal|reject|remove|request (?:the )?deletion"
    r"|downgrade|pause|disable|turn off)"
)
_USER_RIGHT = re.compile(
    rf"\byou(?:r| and your)?(?: \w+)?,? {_ADV}{{0,2}}(?:may|can|could|are (?:free|able|entitled)"
    rf" to|have the (?:right|option|ability) to|can choose to|may choose to|may elect to"
    rf"|retain the right to)(?: also| always| at any time,?)? {_POWER}\b"
    rf"|\byour right to {_POWER}\b"
)
_PROVIDER_POWER = re.compile(
    r"\b(?:we|us)\b(?: \w+){0,3} (?:terminate|suspend|disable|close|delete|cancel|remove)"
    r"|\breserves? the right\b"
)


def user_right(sentence: str) -> bool:
    """Whether ``sentence`` gives the user a power ("You may terminate your account at any
    time", "you can opt out of arbitration") and states no such power of the provider."""
    text = _norm(sentence).text
    return _USER_RIGHT.search(text) is not None and _PROVIDER_POWER.search(text) is None


@lru_cache(maxsize=256)
def _norm(sentence: str) -> NormText:
    """Each rule normalises the same sentence; cache the last few."""
    return normalise(sentence)
