"""The canonical text of a version: what its SHA-256 is computed over.

Two captures whose Markdown differs only in rendering noise must hash the same, or the archive
records false changes (one policy in the OTA data has hundreds of versions caused by a random ID in
a link). ``normalise_for_hash`` removes:

- whitespace noise: CRLF, trailing spaces, runs of spaces and of blank lines, NBSP and other space
  characters, zero-width characters, soft hyphens;
- Unicode variants: NFC; curly quotes and apostrophes folded to straight ones (a typographic
  choice, never a change of meaning);
- Markdown dialect: backslash escapes, ``*``/``+`` bullets and setext headings (``===``) are
  rewritten the way our converter writes them, so that text imported from other tools compares;
- per-render tokens in URLs (Markdown link targets, autolinks and bare URLs): tracking parameters,
  cache-busters, CSRF values and signatures are dropped; UUIDs and long random-looking values in
  query strings or paths become ``<token>``;
- rendering stamps: "Page generated at 2026-08-22 10:30:09", "Last refreshed: …", times of day with
  seconds, and relative ages ("Updated: 23 days ago"). Legal dates ("Effective date: 4 June 2026",
  "Last updated: June 4, 2026") are substantive and stay.

Emphasis is kept: conspicuousness (bold or capitals) can matter legally.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import unicodedata
from collections import Counter
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

TOKEN = "<token>"
STAMP = "<stamp>"

_INVISIBLE = re.compile("[\u00ad\u034f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t]")
# (character, replacement) pairs: a replace per character present is ~80x faster on a whole
# policy than str.translate with a table
_QUOTES = (("‘", "'"), ("’", "'"), ("‚", "'"), ("‛", "'"), ("′", "'"), ("“", '"'), ("”", '"'),
           ("„", '"'), ("‟", '"'), ("″", '"'), ("«", '"'), ("»", '"'))  # fmt: skip

# Query parameters that only track the visitor or bust caches.
_DROP_PARAMS = re.compile(
    r"^(?:utm_\w*|fbclid|gclid|gclsrc|dclid|gbraid|wbraid|msclkid|yclid|twclid|ttclid|li_fat_id"
    r"|mc_cid|mc_eid|_hsenc|_hsmi|__hstc|__hssc|__hsfp|hsctatracking|mkt_tok|vero_\w+|_ga|_gl"
    r"|_ke|oly_\w+|rb_clickid|s_cid|icid|igshid|igsh|si|spm|scm|ref|ref_src|ref_url|referrer"
    r"|trk|trkinfo|trackingid|cmpid|aff_id"
    r"|v|ver|rev|revision|_|cb|cachebust|cachebuster|nocache|bust|t|ts|timestamp"
    r"|_t|_ts|_v|_dc|rnd|rand|random|nonce|csrf|csrf_token|csrftoken|_csrf|xsrf|_token"
    r"|authenticity_token|sig|signature|h|e|oh|oe|_nc_\w+|ccb|__cf_chl_\w+|_rdc|_rdr)$",
    re.I,
)
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
_HEX_RUN = re.compile(r"^[0-9a-f]{16,}$", re.I)
_EPOCH = re.compile(r"^1[0-9]{9}(?:[0-9]{3})?$")  # Unix time in s or ms (2001-2286)

_ENCODED_URL = re.compile(r"https?%3A%2F%2F", re.I)
_PATH_PIECE = re.compile(r"[^/&;=,]+")
_MD_LINK = re.compile(r"(\]\()(<?)([^)\s>]+)(>?)((?:\s+\"[^\"]*\")?\))")
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^>\s]+)>")
_BARE_URL = re.compile(r"(?=h)(?<![(<\w])(https?://[^\s)<>\]\"']+)")

_STAMP_LABEL = (
    r"(?:(?:page|site|content|document|report|this page was)\s+)?"
    r"(?:generated|rendered|refreshed|retrieved|fetched|cached"
    r"|last\s+refreshed|last\s+generated|last\s+fetched|last\s+crawled"
    r"|current\s+time|server\s+time|request\s+time|page\s+load(?:ed)?)"
)
_TIME = r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s?[AaPp][Mm])?"
_ZONE = r"(?:\s?(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}))?"
_DATE = (
    rf"(?:\d{{4}}-\d{{2}}-\d{{2}}(?:[T ]{_TIME}{_ZONE})?"
    rf"|\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}(?:,?\s+{_TIME})?"
    rf"|\w+\.?\s+\d{{1,2}},?\s+\d{{4}}(?:,?\s+(?:at\s+)?{_TIME})?"
    rf"|\d{{1,2}}\s+\w+\.?\s+\d{{4}}(?:,?\s+(?:at\s+)?{_TIME})?"
    rf"|{_TIME}{_ZONE})"
)
_LABELLED_STAMP = re.compile(rf"(?=[pscdrtgfl])(\b{_STAMP_LABEL}\s*(?:on|at|:)?\s*){_DATE}", re.I)
_CLOCK_WITH_SECONDS = re.compile(
    rf"\b(?=\d)(?:\d{{4}}-\d{{2}}-\d{{2}}[T ])?\d{{1,2}}:\d{{2}}:\d{{2}}(?:\.\d+)?{_ZONE}"
)
_RELATIVE_AGE = re.compile(
    r"(?=[\dafojm])\b(?:\d+|an?|one|few)\s+(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)"
    r"\s+ago\b|\b(?:just now|moments ago)\b",
    re.I,
)

_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_BULLET = re.compile(r"^(\s*)[*+-]\s+(?=\S)", re.M)
_ORDERED = re.compile(r"^(\s*)(\d{1,9})[.)]\s+(?=\S)", re.M)
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_BLOCK_START = re.compile(r"^\s*(?:[-*+>|#]|\d+[.)]\s)")
_UNDERSCORE_EM = re.compile(r"(?=_)(?<![\w\\])__([^_\n]+?)__(?!\w)")
_INNER_SPACES = re.compile(r"(?<=\S)[ ]{2,}")
_BLANKS = re.compile(r"\n\n\n+")  # a literal prefix: the engine jumps from one to the next


def text_sha256(text: str) -> str:
    """SHA-256 (hex) of the UTF-8 encoding of ``text``."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalise_for_hash(markdown: str) -> str:
    """The canonical text to hash (see the module docstring for what is made invisible)."""
    text = unicodedata.normalize("NFC", markdown.replace("\r\n", "\n").replace("\r", "\n"))
    text = _INVISIBLE.sub("", text)
    text = _fold_quotes(_SPACES.sub(" ", text))
    text = _normalise_urls(text)
    text = _neutralise_stamps(text)
    text = _ESCAPE.sub(r"\1", text)
    text = _normalise_markdown(text)
    text = "\n".join(_line_end(line) for line in text.split("\n"))
    text = _INNER_SPACES.sub(" ", text)
    text = _BLANKS.sub("\n\n", text)
    return text.strip("\n") + "\n" if text.strip() else ""


