"""Human titles for provisions: what a reader sees in lists, citations and share text.

A title is, in order of preference:

- the clause's own label with its inline title or bold lead ("1.2 Registration", "8. Sell, rent,
  lease, disclose, distribute, share"), the label written once ("5. 5. Termination" → "5.
  Termination");
- a bold lead ("**Termination.** We may…" → "Termination") or a linked term defined by the text
  ("[Your activity data](…): This is…" → "Your activity data");
- for a table row, its first cell, with the column header when the cell is a bare name
  ("Company: Tealium");
- for a paragraph under a heading, the heading;
- else the provision's lead words, cut at a natural boundary (sentence or clause end, else a word
  boundary before ``LEAD_CHARS``), never on a dangling word ("the", "with", "(with the") and with
  balanced brackets.

Titles are plain text: no Markdown, HTML or table pipes. :func:`titles_for` makes them unique
within a document: provisions that would share a title get their heading and their own lead words
("Data Retention — How long we keep logs"), and a number as a last resort ("… (2)").
"""

from __future__ import annotations

import functools
import html
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clausewatch.provisions.segment import plain_text, split_label

if TYPE_CHECKING:
    from clausewatch.provisions.segment import Segment

LEAD_CHARS = 64  # an un-headed provision's title is cut before this length
MIN_LEAD_CHARS = 18  # ...but not at a clause boundary shorter than this
HEADING_CHARS = 110  # a heading longer than this (a bold sentence) is cut like a lead
BOLD_LEAD_WORDS = 12
NAME_CELL_WORDS = 4  # a table cell this short is a name that its column header explains
SEPARATOR = " — "

# Words a title must not end on: articles, prepositions, conjunctions, determiners, auxiliaries.
_DANGLING_WORDS = """
a an the and or nor but with without to of for in on at by from into onto about as than that
which who whom whose where when while if whether your our their its his her my this these
those such any all each every some no not is are was were be been being has have had will
would can could may might must shall should do does did including include includes e.g i.e eg
ie via per under over between through upon like so we they i etc also more most other both
either neither before after during against within among
"""
DANGLING = frozenset(_DANGLING_WORDS.split())

_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
_LEADING_JUNK = re.compile(r"^(?:[#>*+•·|\-–—\s]|\\-)+")
_TRAILING_JUNK = re.compile(r"[\s,;:/&(\[{“‘«\-–—|*#]+$")
_TRAILING_CONNECTOR = re.compile(r"[,;]\s*(?:and|or|and/or)\W*$", re.I)
_LABEL_PREFIX = (
    r"(?:(?:\*\*|__)?(?:\\?\d{1,3}(?:\.\d{1,3})*\\?[.)]?|\(?(?:[A-Za-z]|[ivxlcIVXLC]{1,6}|\d{1,3})[.)])"
    r"(?:\*\*|__)?\s+)?"
)
_BOLD_LEAD = re.compile(
    rf"^\s*{_LABEL_PREFIX}(\*\*|__)(?P<lead>(?:(?!\1)[^\n]){{1,160}}?)\1(?P<after>[^\n]?)"
)
_IMAGE = re.compile(r"!\[[^\]\n]*\]\((?:<[^>\n]*>|[^)\n]*)\)")
_IDENTIFIER = re.compile(r"`?([\w.\-]*_[\w.\-]*)`?")
_LINE_BREAK = re.compile(r"\n|<br\s*/?>", re.I)
_LINK_LEAD = re.compile(
    r"^\s*(?:\*\*)?\[(?P<lead>[^\[\]\n]{1,80})\]\([^)\s]*\)(?:\*\*)?\s*(?::|\s[-–—]\s)"
)
BOUNDARY_CHARS = 80  # ...or at a sentence or clause end before this length
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)\"”’])[.!?](?=\s+[\"“(]?[A-Z0-9])|[.!?]$")
_ENUMERATION = re.compile(
    r"\s*(?:(?:and|or|and/or)\s|[\w'’-]+(?:\s+[\w'’-]+)?\s*(?:,|\s(?:and|or|and/or)\s))"
)
_CLAUSE_END = re.compile(r"[,;:](?=\s)|\s[–—-](?=\s)|\s(?=\()")
PHRASE_SHARE = 0.5  # a phrase cut keeps at least this share of the length limit
_PHRASE_STARTS_WORDS = """
to for in on at by from with without that which who where when if unless including such as under
within through during because while after before about into so whether than
"""
_PHRASE_STARTS = frozenset(_PHRASE_STARTS_WORDS.split())
_GENERIC_LEADS = frozenset(
    ("note", "please note", "important", "tip", "warning", "caution", "reminder", "example")
)


