"""Split a version's normalised Markdown into provisions: the clause-level units a lawyer cites.

A provision is a numbered clause, a paragraph, a list item that carries its own obligation, or a
table body row. Headings (Markdown, setext, bold-only lines, numbered or short title lines in flat
documents), navigation (tables of contents, "Back to top", breadcrumbs, separators) and empty
fragments are not provisions; they give provisions their ``heading_path``.

Every span is exact (``text[s.start:s.end] == s.text``), spans are in order and never overlap, and
together they cover every substantive character (see ``substantive_spans``). The parser is a single
pass over lines followed by a few classification passes; it never raises on odd input.
"""

from __future__ import annotations

import functools
import itertools
import re
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

SegmentKind = Literal["clause", "paragraph", "list_item", "table_row"]

# --- line patterns --------------------------------------------------------------------------------
_ATX = re.compile(r"^[ \t]*(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^[ \t]*(={2,}|-{2,})[ \t]*$")
_BREAK = re.compile(r"^ {0,3}[-*_](?:[ \t]*[-*_]){2,}[ \t]*$")
_SEPARATOR = "- - -"  # Open Terms Archive joins multi-source documents with this line
_MARKER = re.compile(r"^([ \t]*)(?:([-*+])|(\d{1,9})[.)])(?:[ \t]+|$)")
_QUOTE = re.compile(r"^[ \t]{0,3}(?:>[ \t]?)+")
_TABLE = re.compile(r"^ {0,3}\|")
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")

# --- inline patterns ------------------------------------------------------------------------------
_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\((?:[^()\s]|\([^)]*\))*(?:\s+\"[^\"]*\")?\)")
_LINK_URL = re.compile(r"\]\(((?:[^()\s]|\([^)]*\))*)")
_LINK_TARGETS = re.compile(r"\]\((?:[^()\s]|\([^)]*\))*(?:\s+\"[^\"]*\")?\)")
_EMPHASIS = re.compile(r"(\*\*|__|(?<![\w*])\*(?!\s)|(?<![\w_])_(?!\s)|(?<=\S)\*|(?<=\S)_(?!\w))")
_BR = re.compile(r"<br\s*/?>", re.I)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_SPACES = re.compile(r"\s+")

_ROMAN = r"(?:x{0,3}(?:ix|iv|v?i{1,3}|v)|x{1,3})"
_LABEL = re.compile(
    rf"""^(?:
        (?P<chapter>(?:chapter|part|title)\s+(?:\d{{1,3}}|[ivxlc]{{1,6}})\b\.?)
      | (?:section|article|clause|§{{1,2}})\s*(?P<sec>\d{{1,3}}(?:\.\d{{1,3}})*[a-z]?)\b\.?
        (?=\s*(?:$|[.:–—-]|(?-i:[A-Z"“(])))  # a title follows, not "Section 2 below explains"
      | (?P<dotted>\d{{1,3}}(?:\.\d{{1,3}})+)(?:\.(?!\d))?(?=\s|$)
      | (?P<num>\d{{1,3}})[.)](?=\s|$)
      | \((?P<par>{_ROMAN}|[a-z]{{1,2}}|\d{{1,3}})\)(?=\s|$)
      | (?P<let>{_ROMAN}|[a-z])[.)](?=\s)
    )""",
    re.X | re.I,
)
_NAV_LINE = re.compile(
    r"^\W*(?:(?:back|return|go)\s+to\s+(?:the\s+)?top|top\s+of\s+(?:the\s+)?page|skip\s+to\s+"
    r"(?:the\s+)?(?:main\s+)?(?:content|navigation|main)|skip\s+navigation|jump\s+to\s+"
    r"(?:content|navigation|section)|print(?:\s+this\s+page)?|table\s+of\s+contents|contents"
    r"|on\s+this\s+page|in\s+this\s+(?:article|section|page)|share(?:\s+this\s+page)?"
    r"|close|(?:expand|collapse)(?:\s+all)?|show\s+(?:more|less))\W*$",  # buttons
    re.I,
)
_NAV_LINK_TEXT = re.compile(
    r"^\W*(?:learn|read|see|find\s+out|view)\s+more\b.{0,40}$|^\W*(?:click\s+)?here\W*$|^\W*back\W*$",
    re.I,
)
_INLINE_CLAUSE = re.compile(
    r"(?<=[.;:!?)\"*]) +(?=\*\*\"?(?:[IVXLC]+|[A-Z]|\d{1,3}(?:\.\d{1,3})*)\.\s)"
)
_FOOTNOTE = re.compile(r"\W*\d{1,3}\W*")
_BREADCRUMB_SEP = re.compile(r"\s(?:>|›|»|/|\|)\s")

