"""Archived text (Markdown, as extracted or imported) for readers: safe HTML and clean plain text.

One parser, markdown-it-py (CommonMark with tables), configured so that archived text can never
add markup of its own:

- raw HTML is off: a ``<script>`` or ``<img onerror>`` in a document is shown as text, escaped;
  the one exception is the literal ``<br>`` that Open Terms Archive leaves in table cells,
  which becomes a line break when the text is rendered (it is parsed as text, like any tag);
- links keep their text; the anchor is kept only for absolute ``http(s)://`` and ``mailto:``
  targets (never ``javascript:``, ``data:``, ``vbscript:``, relative or fragment links, which
  would point at this site) and carries ``rel="nofollow noopener noreferrer"``;
- images are never fetched: their alt text is shown;
- headings are demoted by two levels (the page has its own ``h1`` and ``h2``); indentation is
  not code (indented code blocks are off: in extracted documents it is left-over layout);
- table rows without a header row (a provision is often one row of a table) still render as a
  table; empty header rows are dropped.

:func:`to_plain` gives the text without Markdown (links as their text, table rows as
``cell — cell`` lines, ``<br>`` as a newline) for feeds, emails, citations and share text;
:func:`to_plain_line` is the same on one line, for titles, excerpts and quotes cut out of the
text (stray ``**`` or half links at the cut are removed).

:func:`redline_html` renders a word-level diff (``[(op, text), ...]``) of two archived texts:
the insertions and deletions are marked inside the rendered blocks, and long runs of unchanged
blocks are folded into ``<details>``. :func:`marked_plain_html` does the same for search
snippets with their matches marked.

Quotes are checked against the archived text (exact substrings) before any of this: rendering is
for display only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import state_inline
from markdown_it.token import Token
from markupsafe import Markup, escape

# Private-use characters for the edges of marked runs (diff, search); stripped from the input.
MARKS = {"\ue001": ("ins", True), "\ue002": ("ins", False)}
MARKS |= {"\ue003": ("del", True), "\ue004": ("del", False)}
MARKS |= {"\ue005": ("mark", True), "\ue006": ("mark", False)}
OPEN = {tag: ch for ch, (tag, is_open) in MARKS.items() if is_open}
CLOSE = {tag: ch for ch, (tag, is_open) in MARKS.items() if not is_open}
SENTINELS = "".join(MARKS)
_SENTINEL_RE = re.compile(f"[{SENTINELS}]")
_MARK_RE = _SENTINEL_RE
_BR_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_SPLIT = re.compile(f"(<br\\s*/?>|[{SENTINELS}])", re.IGNORECASE)
LINK_REL = "nofollow noopener noreferrer"
# The text of a link that has none in the source (`[](url)`, an icon on the captured page): a
# link must say something to be followed, by eye or by a screen reader.
EMPTY_LINK = "(link)"
SAFE_SCHEMES = ("http://", "https://", "mailto:")
HEADING_SHIFT = 2

# --- preprocessing --------------------------------------------------------------------------

_MARK_CLASS = "[" + "\ue001\ue002\ue003\ue004\ue005\ue006" + "]"
_ROW = re.compile(r"^\s{0,3}\|.*\|\s*$")
_ROW_END_MARKS = re.compile(r"\|([ \t]*)(" + _MARK_CLASS + r"+)[ \t]*$")
_DELIMITER = re.compile(r"^\s{0,3}\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_BLOCK_MARKER = r"[ \t]*(?:#{1,6}[ \t]|[-*+][ \t]|\d{1,9}[.)][ \t]|>[ \t]?|\|[ \t]?)"
_LINE_MARKER = re.compile(r"^([ \t]*)(" + _MARK_CLASS + r"+)(" + _BLOCK_MARKER + ")")


def _cells(row: str) -> int:
    inner = row.strip().removeprefix("|").removesuffix("|")
    return len(re.split(r"(?<!\\)\|", inner))


def _prepare(text: str, *, keep_marks: bool = False) -> str:
    """Source text ready for the parser: sentinels, ``<br>``, header-less table rows."""
    text = text.replace("\r\n", "\n")
    text = _MARK_RE.sub("", text) if not keep_marks else text
    lines = text.split("\n")
    if keep_marks:
        lines = _move_marks(lines)
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _ROW.match(line) and not _DELIMITER.match(line):
            has_header = i + 1 < len(lines) and _DELIMITER.match(lines[i + 1])
            if not has_header:
                if out and out[-1].strip():
                    out.append("")
                n = _cells(line)
                out += ["|" + " |" * n, "|" + " --- |" * n]
            out.append(line)
            i += 1
            while i < len(lines) and (_ROW.match(lines[i]) or _DELIMITER.match(lines[i])):
                out.append(lines[i])
                i += 1
            continue
        if "|" in line and _DELIMITER.match(line):
            i += 1  # a delimiter row whose header is elsewhere (another provision)
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _move_marks(lines: list[str]) -> list[str]:
    """Keep diff/search marks from breaking block syntax: a line of marks only hands them to the
    next line, and marks at a line's start move after its heading, list, quote or table marker."""
    carry = ""
    out: list[str] = []
    for line in lines:
        line = carry + line
        carry = ""
        if line and not _MARK_RE.sub("", line).strip():
            carry = "".join(_MARK_RE.findall(line))
            out.append("")
            continue
        line = _LINE_MARKER.sub(r"\1\3\2", line, count=1)
        if line.lstrip().startswith("|"):
            line = _ROW_END_MARKS.sub(r"\2|\1", line)
        out.append(line)
    if carry and out:
        out[-1] += carry
    return out


