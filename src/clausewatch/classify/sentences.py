"""Sentence spans of a provision's Markdown text, as exact offsets into the original text.

Approach: one compiled regex finds candidate boundaries (line breaks, and ``. ! ?`` plus closing
quotes/brackets/emphasis before whitespace); a few cheap checks on the words either side reject
abbreviations, initials, clause markers ("1. ", "a. ", "iv. ") and lowercase continuations. Dots
with no whitespace after them (URLs, domains, e-mails, link targets, decimals, versions) are never
candidates. Semicolons only split sentences longer than ``LONG_WORDS`` words (see ``_split_long``).

Why not a library: measured by ``bench/sentence_split.py`` on the 19,705 provisions (median 26
words) of the latest versions of the 133 PGA documents, one core, splitter alone. "Short cuts"
are spans of <= 3 words that are not a whole line (heading, list item, table row): wrong splits.

==============  ============  ===========  ======  ============  ==========
splitter        provisions/s  µs/provis.   spans   <= 3 words    short cuts
==============  ============  ===========  ======  ============  ==========
old regex           ~300,000          3.4  68,545  32.6 %        26.0 %
this module          ~52,000         19.3  43,393  12.7 %         1.9 %
pysbd 0.3.4           ~1,070          936  47,305  17.1 %        14.7 %
syntok 1.4.4          ~5,900          169  40,027  12.3 %         4.2 %
nupunkt 0.8.0        ~60,600         16.5  34,956   5.4 %         3.7 %
==============  ============  ===========  ======  ============  ==========

pysbd and syntok are far over the 0.2 ms budget. nupunkt is as fast but knows no Markdown: it
keeps list items, table rows and headings in one span with the lead-in (fewer, longer spans,
hence its lower "<= 3 words" share) and still cuts more inside lines. The remaining short spans
here are real lines: table cells ("Name", "Description"), headings, short list items
("*   Log data"), lead-ins ("This includes:"), run-in headings ("**A. Ownership.**").
"""

from __future__ import annotations

import re

Span = tuple[int, int]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


LONG_WORDS = 60  # a sentence longer than this may be split at "; " ...
PIECE_WORDS = 12  # ... into pieces of at least this many words each

# A line break, or sentence-final punctuation (+ closing quotes/brackets/emphasis) before spaces.
_CANDIDATE = re.compile(
    r"(?P<br>[ \t]*<br\s*/?>\s*)|(?P<cell>[ \t]\|[ \t])|(?P<nl>[ \t]*\n\s*)"
    r"|[.!?]+[\"'”’»)\]*_]*(?P<ws>[ \t\u00a0]+)(?=\S)"
)
_SEMI = re.compile(r";[ \t\u00a0]+(?=\S)")
_WORD = re.compile(r"\w+")
_ALNUM = re.compile(r"[^\W_]")
_INITIALS = re.compile(r"[^\W\d_](?:\.[^\W\d_])*")  # "J", "U.S.C", "E.U"
# A clause or list label alone ("1.", "2.3", "(a)", "iv.", "**b.") is not a sentence.
_LABEL_ONLY = re.compile(
    r"[\s*_#>|-]*\\?\(?(?:\d{1,3}(?:\.\d{1,3})*|[a-z]|[ivxlc]{1,6})\\?[.)]?[\s*_]*", re.I
)
# A label that starts the next sentence, e.g. "... data. (a) you may ..." or "... use. b. you".
_NEXT_LABEL = re.compile(r"(?:\*\*|__)?\(?(?:\d{1,3}(?:\.\d{1,3})*|[a-z]|[ivx]{1,4})\\?[.)]\s")
# A new Markdown block on the next line: list item, table row, heading, quote, rule.
_BLOCK_START = re.compile(r"(?:[-*+]|\d{1,9}[.)]|\(?[a-z]{1,4}[.)])[ \t]|[|#>]")
_OPENERS = "\"'“‘«*_[(#>|¿¡"

# Abbreviations that never end a sentence (lowercase, final dot removed).
_NEVER_FINAL = _words(
    "e.g eg i.e ie cf viz vs v approx ca incl esp resp mr mrs ms dr prof st no nos nr art arts "
    "sec secs sect para paras p pp ch cl fig vol ref dept reg regs min max est"
)
# Abbreviations that may end a sentence: split only before a typical sentence opener.
_MAYBE_FINAL = _words("etc inc ltd llc corp co plc jr sr gmbh bros")
_STARTERS = _words(
    "a all also an any as at by each for from however if in it its learn no nothing note "
    "notwithstanding our please see some subject such that the these they this those to under "
    "unless we what when where which while who why with without you your"
)