SECTION_CHARS = 60  # a section heading that disambiguates is cut to this length
MAX_TITLE_CHARS = 100  # a title made unique with lead words is kept under this length


@dataclass(frozen=True)
class _Draft:
    title: str
    rest: str  # plain text after the words that made the title, to tell it apart from others
    heading: str | None  # its nearest heading, cleaned
    from_heading: bool  # the title is the heading (a paragraph that has no title of its own)

    def detail(self, used: int) -> str:
        budget = max(MIN_LEAD_CHARS + 12, MAX_TITLE_CHARS - used - len(SEPARATOR))
        budget = min(budget, LEAD_CHARS)
        return _capitalise(lead_words(self.rest, budget, reach=budget))


def segment_title(seg: Segment) -> str:
    """The title of one provision on its own (no uniqueness within its document)."""
    return _draft(seg).title


def titles_for(segments: Sequence[Segment]) -> list[str]:
    """Titles for a document's provisions, in order, unique within the document."""
    drafts = [_draft(s) for s in segments]
    titles = [d.title for d in drafts]
    extended: set[int] = set()

    def duplicates() -> list[list[int]]:
        groups: dict[str, list[int]] = defaultdict(list)
        for n, title in enumerate(titles):
            groups[title.casefold()].append(n)
        return [g for g in groups.values() if len(g) > 1]

    def extend(n: int, title: str) -> None:
        titles[n] = title
        extended.add(n)

    # 1. Paragraphs titled by a shared heading get their own lead words ("Data Retention — How
    #    long we keep logs"); the same lead words in different sections get their heading.
    for group in duplicates():
        headings = {(drafts[n].heading or "").casefold() for n in group}
        for n in group:
            d = drafts[n]
            if d.from_heading:
                detail = d.detail(len(d.title))
                if detail and detail.casefold() != d.title.casefold():
                    extend(n, f"{d.title}{SEPARATOR}{detail}")
            elif d.heading and len(headings) > 1 and d.heading.casefold() not in d.title.casefold():
                extend(n, f"{d.heading}{SEPARATOR}{d.title}")
    # 2. Same heading in different sections ("User experiences" under each policy): the
    #    section that tells them apart.
    for group in duplicates():
        paths = [segments[n].heading_path for n in group]
        common = 0
        while all(len(p) > common and p[common] == paths[0][common] for p in paths):
            common += 1
        for n, path in zip(group, paths, strict=True):
            section = _heading(path[common : common + 1]) or ""
            section = lead_words(section, SECTION_CHARS, reach=SECTION_CHARS)
            if section and section.casefold() not in titles[n].casefold():
                titles[n] = f"{section}{SEPARATOR}{titles[n]}"
    # 3. Still the same: the lead words that follow the title.
    for group in duplicates():
        for n in group:
            d = drafts[n]
            if n not in extended and not d.from_heading:
                detail = d.detail(len(d.title))
                if detail and detail.casefold() not in d.title.casefold():
                    extend(n, f"{d.title}{SEPARATOR}{detail}")
    # 4. Last resort (repeated text): a number, in document order.
    for group in duplicates():
        for k, n in enumerate(group[1:], start=2):
            titles[n] = f"{titles[n]} ({k})"
    return titles


# --- one provision --------------------------------------------------------------------------------


def _draft(seg: Segment) -> _Draft:
    return _draft_of(seg.text, seg.heading_path, seg.kind, seg.label, seg.context)