def _fold_quotes(text: str) -> str:
    for char, replacement in _QUOTES:
        if char in text:
            text = text.replace(char, replacement)
    return text


def _line_end(line: str) -> str:
    """Trailing spaces and a hard-break backslash dropped (and the spaces before it)."""
    line = line.rstrip(" \t")
    return line[:-1].rstrip(" \t") if line.endswith("\\") else line


def _normalise_markdown(text: str) -> str:
    text = _setext_to_atx(text)
    text = _BULLET.sub(r"\1- ", text)
    text = _ORDERED.sub(r"\1\2. ", text)
    return _UNDERSCORE_EM.sub(r"**\1**", text)


def _setext_to_atx(text: str) -> str:
    """``Title`` over ``=====`` / ``-----`` → ``# Title`` / ``## Title``."""
    lines = text.split("\n")
    out: list[str] = []
    for line in lines:
        underline = _SETEXT_UNDERLINE.match(line)
        if underline and out and out[-1].strip() and not _BLOCK_START.match(out[-1]):
            out[-1] = ("# " if line.lstrip()[0] == "=" else "## ") + out[-1].strip()
        else:
            out.append(line)
    return "\n".join(out)


# Patterns that open with a lookback or an optional group open with a lookahead on their first
# characters too: the engine then skips most positions of a long text at once.
# Necessary conditions, each far cheaper than the pattern it guards (the import normalises
# every record, each ~50 KB): a labelled stamp ends its label with one of these words, followed
# by a date's first digit or a month name and a digit; a clock with seconds has ":dd:d"; a
# relative age has the word "ago" or "just now".
_STAMP_ENDS = ("generated", "rendered", "refreshed", "retrieved", "fetched", "cached", "crawled",
               "time", "load")  # fmt: skip
_STAMP_TAIL = re.compile(r"\s*(?:on|at|:)?\s*(?:\d|\w+\.?\s+\d)")
_SECONDS_HINT = re.compile(r":\d\d:\d")
_AGO = re.compile(r"ago\b")