# Thresholds, in words of plain text.
PLAIN_ITEM_WORDS = 12  # a list whose median item is this short is one provision (with its lead-in)
HEADING_WORDS = 15  # a bold-only line longer than this is an emphasised paragraph, not a heading
TITLE_LINE_WORDS = 8  # a plain line this short followed by a paragraph acts as a heading
TINY_WORDS = 8  # runs of paragraphs this short (address blocks, cookie fields) are merged
TINY_RUN_CHARS = 1200  # ...up to this length
MENU_REPEATS = 3  # a mostly-links list repeated this often in one document is a site menu
GIANT_CHARS = 6000  # a provision longer than this is split at inline bold clause labels, if any

# The string functions below are pure and asked again and again of the same paragraphs, lines
# and provisions: within a text (a provision's words are counted while classifying, splitting
# and titling it) and across the versions of a document, which share most of their text. They
# are memoised; the cache holds about the paragraphs of a build's documents.
_memo = functools.lru_cache(maxsize=32768)


@dataclass(frozen=True)
class Segment:
    start: int  # exact span in the version text: text[start:end] == text
    end: int
    text: str
    heading_path: tuple[str, ...]  # plain heading texts, outermost first
    kind: SegmentKind
    label: str | None  # the provision's own clause number ("4.2", "(a)", "iii"), else None
    # Table rows: the header row; list items: the lead-in ("You must not:"), in plain text.
    context: str | None = None

    # The document-level title (unique within its document), set by ``segment``; a segment built
    # on its own (from a stored layout) computes its title alone. Not part of equality.
    doc_title: str | None = field(default=None, compare=False, repr=False)
    # Where ``context`` was read in the text (the lead-in paragraph or item, the header row):
    # ``context_text`` of it is ``context``. Stored with the revision so pages can quote it.
    context_span: tuple[int, int] | None = field(default=None, compare=False, repr=False)

    @property
    def title(self) -> str:
        """Human title (see ``provisions/titles.py``): the clause's label and inline title or bold
        lead ("1.2 Registration"), a table row's first cell, else the heading for prose, else its
        lead words cut at a natural boundary; unique within the document for ``segment``'s
        output."""
        if self.doc_title is not None:
            return self.doc_title
        from clausewatch.provisions.titles import segment_title

        return segment_title(self)


def segment(text: str) -> list[Segment]:
    """The provisions of ``text`` in document order."""
    units = _units(_classify(_parse(text), text), text)
    pieces = [piece for unit in units for piece in _split_giant(unit, text)]
    return titled([_to_segment(text, p) for p in pieces if _has_words(text[p.start : p.end])])


def titled(segments: list[Segment]) -> list[Segment]:
    """The segments of one document with their document-level titles (unique in the list)."""
    from clausewatch.provisions.titles import titles_for

    titles = titles_for(segments)
    return [  # as ``dataclasses.replace`` would, without its cost per field
        Segment(
            s.start, s.end, s.text, s.heading_path, s.kind, s.label, s.context, t, s.context_span
        )
        for s, t in zip(segments, titles, strict=True)
    ]


@_memo
def _has_words(markdown: str) -> bool:
    """Readable words, not bare "*", "|" or markup such as "<br>": else not a provision."""
    return _WORD.search(plain_text(markdown)) is not None