@functools.lru_cache(maxsize=16384)
def _draft_of(
    text: str, heading_path: tuple[str, ...], kind: str, label: str | None, context: str | None
) -> _Draft:
    """A provision's draft title from what it says (not where): successive versions of a document
    share most provisions, so a history build drafts each one once."""
    heading = _heading(heading_path)
    if kind == "table_row":
        return _row_draft(text, context, heading)
    raw = text[:1200]
    first, more = _first_line(raw)
    plain = clean(first)
    if label is not None:
        label, rest = _label_as_written(plain)
        own = _bold_lead(first) or _line_lead(rest, more) or _sentence_title(rest)
        if own:
            return _Draft(f"{label} {own}".strip(), _after(rest, own), heading, False)
        cut = lead_words(rest)
        if cut:
            return _Draft(f"{label} {cut}".strip(), "", heading, False)
    lead = _bold_lead(first) or _link_lead(first)
    if lead:
        return _Draft(lead, _after(plain, lead), heading, False)
    if heading and kind in ("paragraph", "clause"):
        rest = plain if len(plain) >= MIN_LEAD_CHARS else f"{plain} {clean(more)}".strip()
        return _Draft(heading, rest, heading, True)
    lead = _line_lead(plain, more)
    if lead:
        return _Draft(lead, _after(plain, lead) or clean(more), heading, False)
    title = _capitalise(lead_words(plain)) or _fallback(text)
    return _Draft(title, _after(plain, title), heading, False)


def _first_line(raw: str) -> tuple[str, str]:
    """The provision's first line (its lead) and the rest; images dropped."""
    if "![" in raw:
        raw = _IMAGE.sub(" ", raw)
    parts = [p for p in _LINE_BREAK.split(raw.strip(), maxsplit=4) if _has_word(clean(p))]
    if not parts:
        return raw.strip(), ""
    if len(parts) > 1 and clean(parts[0]).endswith(":") and len(parts[0].split()) <= 2:
        return f"{clean(parts[0])} {clean(parts[1])}", " ".join(parts[2:])  # "ANY:" over its list
    return parts[0], " ".join(parts[1:])


def _line_lead(plain: str, more: str) -> str | None:
    """A short first line over more text ("Other Information" above its paragraph) is a title;
    a lead-in ("You must not:") or a sentence is not."""
    if not more or not _has_word(clean(more)):
        return None
    words = plain.split()
    if not 0 < len(words) <= BOLD_LEAD_WORDS or re.search(r"[.,;:!]$", plain):
        return None
    if not (words[0][0].isupper() or words[0][0].isdigit()) or not _balanced(plain):
        return None
    return plain


def _row_draft(raw: str, context: str | None, heading: str | None) -> _Draft:
    cells = [clean(c[:600]) for c in raw.strip().strip("|").split("|")]
    filled = [(n, c) for n, c in enumerate(cells) if _has_word(c)]
    if not filled:
        return _Draft(_fallback(raw), "", heading, False)
    index, first = filled[0]
    others = " ".join(c for _, c in filled[1:])
    header = [clean(h) for h in (context or "").split(" | ")]
    column = header[0] if index == 0 and header and header[0] else ""
    title = _capitalise(lead_words(first))
    if (
        len(first.split()) <= NAME_CELL_WORDS
        and column
        and len(column.split()) <= 3
        and not re.search(r"[.!?:…]$", column)
        and column.casefold() != first.casefold()
    ):
        title = f"{column}: {first}"
    elif not re.search(r"[^\W\d_]", first) and others:  # "3 | N/A | …": a row number
        title = f"{first}{SEPARATOR}{_capitalise(lead_words(others, 40))}"
    rest = _after(first, title) if title in first else ""
    return _Draft(title, f"{rest} {others}".strip(), heading, False)


@functools.lru_cache(maxsize=4096)
def _heading(path: tuple[str, ...]) -> str | None:
    for raw in reversed(path):
        heading = dedupe_label(clean(raw)).rstrip(":").strip()
        if _has_word(heading):
            if len(heading) > HEADING_CHARS:
                heading = lead_words(heading, HEADING_CHARS)
            return heading
    return None


def _label_as_written(plain: str) -> tuple[str, str]:
    """("8.", "Sell, rent, …"); a label written twice ("5. 5. Termination") counts once."""
    plain = dedupe_label(plain)
    _, rest = split_label(plain)
    label = plain[: len(plain) - len(rest)].strip(" :–—-")
    return label, rest


def dedupe_label(text: str) -> str:
    """Drop a list number before the text's own number: "5. 5. Termination" → "5. Termination",
    "3. 2. How We Use Your Data" → "2. How We Use Your Data" (the written number is the text's)."""
    first, rest = split_label(text)
    if first is None or not first.isdigit():
        return text
    second, _ = split_label(rest)
    if second is None or not second[0].isdigit():
        return text
    return rest