def _may_have_labelled_stamp(lower: str) -> bool:
    for word in _STAMP_ENDS:
        at = lower.find(word)
        while at >= 0:
            end = at + len(word)
            if word == "load" and lower.startswith("ed", end):
                end += 2
            if _STAMP_TAIL.match(lower, end):
                return True
            at = lower.find(word, end)
    return False


def _neutralise_stamps(text: str) -> str:
    lower = text.lower()
    # lower() keeps the length of nearly every text; where it does not, no shortcut is taken
    same = len(lower) == len(text)
    if not same or _may_have_labelled_stamp(lower):
        text = _LABELLED_STAMP.sub(lambda m: m[1] + STAMP, text)
    if _SECONDS_HINT.search(text):
        text = _CLOCK_WITH_SECONDS.sub(STAMP, text)
    if not same or _AGO.search(lower) or "just now" in lower:
        text = _RELATIVE_AGE.sub(STAMP, text)
    return text


def _normalise_urls(text: str) -> str:
    text = _MD_LINK.sub(lambda m: m[1] + m[2] + normalise_url(m[3]) + m[4] + m[5], text)
    text = _AUTOLINK.sub(lambda m: "<" + normalise_url(m[1]) + ">", text)
    return _BARE_URL.sub(lambda m: normalise_url(m[1]), text)