# --- the parser -----------------------------------------------------------------------------


def _safe_href(href: str) -> bool:
    return href.lower().startswith(SAFE_SCHEMES)


def _carry_marks(value: str) -> str:
    """The marks (possibly percent-encoded by normalizeLink) inside an attribute value."""
    found = []
    for ch in MARKS:
        encoded = "".join(f"%{b:02X}" for b in ch.encode())
        found += [(m.start(), ch) for m in re.finditer(re.escape(encoded), value)]
        found += [(m.start(), ch) for m in re.finditer(ch, value)]
    return "".join(ch for _, ch in sorted(found))


def _strip_marks(value: str) -> str:
    for ch in SENTINELS:
        value = value.replace("".join(f"%{b:02X}" for b in ch.encode()), "").replace(ch, "")
    return value


def _core_safety(state: StateCore) -> None:
    """Demote headings, drop empty table headers, neuter unsafe links, move marks out of URLs."""
    tokens: list[Token] = []
    skip_until = -1
    for i, token in enumerate(state.tokens):
        if i <= skip_until:
            continue
        if token.type in ("heading_open", "heading_close"):
            level = min(int(token.tag[1]) + HEADING_SHIFT, 6)
            token.tag = f"h{level}"
        elif token.type == "thead_open":
            source = state.tokens
            end = next(j for j in range(i, len(source)) if source[j].type == "thead_close")
            cells = [t for t in state.tokens[i:end] if t.type == "inline"]
            if all(not _SENTINEL_RE.sub("", c.content).strip() for c in cells):
                skip_until = end
                has_body = end + 1 < len(source) and source[end + 1].type == "tbody_open"
                if not has_body and tokens and tokens[-1].type == "table_open":
                    tokens.pop()
                    skip_until = end + 1  # the table_close
                continue
        elif token.type == "inline" and token.children:
            token.children = _inline_safety(token.children)
        tokens.append(token)
    state.tokens = tokens