def sentence_spans(text: str) -> list[Span]:
    """Non-empty sentence spans of ``text``, trimmed of whitespace, in order, never overlapping.

    Text with no boundary gives ``[(0, len(text))]`` (the classifier's fallback); empty or
    whitespace-only text gives ``[]``. Spans with no letter or digit ("**", "_") are folded into
    a neighbour, so every span has a word.
    """
    spans: list[Span] = []
    start = 0
    for m in _CANDIDATE.finditer(text):
        cut = m.start("ws") if m.group("ws") is not None else m.start()
        if _is_boundary(text, start, m):
            _add(text, start, cut, spans)
            start = m.end()
    _add(text, start, len(text), spans)
    spans = [piece for span in _merge_markup(text, spans) for piece in _split_long(text, span)]
    return spans or ([(0, len(text))] if text.strip() else [])


def _add(text: str, start: int, end: int, spans: list[Span]) -> None:
    """Append ``text[start:end]`` trimmed of whitespace and table pipes, if anything is left."""
    while start < end and (text[start].isspace() or text[start] == "|"):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] == "|"):
        end -= 1
    if end > start:
        spans.append((start, end))


def _merge_markup(text: str, spans: list[Span]) -> list[Span]:
    """Fold spans with no letter or digit ("**", "_", "* * *") into the span before (or after)."""
    out: list[Span] = []
    pending: int | None = None  # start of leading markup-only spans
    for a, b in spans:
        if _ALNUM.search(text, a, b) is None:
            if out:
                out[-1] = (out[-1][0], b)
            elif pending is None:
                pending = a
            continue
        out.append((a if pending is None else pending, b))
        pending = None
    if pending is not None:
        out.append((pending, spans[-1][1]))
    return out


def _is_boundary(text: str, start: int, m: re.Match[str]) -> bool:
    if m.group("br") is not None:
        return True  # an HTML line break inside a Markdown table cell or paragraph
    if m.group("cell") is not None:  # " | " between the cells of a table row
        return _in_table_row(text, m.start())
    if m.group("nl") is not None:
        return _line_break_ends(text, m)
    so_far = text[start : m.start()]
    if _LABEL_ONLY.fullmatch(so_far):
        return False  # "1. Terms" / "a. Prohibited" / "iv. You": a label, not a sentence
    nxt = m.end()
    if text.startswith(("| ", "|\t"), nxt) and _in_table_row(text, m.start()):
        return True  # "… services. | If you …": the full stop took the cell separator's space
    if _NEXT_LABEL.match(text, nxt):
        return True
    word = _next_word(text, nxt)
    if not word or not (word[0].isupper() or word[0].isdigit()):
        return False  # a lowercase continuation, as after an unknown abbreviation
    if text[m.start()] != ".":
        return True
    return _period_ends(so_far, word)


def _in_table_row(text: str, i: int) -> bool:
    """Whether ``i`` lies on a line that starts as a Markdown table row."""
    line_start = text.rfind("\n", 0, i) + 1
    return text[line_start:i].lstrip().startswith("|")


def _period_ends(so_far: str, next_word: str) -> bool:
    """Whether the period after ``so_far`` ends a sentence, given the capitalised next word."""
    parts = so_far.rsplit(None, 1)
    word = parts[-1].lstrip("*_([\"'“‘").lower() if parts else ""
    if word in _NEVER_FINAL:
        return False  # "e.g. The", "No. 5"
    if word in _MAYBE_FINAL or _INITIALS.fullmatch(word):
        # "Meta Platforms, Inc. We" and "provided by X. You" but not "Inc. Menlo", "J. Smith"
        return next_word.lower() in _STARTERS
    return True


def _next_word(text: str, i: int) -> str:
    """The word at ``i``, after any opening quotes, brackets or emphasis ("" if none)."""
    while i < len(text) and text[i] in _OPENERS:
        i += 1
    w = _WORD.match(text, i)
    return w.group() if w else ""


def _line_break_ends(text: str, m: re.Match[str]) -> bool:
    """A line break ends a sentence unless it is a soft wrap inside a paragraph."""
    if m.group("nl").count("\n") > 1 or m.end() >= len(text):
        return True  # blank line: a new paragraph
    nxt, prev = text[m.end()], text[m.start() - 1] if m.start() else "\n"
    if not nxt.islower() or _BLOCK_START.match(text, m.end()):
        return True
    return prev in ".!?:;|#\n"


def _split_long(text: str, span: Span) -> list[Span]:
    """Split a very long sentence at "; " into pieces of at least ``PIECE_WORDS`` words.

    Clause lists joined by ";" stay one sentence (they read as one rule); only run-on sentences
    over ``LONG_WORDS`` words are cut, so a support span stays quotable.
    """
    start, end = span
    if len(_WORD.findall(text, start, end)) <= LONG_WORDS:
        return [span]
    pieces: list[Span] = []
    for m in _SEMI.finditer(text, start, end):
        if (
            len(_WORD.findall(text, start, m.start())) >= PIECE_WORDS
            and len(_WORD.findall(text, m.end(), end)) >= PIECE_WORDS
        ):
            pieces.append((start, m.start() + 1))
            start = m.end()
    pieces.append((start, end))
    return pieces