def _bold_lead(raw: str) -> str | None:
    """ "**Termination.** We may…" → "Termination": a short bold run that opens the text and ends
    like a title (a period or colon inside or just after it, the end of the line, or a new
    sentence after it)."""
    match = _BOLD_LEAD.match(raw)
    if not match:
        return None
    inner = clean(match["lead"])
    rest = raw[match.end() :].strip(" *_")
    if not _has_word(clean(rest)) and match["after"] not in ("", "<"):
        return None  # the whole provision is bold: not a lead
    after = match["after"]
    titled = re.search(r"[.:!?–—-]$", inner) or after in ("", ".", ":", "—", "–", "-", "<")
    if not titled and not (after == " " and rest[:1].isupper()):
        return None  # "**Do not** share your password": emphasis, not a title
    _, inner = split_label(inner)
    inner = _strip_end(inner)
    words = inner.split()
    if not words or len(words) > BOLD_LEAD_WORDS or inner.casefold() in _GENERIC_LEADS:
        return None
    return inner if _balanced(inner) else None


def _link_lead(raw: str) -> str | None:
    """ "[Your activity data](…): This is data…" → "Your activity data"."""
    match = _LINK_LEAD.match(raw)
    if not match:
        return None
    lead = _strip_end(clean(match["lead"]))
    return lead if 0 < len(lead.split()) <= 8 and _balanced(lead) else None


def _sentence_title(text: str) -> str | None:
    """A labelled clause's inline title: its first sentence when that is short ("Age
    requirements" in "1.1 Age requirements. Use of …")."""
    match = _SENTENCE_END.search(text, 0, LEAD_CHARS + 2)
    if not match:
        return None
    title = trim(text[: match.end()])
    return title or None


def _after(text: str, title: str) -> str:
    """The text after the words that made its title."""
    at = text.find(title)
    if at < 0:
        return text
    return text[at + len(title) :].lstrip(" .:;,!?–—-*)")


# --- text helpers ---------------------------------------------------------------------------------


def clean(markdown: str) -> str:
    """Markdown or HTML → one line of readable text: links, images, emphasis, tags, entities,
    escapes, pipes and leading heading or bullet markers gone."""
    if "![" in markdown:
        markdown = _IMAGE.sub(" ", markdown)
    identifier = _IDENTIFIER.fullmatch(markdown.strip())
    if identifier:  # a cookie or field name: "_ga" is a name, not emphasis
        return identifier[1]
    text = plain_text(markdown)
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    text = _LEADING_JUNK.sub("", text.replace("*", " ").replace("`", ""))
    return re.sub(r"\s+", " ", text).strip()


def lead_words(text: str, limit: int = LEAD_CHARS, reach: int | None = None) -> str:
    """The opening of ``text`` cut at a natural boundary: the first sentence, else the last
    clause boundary (",", ";", ":", " – ", " (") past ``MIN_LEAD_CHARS``, both within ``reach``
    (default ``limit`` + 16), else before a phrase ("… attire | that would …") or at a word
    boundary before ``limit``; never ending on a dangling word or inside brackets."""
    text = text.strip()[: limit * 4]
    if len(text) <= limit:  # the whole text: not cut, so no dangling word to drop
        return _strip_end(_drop_unbalanced(text)) or trim(text) or _strip_end(text)
    reach = limit + BOUNDARY_CHARS - LEAD_CHARS if reach is None else reach
    sentence = _SENTENCE_END.search(text, 0, reach + 1)
    if sentence and sentence.end() >= MIN_LEAD_CHARS:
        cut = text[: sentence.end()]
    else:
        ends = [m.start() for m in _CLAUSE_END.finditer(text, 0, reach + 1)]
        ends = [e for e in ends if MIN_LEAD_CHARS <= e <= reach and not _enumerating(text, e)]
        cut = text[: ends[-1]] if ends else _phrase_cut(text, limit)
    return trim(cut) or trim(text[: limit + 1].rsplit(" ", 1)[0]) or _strip_end(text[:limit])


def _enumerating(text: str, at: int) -> bool:
    """A comma inside an enumeration ("supports, promotes, or represents") is no boundary."""
    return text[at] == "," and _ENUMERATION.match(text, at + 1) is not None


def _phrase_cut(text: str, limit: int) -> str:
    """Cut before the last phrase that starts within ``limit`` ("We recommend streamers wear
    attire | that would be publicly…"), if it leaves enough words; else at a word boundary."""
    head = text[: limit + 1].rsplit(" ", 1)[0]
    words = head.split(" ")
    for n in range(len(words) - 1, 0, -1):
        if words[n].casefold() in _PHRASE_STARTS:
            cut = " ".join(words[:n])
            if len(cut) >= limit * PHRASE_SHARE:
                return cut
            break
    return head