@functools.lru_cache(maxsize=65536)  # versions of a document repeat most of their links
def normalise_url(url: str, depth: int = 0) -> str:
    """Drop tracking/cache/CSRF parameters and replace random-looking values with ``<token>``.

    URLs nested in a parameter or, percent-encoded, in the path (redirect shims, "printable"
    wrappers) are normalised too.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    path = parts.path
    nested = _ENCODED_URL.search(path) if depth < 3 else None
    if nested:
        inner = normalise_url(unquote(path[nested.start() :]), depth + 1)
        path = path[: nested.start()] + quote(inner, safe="")
    # Pieces of path segments too: mangled URLs carry "records&e=<signature>" in the path.
    path = _PATH_PIECE.sub(lambda m: TOKEN if is_random_token(m[0]) else m[0], path)
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if _DROP_PARAMS.match(key):
            continue
        if depth < 3 and value.lower().startswith(("http://", "https://")):
            value = normalise_url(value, depth + 1)
        elif is_random_token(value):
            value = TOKEN
        query.append(f"{quote(key, safe='')}={quote(value, safe='/:<>')}")
    fragment = TOKEN if is_random_token(parts.fragment) else parts.fragment
    return urlunsplit((parts.scheme, parts.netloc.lower(), path, "&".join(query), fragment))


def is_random_token(value: str) -> bool:
    """UUIDs, long hex runs, epoch timestamps and long high-entropy alphanumeric strings.

    Words, slugs and encoded URLs are not random: a value must mix letter cases and digits (or be
    hex) and have a high character entropy to count.
    """
    if len(value) < 8 or any(c in value for c in "%./ "):
        return False
    stem = value.rsplit(".", 1)[0]
    if _UUID.search(stem) or _HEX_RUN.match(stem) or _EPOCH.match(stem):
        return True
    if len(stem) < 16 or not re.fullmatch(r"[\w~=+-]+", stem):
        return False
    classes = sum(bool(re.search(p, stem)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    return classes == 3 and _entropy(stem) >= 3.5 and not re.search(r"[a-z]{3,}-[a-z]{3,}", stem)


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


# --- the comparison key: what decides "same document text", beyond the archived canonical text ---
#
# The canonical text above is what a version archives; these rules only decide whether two
# canonical texts are the same version. They hide differences a reader would never call a change
# of the terms but that must not be rewritten in the archived text: layout (line breaks, blank
# lines, indentation, heading levels: the words and their order must be the same), link targets
# (a reader reads the link's text; OTA's shims, locale paths and help-centre IDs change weekly),
# an image's address (CDN hosts and sizes change with every render), and in bare URLs http: vs
# https:, page vs page.html, the link a tracking redirect wraps, a token inside a path segment
# (``file.<uuid>.pdf``); consent-banner counters ("We and our 1558 partners"), media-player clocks
# ("0:00 / 1:00"), headings and list items left empty by widgets, and the spelling locale
# (centre/center, amongst/among, organise/organize): a page served in alternating locales is one
# version with variants, not a change each time.

_MD_IMAGE = re.compile(r"(!\[[^\]\n]*\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")
_MD_LINK_TEXT = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_KEY_URL = re.compile(r"(?:https?|ftp)://[^\s)<>\]\"']+")
_HTML_SUFFIX = re.compile(r"\.html?(?=$|[?#])", re.I)
# Redirect endpoints that only wrap the link they carry in a parameter (link shims, click trackers)
_REDIRECT_PATH = re.compile(r"/(?:l\.php|url|redirect|out|away|link|r|click|exit|leave)/?$", re.I)
_REDIRECT_PARAMS = ("u", "url", "q", "target", "dest", "destination", "to", "link", "redirect")
# Only counts of 100 or more: "our 3 partners" in a clause is a fact, "our 1558 partners" a banner.
_CONSENT_COUNT = re.compile(
    r"\b(?:[1-9]\d{0,2}(?:[,.]\d{3})+|[1-9]\d{2,})"
    r"(\s+(?:IAB\s+)?(?:TCF\s+)?(?:(?:advertising|ad|third[- ]party)\s+)?(?:partners|vendors)\b)",
    re.I,
)
_MEDIA_CLOCK = re.compile(
    r"^[ \t]*\d{1,2}:\d{2}(?::\d{2})?[ \t]*/[ \t]*\d{1,2}:\d{2}(?::\d{2})?[ \t]*$", re.M
)
# A heading or list item with no words (what a widget leaves after extraction): "###", "- * *".
_EMPTY_BLOCK = re.compile(r"^[ \t]*(?:#{1,6}|(?:[-*+][ \t]*)+)[ \t]*$\n?", re.M)
# Lines that are only a widget's label (media players, share and expand buttons, help widgets).
_WIDGET_LINE = re.compile(
    r"^[ \t]*(?:[-*+][ \t]+)?(?:play video|play|pause|mute|unmute|full ?screen|copy link|share"
    r"|print|back to top|more help|show more|show less|read more|see more|expand|collapse"
    r"|expand all|collapse all|skip to (?:main )?content|was this (?:page|article) helpful\??)"
    r"[ \t]*$\n?",
    re.M | re.I,
)
_HEADING_MARK = re.compile(r"^([ \t]*(?:[-*+][ \t]+|\d+\.[ \t]+)?)#{1,6}[ \t]+", re.M)

# British → American spellings of one word (both texts of a comparison are mapped, so the only
# risk is merging two different words: every pair below is one word in two spellings).
_LOCALE_WORDS = {
    "amongst": "among", "whilst": "while", "centre": "center", "centres": "centers",
    "centred": "centered", "colour": "color", "colours": "colors", "favour": "favor",
    "favourite": "favorite", "behaviour": "behavior", "behaviours": "behaviors",
    "behavioural": "behavioral", "honour": "honor", "labour": "labor", "neighbour": "neighbor",
    "endeavour": "endeavor", "endeavours": "endeavors", "rumour": "rumor", "humour": "humor",
    "licence": "license", "licences": "licenses", "licenced": "licensed", "defence": "defense",
    "offence": "offense", "offences": "offenses", "practise": "practice", "programme": "program",
    "programmes": "programs", "catalogue": "catalog", "dialogue": "dialog", "judgement": "judgment",
    "ageing": "aging", "fulfil": "fulfill", "fulfilment": "fulfillment", "enrol": "enroll",
    "enrolment": "enrollment", "instalment": "installment", "cheque": "check", "tyre": "tire",
    "metre": "meter", "metres": "meters", "litre": "liter", "theatre": "theater", "fibre": "fiber",
    "learnt": "learned", "spelt": "spelled", "grey": "gray", "aluminium": "aluminum",
    "cancelled": "canceled", "cancelling": "canceling", "travelled": "traveled",
    "travelling": "traveling", "labelled": "labeled", "labelling": "labeling",
    "modelled": "modeled", "modelling": "modeling", "signalled": "signaled",
    "counselling": "counseling", "fuelled": "fueled", "totalled": "totaled",
    "analyse": "analyze", "analysed": "analyzed", "analysing": "analyzing",
    "acknowledgement": "acknowledgment",
}  # fmt: skip
_LETTERS = re.compile(r"[a-z]+")


@functools.lru_cache(maxsize=256)
def _locale_word(words: frozenset[str]) -> re.Pattern[str]:
    """The British words of ``words`` as one pattern (a 64-word alternation over a whole text
    costs ~15 ms; the few words a text contains, well under one)."""
    return re.compile(r"\b(?:" + "|".join(sorted(words, key=len, reverse=True)) + r")\b", re.I)


# -ise/-isation: organise, authorised, personalisation, minimising (the -ize spelling is the same
# word; words that only end in -ise, such as promise or advertise, are mapped on both sides alike).
_ISE = re.compile(r"\b(\w{3,}?)(i)(s)(e|es|ed|ing|er|ers|ation|ations|able)\b", re.I)


def comparison_key(canonical: str) -> str:
    """What two canonical texts must share to be the same version (see the section comment)."""
    text = _MD_IMAGE.sub(lambda m: m[1] + "<image>" + m[3], canonical)
    text = _MD_LINK_TEXT.sub(r"\1", text)
    text = _KEY_URL.sub(lambda m: _key_url(m[0]), text)
    text = _CONSENT_COUNT.sub(lambda m: "<count>" + m[1], text)
    text = _MEDIA_CLOCK.sub("", text)
    text = _WIDGET_LINE.sub("", text)
    text = _EMPTY_BLOCK.sub("", text)
    text = _HEADING_MARK.sub(r"\1", text)
    text = spelling_locale(text)
    # runs of whitespace as one space, ends stripped: str.split() takes the same characters
    # as re's \s (Py_UNICODE_ISSPACE) and is 2.5x faster than re.sub over a whole text
    return " ".join(text.split())


def comparison_sha256(canonical: str) -> str:
    return text_sha256(comparison_key(canonical))


def _key_url(url: str, depth: int = 0) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if depth < 3 and (_REDIRECT_PATH.search(parts.path) or parts.netloc.startswith(("l.", "lm."))):
        wrapped = dict(parse_qsl(parts.query))
        for name in _REDIRECT_PARAMS:
            if wrapped.get(name, "").lower().startswith(("http://", "https://")):
                return _key_url(wrapped[name], depth + 1)
    path = _UUID.sub(TOKEN, _HTML_SUFFIX.sub("", parts.path))
    path = re.sub(r"[^/.]+", lambda m: TOKEN if is_random_token(m[0]) else m[0], path)
    scheme = "https" if parts.scheme.lower() == "http" else parts.scheme.lower()
    return urlunsplit((scheme, parts.netloc, path, parts.query, parts.fragment))


def spelling_locale(text: str) -> str:
    """``text`` with British spellings written the American way (case kept)."""
    present = _LOCALE_WORDS.keys() & _LETTERS.findall(text.lower())
    if present:
        text = _locale_word(frozenset(present)).sub(_american, text)
    return _american_ise(text)


def _american(m: re.Match[str]) -> str:
    american = _LOCALE_WORDS[m[0].lower()]
    if m[0].isupper():
        return american.upper()
    return american[:1].upper() + american[1:] if m[0][:1].isupper() else american


def _ise(m: re.Match[str]) -> str:
    return m[1] + m[2] + ("Z" if m[3] == "S" else "z") + m[4]


_ISE_STEM = re.compile(r"is[eai]")  # what every _ISE word holds (folded): a literal to jump to


def _american_ise(text: str) -> str:
    """``_ISE.sub(_ise, text)``, with the pattern tried only at the start of the words that
    hold "is" + e, a or i: its matches are whole words, and scanning every position of a
    long text with it was most of ``spelling_locale``."""
    folded = ignorecase_folded(text)
    if folded is None:
        return _ISE.sub(_ise, text)
    out: list[str] = []
    done, tried = 0, -1  # end of the text copied so far; start of the last word tried
    for stem in _ISE_STEM.finditer(folded):
        start = stem.start()
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):  # \w
            start -= 1
        if start < done or start == tried:
            continue
        tried = start
        match = _ISE.match(text, start)
        if match is not None:
            out += (text[done:start], _ise(match))
            done = match.end()
    return "".join(out) + text[done:] if out else text


def ignorecase_folded(text: str) -> str | None:
    """``text`` lower-cased as re.IGNORECASE compares ASCII letters, position for position
    (it also takes "ı" for i and "ſ" for s), so that a plain substring search finds every
    place a case-insensitive pattern of ASCII letters can match; None when lower-casing
    changes the length ("İ")."""
    low = text.lower()
    if len(low) != len(text):
        return None
    if "ı" in low:
        low = low.replace("ı", "i")
    if "ſ" in low:
        low = low.replace("ſ", "s")
    return low