def substantive_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the text that provisions must cover: paragraphs, list item texts and table body
    rows, trimmed; headings, navigation, separators and table header rows excluded."""
    spans: list[tuple[int, int]] = []
    for block in _classify(_parse(text), text):
        if block.kind == "para":
            spans.append((block.start, block.end))
        elif block.kind == "list":
            spans.extend((item.start, item.own_end) for item in _walk(block.items))
        elif block.kind == "table":
            spans.extend((row.start, row.end) for row in block.rows if not row.header)
    return [(s, e) for s, e in spans if _has_words(text[s:e])]


@_memo
def plain_text(markdown: str) -> str:
    """Markdown → readable text: link targets, emphasis marks, `<br>` and pipes dropped."""
    text = _LINK.sub(lambda m: m[1], markdown) if "](" in markdown else markdown
    if "<" in text:
        text = _BR.sub(" ", text)
    if "*" in text or "_" in text:
        text = _EMPHASIS.sub("", text)
    text = text.replace("\\", "").replace("|", " ")
    return _SPACES.sub(" ", text).strip()


@_memo
def split_label(text: str) -> tuple[str | None, str]:
    """(clause label, rest) of a provision or heading text; emphasis around the label is ignored."""
    stripped = text.lstrip("#> \t")
    if "*" in stripped or "_" in stripped:
        stripped = _EMPHASIS.sub("", stripped).lstrip()
    match = _LABEL.match(stripped)
    if not match:
        return None, stripped
    if match["chapter"]:
        label = match["chapter"].rstrip(".")
    elif match["par"]:
        label = f"({match['par']})"
    else:
        label = match["sec"] or match["dotted"] or match["num"] or match["let"]
    return label, stripped[match.end() :].lstrip(" .:-–—\t")


@_memo
def word_count(markdown: str) -> int:
    """Words of the visible text (link targets are not words)."""
    if "](" in markdown:
        markdown = _LINK_TARGETS.sub("]", markdown)
    return len(_WORD.findall(markdown))


def clause_label(text: str) -> str | None:
    """The clause label that ``text`` starts with, if any."""
    return split_label(text[:120])[0]


# --- parsing: lines → blocks ----------------------------------------------------------------------


@dataclass
class _Line:
    start: int
    end: int  # end of content, trailing whitespace excluded
    text: str

    @property
    def blank(self) -> bool:
        return self.start == self.end

    @property
    def indent(self) -> int:
        return len(self.text) - len(self.text.lstrip(" \t"))


@dataclass
class _Item:
    start: int  # content start (after a bullet; an ordered number is kept: it is the label)
    own_end: int  # end of the item's own lines, children excluded
    indent: int
    children: list[_Item] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.children[-1].end if self.children else self.own_end


@dataclass
class _Row:
    start: int
    end: int
    text: str
    header: bool = False


@dataclass
class _Block:
    kind: str  # heading | para | list | table | break | separator | nav
    start: int
    end: int
    level: float = 0  # headings: 1-6 Markdown, 7+ inferred from bold/numbered/title lines
    heading: str = ""
    lines: int = 1
    items: list[_Item] = field(default_factory=list)
    rows: list[_Row] = field(default_factory=list)
    header: str | None = None  # tables: the header row's plain text
    header_span: tuple[int, int] | None = None  # ... and where that row is


def _lines(text: str) -> list[_Line]:
    """Lines with exact offsets; block-quote markers are stripped so that quoted Markdown
    (WeChat's schedules) parses like any other."""
    out, pos = [], 0
    for raw in text.split("\n"):
        content = raw.rstrip()
        quote = _QUOTE.match(content) if ">" in content[:8] else None
        body = content[quote.end() :] if quote else content
        if body.strip():
            lead = len(content) - len(body) + len(body) - len(body.lstrip())
            out.append(_Line(pos + lead, pos + len(content), body))
        else:
            out.append(_Line(pos + len(content), pos + len(content), ""))
        pos += len(raw) + 1
    return out


def _parse(text: str) -> list[_Block]:
    lines, blocks, i = _lines(text), [], 0
    while i < len(lines):
        line = lines[i]
        if line.blank:
            i += 1
            continue
        block, i = _parse_block(lines, i)
        blocks.append(block)
    return blocks


def _parse_block(lines: list[_Line], i: int) -> tuple[_Block, int]:
    line = lines[i]
    atx = _ATX.match(line.text)
    if atx:
        kind = "heading" if _WORD.search(plain_text(atx[2] or "")) else "nav"  # bare "###"
        return _Block(kind, line.start, line.end, len(atx[1]), atx[2] or ""), i + 1
    if line.text.strip() == _SEPARATOR:
        return _Block("separator", line.start, line.end), i + 1
    underline = lines[i + 1].text.strip() if i + 1 < len(lines) else ""
    if _SETEXT.match(underline) and not _TABLE.match(line.text) and not _BREAK.match(line.text):
        level = 1 if underline[0] == "=" else 2  # "1. AGREEMENT\n---" too, in flat documents
        return _Block("heading", line.start, line.end, level, line.text.strip()), i + 2
    if _BREAK.match(line.text):
        return _Block("break", line.start, line.end), i + 1
    if _TABLE.match(line.text):
        return _parse_table(lines, i)
    if _MARKER.match(line.text):
        return _parse_list(lines, i)
    return _parse_para(lines, i)


def _interrupts(line: _Line) -> bool:
    """Does this line start a new block when it follows paragraph text?"""
    text = line.text
    return bool(
        _ATX.match(text) or _TABLE.match(text) or _BREAK.match(text) or _MARKER.match(text)
    ) or (text.strip() == _SEPARATOR)


def _parse_para(lines: list[_Line], i: int) -> tuple[_Block, int]:
    first = i
    i += 1
    while i < len(lines) and not lines[i].blank and not _interrupts(lines[i]):
        if _SETEXT.match(lines[i].text):  # multi-line setext heading: rare, keep the text
            start, end = lines[first].start, lines[i - 1].end
            level = 1 if lines[i].text.strip()[0] == "=" else 2
            heading = " ".join(ln.text.strip() for ln in lines[first:i])
            return _Block("heading", start, end, level, heading), i + 1
        i += 1
    return _Block("para", lines[first].start, lines[i - 1].end, lines=i - first), i


def _parse_table(lines: list[_Line], i: int) -> tuple[_Block, int]:
    rows: list[_Row] = []
    rule_at = -1
    while i < len(lines) and _TABLE.match(lines[i].text):
        line = lines[i]
        if _TABLE_RULE.match(line.text) and "-" in line.text:
            rule_at = len(rows)
        else:
            rows.append(_Row(line.start, line.end, line.text))
        i += 1
    header, header_row = None, None
    if rule_at == 1:
        rows[0].header = True
        header, header_row = _cells_text(rows[0].text), rows[0]
        # "| | |" over a first row of bold cells (LinkedIn): that bold row is the real header.
        if not header and len(rows) > 1 and _all_bold_cells(rows[1].text):
            rows[1].header = True
            header, header_row = _cells_text(rows[1].text), rows[1]
    for row in rows:  # rows with no text are empty fragments, not provisions
        row.header = row.header or not _cells_text(row.text)
    block = _Block("table", rows[0].start if rows else lines[i - 1].start, lines[i - 1].end)
    block.rows, block.header = rows, header or None
    if header and header_row is not None:
        block.header_span = (header_row.start, header_row.end)
    return block, i


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _cells_text(row: str) -> str:
    return " | ".join(c for c in (plain_text(cell) for cell in _cells(row)) if c)


def context_text(text: str, span: tuple[int, int], kind: str) -> str:
    """A segment's ``context`` read from its ``context_span`` of ``text``: a table row's header
    as its cells' plain text, a list item's lead-in as plain text."""
    raw = text[span[0] : span[1]]
    return _cells_text(raw) if kind == "table_row" else plain_text(raw)


def _all_bold_cells(row: str) -> bool:
    cells = [c for c in _cells(row) if c]
    return bool(cells) and all(c.startswith("**") and c.endswith("**") for c in cells)


def _parse_list(lines: list[_Line], i: int) -> tuple[_Block, int]:
    roots: list[_Item] = []
    stack: list[_Item] = []
    start, last, base = lines[i].start, i, lines[i].indent
    while i < len(lines):
        line = lines[i]
        if line.blank:
            j = i + 1
            while j < len(lines) and lines[j].blank:
                j += 1
            if j >= len(lines) or not (_MARKER.match(lines[j].text) or lines[j].indent > base):
                break
            i = j
            continue
        if _starts_heading(lines, i) or _TABLE.match(line.text) or _BREAK.match(line.text):
            break  # whole documents nested in list items (LinkedIn) keep their headings
        marker = _MARKER.match(line.text)
        if marker:
            item = _new_item(line, marker)
            while stack and stack[-1].indent >= item.indent:
                stack.pop()
            (stack[-1].children if stack else roots).append(item)
            stack.append(item)
        elif i > last + 1 and line.indent <= base:
            break  # after a blank line only indented lines continue an item
        else:
            item = stack[-1]  # the most recent item is the deepest open one
            if item.start == item.own_end:  # "*" alone, its text on the next line
                item.start = line.start
            item.own_end = line.end
        last = i
        i += 1
    for item in reversed(list(_walk(roots))):  # an empty item starts where its children do
        if item.start == item.own_end and item.children:
            item.start = item.own_end = item.children[0].start
    block = _Block("list", start, lines[last].end)
    block.items = roots
    return block, last + 1


def _starts_heading(lines: list[_Line], i: int) -> bool:
    if _ATX.match(lines[i].text) or lines[i].text.strip() == _SEPARATOR:
        return True
    return i + 1 < len(lines) and bool(_SETEXT.match(lines[i + 1].text))


def _new_item(line: _Line, marker: re.Match[str]) -> _Item:
    content = line.start  # an ordered number stays in the text: it is the clause label
    if marker[2] is not None:  # a bullet does not
        rest = line.text[marker.end() :]
        content += marker.end() - len(marker[1]) + len(rest) - len(rest.lstrip())
    return _Item(min(content, line.end), line.end, len(marker[1].expandtabs(4)))


def _walk(items: list[_Item]) -> Iterator[_Item]:
    for item in items:
        yield item
        yield from _walk(item.children)


# --- classification: headings that are not Markdown headings, navigation --------------------------


def _classify(blocks: list[_Block], text: str) -> list[_Block]:
    for block in blocks:
        if block.kind == "para":
            _classify_para(block, text[block.start : block.end])
        elif block.kind == "list":
            _classify_single_item(block, text)
    _title_lines(blocks, text)
    return _navigation(blocks, text)


def _classify_para(block: _Block, body: str) -> None:
    if block.lines > 1 or (len(body) > 300 and word_count(body) > 40):
        return  # prose: too long for a heading or a navigation line
    plain = plain_text(body)
    if not _WORD.search(plain) or _FOOTNOTE.fullmatch(plain) or _is_nav_line(body, plain):
        block.kind = "nav"  # empty, a stray footnote marker, or navigation
        return
    label, rest = split_label(plain)
    bold = _is_bold_line(body) and _bold_heading(plain, label, rest)
    if bold or (label is not None and _numbered_heading(label, rest)):
        _make_heading(block, body, 7)


def _classify_single_item(block: _Block, text: str) -> None:
    """A one-item ordered list such as "1. Definitions" followed by prose is a heading."""
    if len(block.items) != 1 or block.items[0].children:
        return
    body = text[block.start : block.end]
    if "\n" in body:
        return
    label, rest = split_label(plain_text(body))
    if label is not None and _numbered_heading(label, rest):
        _make_heading(block, body, 7)


def _make_heading(block: _Block, body: str, level: float) -> None:
    block.kind, block.heading, block.level = "heading", body, level


def _is_nav_line(body: str, plain: str) -> bool:
    if _NAV_LINE.match(plain):
        return True
    if len(_BREADCRUMB_SEP.findall(plain)) >= 2 and len(plain.split()) <= 14:
        home = plain.lower().startswith("home")
        return not re.search(r"[.;:]$", plain) and ("[" in body or home)
    return _link_only(body) and (_anchor_links(body) or bool(_NAV_LINK_TEXT.match(plain)))


def _is_bold_line(body: str) -> bool:
    rest = re.sub(r"(\*\*|__)(?:(?!\1).)+?\1", "", body.strip())
    return rest != body.strip() and not re.search(r"[^\W_]", _LINK.sub("", rest))


def _bold_heading(plain: str, label: str | None, rest: str) -> bool:
    words = len(_WORD.findall(plain))
    if words == 0 or words > HEADING_WORDS or plain.startswith("("):
        return False
    if plain.endswith((";", ",")):
        return False
    return not plain.endswith(".") or (label is not None and len(rest.split()) <= 10)


def _numbered_heading(label: str, rest: str) -> bool:
    if label.startswith("(") or (label.isalpha() and label.islower()):
        return False  # "(a) …" and "b. …" are clauses, not headings
    words = rest.split()
    if not words or len(words) > 12 or len(rest) > 120 or rest.endswith((";", ",", ":")):
        return False
    if not (words[0][0].isupper() or words[0][0].isdigit() or words[0][0] in "\"'"):
        return False
    if not rest.endswith("."):
        return True
    long_words = [w for w in words if len(w.strip(".,")) >= 4]
    capitalised = sum(w[0].isupper() for w in long_words)
    return len(words) <= 10 and capitalised * 2 >= len(long_words)


def _title_lines(blocks: list[_Block], text: str) -> None:
    """Short plain lines followed by prose act as headings in flat documents ("What are cookies?").
    A run of short lines (an address) stays prose."""
    short = [b.kind == "para" and b.lines == 1 and _is_short(text[b.start : b.end]) for b in blocks]
    for n, block in enumerate(blocks):
        if not short[n] or (n and short[n - 1]) or n + 1 >= len(blocks):
            continue
        body, nxt = text[block.start : block.end], blocks[n + 1]
        if nxt.kind in ("para", "list", "table") and not short[n + 1] and _title_like(body):
            _make_heading(block, body, 7)


def _is_short(body: str) -> bool:
    return (len(body) < 200 or "](" in body) and word_count(body) <= TINY_WORDS


def _title_like(body: str) -> bool:
    plain = plain_text(body)
    words = _WORD.findall(plain)
    if not words or len(words) > TITLE_LINE_WORDS or len(plain) > 80 or "[" in body:
        return False
    if re.search(r"[.,;:!]$", plain) or re.search(r"\d", plain):
        return False
    first = next((c for c in plain if c.isalpha()), "")
    return first.isupper()


def _navigation(blocks: list[_Block], text: str) -> list[_Block]:
    """Tables of contents (list items or link-only lines that repeat later headings or link to
    anchors in the page) and repeated site menus become navigation."""
    later: dict[str, int] = {}
    for n, block in enumerate(blocks):
        if block.kind == "heading":
            later[_heading_key(block.heading)] = n
    lists = Counter(text[b.start : b.end] for b in blocks if b.kind == "list")
    out: list[_Block] = []
    for n, block in enumerate(blocks):
        body = text[block.start : block.end]
        if block.kind == "list" and _is_menu(body, lists):
            block.kind = "nav"
        elif block.kind == "list":
            out.extend(_split_toc(block, text, later, n))
            continue
        elif block.kind == "para" and block.lines == 1 and _link_only(body):
            key = _heading_key(body)
            if key and later.get(key, -1) > n:
                block.kind = "nav"
        out.append(block)
    return out


def _split_toc(block: _Block, text: str, later: dict[str, int], n: int) -> list[_Block]:
    """Cut the table-of-contents items out of a list (a TOC may run into a real list)."""
    out: list[_Block] = []
    for is_toc, run in itertools.groupby(block.items, lambda i: _toc_item(i, text, later, n)):
        items = list(run)
        entries = sum(1 for _ in _walk(items))
        part = _Block("nav" if is_toc and entries >= 2 else "list", items[0].start, items[-1].end)
        part.items = items
        out.append(part)
    return out


def _toc_item(item: _Item, text: str, later: dict[str, int], n: int) -> bool:
    """Every entry repeats a later heading, links to an anchor or is empty; a short parent label
    ("Snap Terms of Service" over its section links) may stand over such entries."""
    entries = list(_walk([item]))
    for entry in entries:
        body = text[entry.start : entry.own_end]
        words = word_count(body)
        if words > 14:
            return False
        key = _heading_key(body)
        if not (
            not key
            or later.get(key, -1) > n
            or (_link_only(body) and _anchor_links(body))
            or (entry is item and len(entries) > 1 and words <= 4)
        ):
            return False
    return True


def _is_menu(body: str, lists: Counter[str]) -> bool:
    """A site menu repeated on every page of a multi-source document (Spotify): a list of mostly
    links that occurs three times or more."""
    if lists[body] < MENU_REPEATS:
        return False
    linked = sum(word_count(m[1]) for m in _LINK.finditer(body))
    return linked * 2 >= word_count(body)


@_memo
def _heading_key(body: str) -> str:
    _, rest = split_label(plain_text(body))
    return " ".join(_WORD.findall(rest.lower()))


@_memo
def _link_only(body: str) -> bool:
    """Nothing but links (and a list number): "1. [Introduction](#introduction)"."""
    body = split_label(body)[1]
    return "](" in body and not re.search(r"[^\W_]", _EMPHASIS.sub("", _LINK.sub("", body)))


def _anchor_links(body: str) -> bool:
    return any("#" in target for target in _LINK_URL.findall(body))


# --- units: blocks → provisions -------------------------------------------------------------------


@dataclass
class _Unit:
    start: int
    end: int
    kind: SegmentKind
    path: tuple[str, ...]
    context: str | None = None
    tiny: bool = False  # a run of short lines that the next short line may join
    context_span: tuple[int, int] | None = None


def _units(blocks: list[_Block], text_of: str) -> list[_Unit]:
    units: list[_Unit] = []
    stack: list[tuple[float, str, bool]] = []  # (level, plain heading, inferred-with-label)
    lead_in: _Unit | None = None  # the paragraph just before, which a plain list joins
    for block in blocks:
        path = tuple(h for _, h, _ in stack)
        if block.kind == "heading":
            _push_heading(stack, block)
            lead_in = None
        elif block.kind == "separator":
            stack.clear()
            lead_in = None
        elif block.kind == "para":
            if stack and stack[-1][2]:
                label = clause_label(text_of[block.start : block.end])
                if _close_sibling_heading(stack, label):
                    path = tuple(h for _, h, _ in stack)
            lead_in = _add_para(units, block, path, text_of)
        elif block.kind == "list":
            _add_list(units, block, path, text_of, lead_in)
            lead_in = None
        elif block.kind == "table":
            units.extend(
                _Unit(r.start, r.end, "table_row", path, block.header, False, block.header_span)
                for r in block.rows
                if not r.header
            )
            lead_in = None
        else:
            lead_in = None
    return units


def _push_heading(stack: list[tuple[float, str, bool]], block: _Block) -> None:
    heading = plain_text(block.heading) or "—"
    level = block.level
    if level >= 7:  # inferred headings nest by their numbering, else under the last one
        label, _ = split_label(heading)
        if label is not None:
            level = 7 + _label_depth(label)
        elif stack and stack[-1][0] >= 7:
            level = stack[-1][0] if not stack[-1][2] else stack[-1][0] + 0.5
    while stack and stack[-1][0] >= level:
        stack.pop()
    stack.append((level, heading, block.level >= 7 and split_label(heading)[0] is not None))


def _close_sibling_heading(stack: list[tuple[float, str, bool]], label: str | None) -> bool:
    """Clause "3.3 …" ends the inferred heading "3.2 Licence" above it: it is a sibling."""
    if label is None or not label[0].isdigit():
        return False
    level, popped = 7 + _label_depth(label), False
    while stack and stack[-1][2] and stack[-1][0] >= level:
        stack.pop()
        popped = True
    return popped


def _label_depth(label: str) -> float:
    if " " in label:  # Chapter 2 / Part II
        return 0
    if label[0].isdigit():
        return 1 + label.count(".")
    return 4


def _add_para(units: list[_Unit], block: _Block, path: tuple[str, ...], text_of: str) -> _Unit:
    body = text_of[block.start : block.end]
    prev = units[-1] if units else None
    tiny = _is_tiny(body, block.lines)
    if tiny and prev is not None and prev.tiny and prev.path == path:
        first = text_of[prev.start : prev.end].split("\n", 1)[0]
        # A repeated first line ("Name" in a flattened cookie table) starts a new record.
        if body != first and block.end - prev.start <= TINY_RUN_CHARS:
            prev.end = block.end
            return prev
    unit = _Unit(block.start, block.end, "paragraph", path, tiny=tiny)  # labelled: "clause" later
    units.append(unit)
    return unit


def _is_tiny(body: str, lines: int) -> bool:
    """A line too short to stand alone: address lines, flattened table cells ("Twitter Inc.")."""
    if lines > 1 or (len(body) >= 200 and "](" not in body):
        return False
    words = word_count(body)
    return words <= TINY_WORDS and (words <= 2 or not body.endswith((".", "!")))


def _add_list(
    units: list[_Unit],
    block: _Block,
    path: tuple[str, ...],
    text_of: str,
    lead_in: _Unit | None,
) -> None:
    joins = lead_in is not None and bool(units) and units[-1] is lead_in
    if _plain_items(block.items, text_of):
        if lead_in is not None and joins:
            lead_in.end, lead_in.tiny = block.end, False
        else:
            units.append(_Unit(block.items[0].start, block.end, "paragraph", path))
        return
    # Items that split keep their lead-in ("You must not:") as context, like a table header.
    context, span = None, None
    if lead_in is not None and joins:
        lead = text_of[lead_in.start : lead_in.end]
        if lead.rstrip("*_ ").endswith(":"):
            context, span = plain_text(lead), (lead_in.start, lead_in.end)
    _add_items(units, block.items, path, text_of, context, span)


def _add_items(
    units: list[_Unit],
    items: list[_Item],
    path: tuple[str, ...],
    text_of: str,
    context: str | None,
    span: tuple[int, int] | None,
) -> None:
    for item in items:
        if not item.children or _plain_items(item.children, text_of):
            end = item.end
            if word_count(text_of[item.start : end]):
                units.append(_Unit(item.start, end, "list_item", path, context, False, span))
            continue
        own = text_of[item.start : item.own_end]
        if word_count(own):
            units.append(_Unit(item.start, item.own_end, "list_item", path, context, False, span))
        if own.rstrip("*_ ").endswith(":"):
            _add_items(
                units, item.children, path, text_of, plain_text(own), (item.start, item.own_end)
            )
        else:
            _add_items(units, item.children, path, text_of, context, span)


def _plain_items(items: list[_Item], text_of: str) -> bool:
    """Short plain items ("Name", "Email", "create and share content;") make one provision."""
    counts = [word_count(text_of[item.start : item.end]) for item in items]
    return statistics.median(counts) <= PLAIN_ITEM_WORDS


def _split_giant(unit: _Unit, text: str) -> list[_Unit]:
    """Flattened documents put whole agreements on one line ("… **A. License.** Subject to …
    **B. Restrictions.** …"): cut such giants at the inline bold clause labels."""
    if unit.end - unit.start <= GIANT_CHARS or unit.kind == "table_row":
        return [unit]
    cuts = [m.end() for m in _INLINE_CLAUSE.finditer(text, unit.start, unit.end)]
    cuts = [c for c in cuts if unit.start < c < unit.end]
    if not cuts:
        return [unit]
    pieces: list[_Unit] = []
    start = unit.start
    for cut in [*cuts, unit.end]:
        end = len(text[start:cut].rstrip()) + start
        if pieces and _is_bold_line(text[pieces[-1].start : pieces[-1].end]):
            pieces[-1].end = end  # a bare "**II. Restrictions.**" joins the clause after it
        else:
            pieces.append(
                _Unit(start, end, unit.kind, unit.path, unit.context, False, unit.context_span)
            )
        start = cut
    return pieces


def _to_segment(text: str, unit: _Unit) -> Segment:
    body = text[unit.start : unit.end]
    label = clause_label(body) if unit.kind != "table_row" else None
    kind: SegmentKind = unit.kind
    if kind == "paragraph" and label is not None:
        kind = "clause"
    return Segment(
        unit.start, unit.end, body, unit.path, kind, label, unit.context, None, unit.context_span
    )