def _inline_safety(children: list[Token]) -> list[Token]:
    out: list[Token] = []
    stack: list[tuple[bool, str]] = []  # (anchor kept, marks found in its attributes)
    for child in children:
        if child.type == "link_open":
            href = str(child.attrGet("href") or "")
            carried = _carry_marks(href) + _carry_marks(str(child.attrGet("title") or ""))
            href = _strip_marks(href)
            keep = _safe_href(href)
            if keep:
                child.attrSet("href", href)
                child.attrSet("rel", LINK_REL)
                if child.attrGet("title") is not None:
                    child.attrSet("title", _strip_marks(str(child.attrGet("title"))))
            child.meta["drop"] = not keep
            stack.append((keep, carried))
            out.append(child)
        elif child.type == "link_close":
            keep, carried = stack.pop() if stack else (True, "")
            child.meta["drop"] = not keep
            out.append(child)
            if carried:
                out.append(_text_token(carried))
        elif child.type == "image":
            carried = _carry_marks(str(child.attrGet("src") or ""))
            out += child.children or []
            if carried:
                out.append(_text_token(carried))
        else:
            out.append(child)
    return out


def _text_token(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def _marked(content: str, env: dict[str, Any], *, escape_text: bool = True) -> str:
    """Text with its sentinels as tags; an open ``<ins>``/``<del>``/``<mark>`` is closed at the
    end of each text node and reopened at the next one, so the tags always nest."""
    opened: str | None = env.get("open")
    parts: list[str] = [f"<{opened}>"] if opened else []
    for piece in _SPLIT.split(content):
        if not piece:
            continue
        if _BR_TAG.fullmatch(piece):
            parts.append("<br>\n")
        elif piece in MARKS:
            tag, is_open = MARKS[piece]
            if opened:
                parts.append(f"</{opened}>")
                opened = None
            if is_open:
                opened = tag
                parts.append(f"<{tag}>")
        else:
            parts.append(escapeHtml(piece) if escape_text else piece)
    if opened:
        parts.append(f"</{opened}>")
    env["open"] = opened
    return "".join(parts)


def _render_text(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    return _marked(tokens[idx].content, env)


def _render_code_inline(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    return "<code>" + _marked(tokens[idx].content, env) + "</code>"


def _render_code_block(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    return "<pre><code>" + _marked(tokens[idx].content, env) + "</code></pre>\n"


def _render_link(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    if token.meta.get("drop"):
        return ""
    tag = str(self.renderToken(tokens, idx, options, env))
    if token.type != "link_open" or _link_shows_text(tokens, idx):
        return tag
    return tag + EMPTY_LINK


def _link_shows_text(tokens: list[Token], idx: int) -> bool:
    """Whether the link opened at ``idx`` holds text other than marks (HTML only: the plain
    text keeps the source's words)."""
    for token in tokens[idx + 1 :]:
        if token.type == "link_close":
            return False
        if token.type in ("text", "code_inline") and _strip_marks(token.content).strip():
            return True
    return False


def _is_punct(ch: str) -> bool:
    """markdown-it's test for punctuation, with our marks counted as punctuation: a mark next to
    ``**`` then leaves the emphasis as it was without it (the marks replace nothing)."""
    return ch in SENTINELS or _library_is_punct(ch)


_library_is_punct = state_inline.isPunctChar


@functools.cache
def _parser(plain: bool = False) -> MarkdownIt:
    """The parser; ``plain``: for plain text, whose links lose their target, so targets are
    left as written instead of normalised (percent-encoding and punycode were a third of a
    plain title's parse, issue #13). Both give the same tokens apart from link targets."""
    # the inline state's flanking test (which decides emphasis) sees our marks as punctuation
    if state_inline.isPunctChar is not _is_punct:
        state_inline.isPunctChar = _is_punct
    # Indented code blocks are off: indentation in extracted legal text is layout, not code.
    md = MarkdownIt("commonmark", {"html": False}).enable("table").disable("code")
    # Every link is parsed (so its Markdown never shows); _core_safety keeps only safe anchors.
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    if plain:
        md.normalizeLink = lambda url: url  # type: ignore[method-assign]
    md.core.ruler.push("clausewatch_safety", _core_safety)
    md.add_render_rule("text", _render_text)
    md.add_render_rule("code_inline", _render_code_inline)
    md.add_render_rule("code_block", _render_code_block)
    md.add_render_rule("fence", _render_code_block)
    md.add_render_rule("link_open", _render_link)
    md.add_render_rule("link_close", _render_link)
    return md


def _tokens(source: str, *, plain: bool = False) -> list[Token]:
    return (_parser(plain=True) if plain else _parser()).parse(source, {})


_EMPTY_MARK = re.compile(r"<(ins|del|mark)></\1>")


def _render(tokens: Sequence[Token], env: dict[str, Any]) -> str:
    md = _parser()
    return _EMPTY_MARK.sub("", md.renderer.render(list(tokens), md.options, env))


# --- HTML -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _html(text: str) -> str:
    return _render(_tokens(_prepare(text)), {})


def to_html(text: str | None) -> Markup:
    """Archived Markdown as safe HTML (see the module docstring for the rules)."""
    return Markup(_html(str(text or "")))


def _blocks(tokens: list[Token]) -> list[tuple[int, int]]:
    """The [start, end) token ranges of the top-level blocks."""
    ranges, i = [], 0
    while i < len(tokens):
        depth, j = 0, i
        while True:
            depth += tokens[j].nesting
            j += 1
            if depth <= 0:
                break
        ranges.append((i, j))
        i = j
    return ranges


def redline_html(ops: Iterable[Sequence[str]], context: int = 2) -> Markup:
    """A word-level diff ``[(op, text), ...]`` (op: ``equal``, ``insert``, ``delete``) rendered as
    formatted text with ``<ins>``/``<del>``; runs of unchanged blocks longer than ``2 * context
    + 1`` keep ``context`` blocks next to each change and fold the rest into ``<details>``. A
    change that splits a link's URL or a bold run's ``**`` is widened to the whole link or run
    (``keep_markup_whole``), so that neither side shows raw Markdown."""
    from clausewatch.changes.redline import DiffOp, keep_markup_whole

    pieces = []
    whole = keep_markup_whole([DiffOp(op, str(text)) for op, text in ops])  # type: ignore[arg-type]
    for op, text in ((o.op, o.text) for o in whole):
        clean = _SENTINEL_RE.sub("", text)
        if op == "insert":
            pieces.append(OPEN["ins"] + clean + CLOSE["ins"])
        elif op == "delete":
            pieces.append(OPEN["del"] + clean + CLOSE["del"])
        else:
            pieces.append(clean)
    tokens = _tokens(_prepare("".join(pieces), keep_marks=True))
    env: dict[str, Any] = {}
    rendered = [
        _table_html(tokens[a:b], env, context) if tokens[a].type == "table_open"
        else _render(tokens[a:b], env)
        for a, b in _blocks(tokens)
    ]  # fmt: skip
    return Markup(_fold(rendered, [_changed(html) for html in rendered], context))


def _changed(html: str) -> bool:
    return "<ins>" in html or "<del>" in html


def _table_html(tokens: list[Token], env: dict[str, Any], context: int) -> str:
    """A table of a redline, its unchanged rows folded like unchanged blocks (a long table is
    one block: the LinkedIn notice is mostly one)."""
    rows = [i for i, t in enumerate(tokens) if t.type == "tr_open"]
    ends = [i for i, t in enumerate(tokens) if t.type == "tr_close"]
    body = next((i for i, t in enumerate(tokens) if t.type == "tbody_open"), None)
    if body is None:
        return _render(tokens, env)
    head = _render(tokens[:body], env)
    body_rows = [(a, b + 1) for a, b in zip(rows, ends, strict=True) if a > body]
    rendered = [_render(tokens[a:b], env) for a, b in body_rows]
    if not any(_changed(r) for r in rendered):
        return head + "<tbody>\n" + "".join(rendered) + "</tbody>\n</table>\n"
    columns = max(
        1, sum(1 for t in tokens[body_rows[0][0] : body_rows[0][1]] if t.type == "td_open")
    )

    def folded(run: list[str]) -> str:
        noun = "row" if len(run) == 1 else "rows"
        return (
            f'<tr class="unchanged"><td colspan="{columns}"><details class="unchanged">'
            f"<summary>{len(run)} unchanged {noun}</summary>\n<table><tbody>\n"
            + "".join(run)
            + "</tbody></table></details></td></tr>\n"
        )

    rows_html = _fold(rendered, [_changed(r) for r in rendered], max(1, context // 2), folded)
    return head + "<tbody>\n" + rows_html + "</tbody>\n</table>\n"


def _folded_blocks(run: list[str]) -> str:
    return (
        f'<details class="unchanged"><summary>{len(run)} unchanged blocks</summary>\n'
        + "".join(run)
        + "</details>\n"
    )


def _fold(
    rendered: list[str],
    changed: list[bool],
    context: int,
    folded: Callable[[list[str]], str] = _folded_blocks,
) -> str:
    keep = [False] * len(rendered)
    for i, is_changed in enumerate(changed):
        if is_changed:
            for j in range(max(0, i - context), min(len(rendered), i + context + 1)):
                keep[j] = True
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) > 1:
            out.append(folded(run))
        else:
            out.extend(run)
        run.clear()

    for html, kept in zip(rendered, keep, strict=True):
        if kept:
            flush()
            out.append(html)
        else:
            run.append(html)
    flush()
    return "".join(out)


# --- plain text -----------------------------------------------------------------------------


def _inline_plain(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
    return "".join(parts)


def _plain(tokens: list[Token]) -> str:
    """Blocks separated by a blank line; list items and table rows by a line break."""
    blocks: list[tuple[str, str]] = []  # (text, "list" item, table "row" or "" for a block)
    lists: list[list[int]] = []  # per open list: [next number, or -1 for bullets]
    pending_marker = ""
    row: list[str] | None = None
    for token in tokens:
        kind = token.type
        if kind == "bullet_list_open":
            lists.append([-1])
        elif kind == "ordered_list_open":
            lists.append([int(token.attrGet("start") or 1)])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open" and lists:
            number = lists[-1][0]
            indent = "  " * (len(lists) - 1)
            pending_marker = indent + ("- " if number < 0 else f"{number}. ")
            if number >= 0:
                lists[-1][0] += 1
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None:
            cells = [c for c in row if c.strip()]
            if cells:
                blocks.append((" — ".join(cells), "row"))
            row = None
        elif kind == "inline":
            text = _BR_TAG.sub("\n", _inline_plain(token)).strip()
            if row is not None:
                row.append(re.sub(r"\s*\n+\s*", "; ", text))
            elif text or pending_marker:
                blocks.append((pending_marker + text, "list" if lists else ""))
                pending_marker = ""
        elif kind in ("code_block", "fence"):
            blocks.append((_BR_TAG.sub("\n", token.content).rstrip("\n"), ""))
    out: list[str] = []
    previous = ""
    for text, kind in blocks:
        if not text.strip():
            continue
        if out:
            out.append("\n" if kind and kind == previous else "\n\n")
        out.append(text)
        previous = kind
    return "".join(out)


@functools.lru_cache(maxsize=1024)
def _plain_cached(text: str) -> str:
    return _plain(_tokens(_prepare(text), plain=True))


def to_plain(text: str | None) -> str:
    """Archived Markdown as clean plain text: no Markdown markers, links as their text, table
    rows as ``cell — cell`` lines, ``<br>`` as a line break, blocks separated by a blank line."""
    return _plain_cached(str(text or ""))


_STRAY = [
    (re.compile(r"\*{2,}|(?<!\w)_{2,}|_{2,}(?!\w)"), ""),  # unbalanced emphasis at a cut
    (re.compile(r"\[([^\]\n]*)\]\([^)\s]*\)?"), r"\1"),  # a link cut before its end
    (re.compile(r"\]\((?:https?:|mailto:|/|#)[^)\s]*\)?"), ""),  # ... or after its start
    (re.compile(r"\|?\s*:?-{3,}:?\s*(?=\||$)"), ""),  # a table delimiter row
    (re.compile(r"\s*(?:\|\s*)+"), " — "),  # cells of a row that did not parse as a table
    (re.compile(r"(^|\s)#{1,6}\s"), r"\1"),
]


# Text that Markdown leaves as it is: word characters, spaces, newlines and punctuation that is
# never syntax, no line opening on a list marker, a dash, `+` or `=`, no `--`, no em dash at
# either end (to_plain_line trims those). Most titles ("2.5 Sharing — To the extent...") and
# excerpts are such text; they skip the parser (to_plain_line's result is the same, tested on
# the pga history's paragraphs and random cuts of them, and on generated text:
# tests/test_render.py).
_INERT = re.compile(
    r"(?:[^\W_]|[ \n\xa0,.;:'\"()/?%$@=\u2018\u2019\u201c\u201d\u2013\u2014\u2026-])*"
)
_INERT_BREAKERS = re.compile(
    r"--|^ *(?:[-+=]|\d{1,9}[.)](?:[ \t]|$))|^\s*\u2014|\u2014\s*$", re.MULTILINE
)


def to_plain_line(text: str | None) -> str:
    """:func:`to_plain` on one line, for titles, excerpts and quotes (which may start or end in
    the middle of Markdown): leftover markers at the cut are removed."""
    text = str(text or "")
    # "5. Termination — ..." (a numbered heading) reads the same as the one-item list it parses to
    lead = _NUMBERED_LEAD.match(text)
    if _INERT.fullmatch(text) and not _INERT_BREAKERS.search(text, lead.end() if lead else 0):
        return " ".join(text.split())
    return _markdown_plain_line(text)


_NUMBERED_LEAD = re.compile(r"[1-9]\d{0,8}\. +(?=[^\W\d_])")


def _markdown_plain_line(text: str) -> str:
    line = re.sub(r"\s+", " ", to_plain(text)).strip()
    for pattern, repl in _STRAY:
        line = pattern.sub(repl, line)
    line = re.sub(r"\s+", " ", line)
    return re.sub(r"^(?:\s*—\s*)+|(?:\s*—\s*)+$", "", line).strip()


def marked_plain_html(parts: Iterable[Sequence[Any]]) -> Markup:
    """Search snippet parts ``[(text, is_match), ...]`` as one line of plain text, escaped, with
    the matches in ``<mark>`` (the only markup)."""
    joined = "".join(
        (OPEN["mark"] + _SENTINEL_RE.sub("", str(t)) + CLOSE["mark"])
        if match
        else _SENTINEL_RE.sub("", str(t))
        for t, match in parts
    )
    prepared = _prepare(joined, keep_marks=True)
    line = re.sub(r"\s+", " ", _plain(_tokens(prepared))).strip()
    for pattern, repl in _STRAY:
        line = pattern.sub(repl, line)
    line = re.sub(r"^(?:\s*—\s*)+|(?:\s*—\s*)+$", "", re.sub(r"\s+", " ", line)).strip()
    out: list[str] = []
    opened = False
    for piece in re.split(f"([{SENTINELS}])", line):
        if piece == OPEN["mark"]:
            if not opened:
                out.append("<mark>")
                opened = True
        elif piece == CLOSE["mark"]:
            if opened:
                out.append("</mark>")
                opened = False
        elif piece and piece not in SENTINELS:
            out.append(str(escape(piece)))
    if opened:
        out.append("</mark>")
    return Markup(_EMPTY_MARK.sub("", "".join(out)))