def trim(text: str) -> str:
    """Close a cut title: unbalanced brackets and quotes, trailing punctuation and dangling words
    removed; a final "?" or "!" kept."""
    text = text.strip()
    for _ in range(8):
        before = text
        text = _drop_unbalanced(text)
        text = _strip_end(text)
        words = text.split()
        while len(words) > 1 and _dangling(words[-1]):
            words.pop()
        text = _strip_end(" ".join(words))
        if text == before:
            break
    return text if _has_word(text) and not _dangling_only(text) else ""


def _strip_end(text: str) -> str:
    """Trailing punctuation, ellipses and a list's "; and" / "; or" removed."""
    text = _TRAILING_CONNECTOR.sub("", _TRAILING_JUNK.sub("", text.strip()))
    while text.endswith((".", "…")):
        text = _TRAILING_CONNECTOR.sub("", _TRAILING_JUNK.sub("", text[:-1]))
    return text.strip()


def _drop_unbalanced(text: str) -> str:
    for opening, closing in (("(", ")"), ("[", "]"), ("{", "}"), ("“", "”"), ("«", "»")):
        while text.count(opening) > text.count(closing):
            at = text.rfind(opening)
            text = text[:at] if at > 0 else text.replace(opening, "", 1)
    for closing, opening in ((")", "("), ("]", "["), ("”", "“")):
        if text.count(closing) > text.count(opening):
            text = text.replace(closing, "")
    if text.count('"') % 2:
        at = text.rfind('"')
        text = text[:at] if at > len(text) // 2 else text[:at] + text[at + 1 :]
    return text


def _balanced(text: str) -> bool:
    return _drop_unbalanced(text) == text


def _dangling(word: str) -> bool:
    return word.strip("()[]\"'“”‘’,;:").casefold().rstrip(".") in DANGLING


def _dangling_only(text: str) -> bool:
    return all(_dangling(w) for w in text.split())


def _has_word(text: str) -> bool:
    return re.search(r"[^\W_]", text) is not None


def _capitalise(text: str) -> str:
    first = text.split(" ", 1)[0]
    if first.isalpha() and first.islower():
        return text[0].upper() + text[1:]
    return text


def _fallback(raw: str) -> str:
    """Odd input with no readable lead: the first words of its plain text, as they are."""
    words = (clean(raw) or plain_text(raw) or raw.strip()).split()
    return " ".join(words[:8]) or raw.strip()[:40] or "—"


# --- checks (bench/provision_titles.py, the web tests) -------------------------------------------


def is_fragment(title: str, heading_path: Sequence[str], text: str) -> bool:
    """Whether ``title`` is a fragment of its provision (``heading_path``, ``text``): it ends
    with "…", or on a dangling word where its source goes on ("share (with the" is a fragment; a
    heading or bold lead that itself ends "… Interact With" is not)."""
    if title.endswith(("…", "...")):
        return True
    tail = re.sub(r"\s\(\d+\)$", "", title).split(SEPARATOR)[-1]
    words = tail.split()
    if not words or words[-1].strip("()[]\"'“”‘’,;:").casefold().rstrip(".") not in DANGLING:
        return False
    tail = (split_label(tail)[1] or tail).casefold()
    sources = [clean(h).casefold() for h in [*heading_path, text[:3000]]]
    for source in sources:
        at = source.find(tail)
        if at >= 0 and re.match(r"$|[\s*]*[.:;,!?)]|\s*$", source[at + len(tail) :]):
            return False  # the source ends there too: a whole heading or sentence
    return True


def is_unbalanced(title: str) -> bool:
    """A bracket or quote left open ("a)" is a label, not an open bracket)."""
    title = " ".join(split_label(part)[1] for part in title.split(SEPARATOR))
    pairs = (("(", ")"), ("[", "]"), ("“", "”"))
    return any(title.count(a) != title.count(b) for a, b in pairs) or title.count('"') % 2 == 1


def has_repeated_label(title: str) -> bool:
    """A label written twice: "5. 5. Termination", "3. 2. How We Use Your Data"."""
    label, _ = split_label(title)
    return label is not None and dedupe_label(title) != title
