"""Word-level redlines, legal-aware sentence splitting and the clause-level noise test.

Everything here is a pure function of its text arguments: no storage, no configuration.
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from diff_match_patch import diff_match_patch
from rapidfuzz import fuzz

OpName = Literal["equal", "insert", "delete"]
RedlineFormat = Literal["text", "markdown", "html"]

_OP_NAMES: dict[int, OpName] = {0: "equal", 1: "insert", -1: "delete"}


@dataclass(frozen=True)
class DiffOp:
    op: OpName
    text: str


# --- redline ---------------------------------------------------------------------------------

# Words (letters/digits, with inner apostrophes), runs of whitespace, single other characters.
_TOKEN = re.compile(r"\w+(?:['’]\w+)*|\s+|[^\w\s]", re.UNICODE)
# Tokens are encoded as code points from the supplementary private-use planes, which hold no
# text of their own (131,072 distinct tokens); past that, any code point outside the surrogates.
_PUA_START = 0xF0000


def _code_point(index: int) -> str:
    cp = _PUA_START + index
    if cp > 0x10FFFF:  # more distinct tokens than the private planes hold: wrap below them
        cp = 0x100 + (index - (0x10FFFF - _PUA_START + 1))
        if cp >= 0xD800:
            cp += 0x800  # skip surrogates, which a str can hold but encoders refuse
    return chr(cp)


def _tokens_to_chars(old: str, new: str) -> tuple[str, str, list[str]]:
    """Like diff-match-patch's linesToChars, but one character per word/space/punctuation."""
    vocabulary: dict[str, str] = {}
    tokens: list[str] = []

    def encode(text: str) -> str:
        out = []
        for token in _TOKEN.findall(text):
            char = vocabulary.get(token)
            if char is None:
                char = _code_point(len(tokens))
                vocabulary[token] = char
                tokens.append(token)
            out.append(char)
        return "".join(out)

    return encode(old), encode(new), tokens


def _decode(chars: str, tokens: list[str]) -> str:
    # Inverse of _code_point, computed arithmetically so no reverse table is needed.
    out = []
    private = 0x10FFFF - _PUA_START + 1
    for char in chars:
        cp = ord(char)
        if cp >= _PUA_START:
            out.append(tokens[cp - _PUA_START])
        else:
            if cp >= 0xE000:
                cp -= 0x800
            out.append(tokens[cp - 0x100 + private])
    return "".join(out)


def redline(old: str, new: str) -> list[DiffOp]:
    """Minimal word-level diff of ``old`` → ``new``, cleaned up to read well.

    Joining the ``equal`` and ``delete`` texts gives ``old``; ``equal`` and ``insert`` give ``new``.
    """
    dmp = diff_match_patch()
    dmp.Diff_Timeout = 0  # the default 1 s silently returns non-minimal diffs
    chars_old, chars_new, tokens = _tokens_to_chars(old, new)
    diffs = dmp.diff_main(chars_old, chars_new, False)
    # At token level, so the cleanup can merge and shift whole words but never split one.
    dmp.diff_cleanupSemantic(diffs)
    ops = [DiffOp(_OP_NAMES[op], _decode(chars, tokens)) for op, chars in diffs if chars]
    return _merge_adjacent(ops)


def _merge_adjacent(ops: list[DiffOp]) -> list[DiffOp]:
    merged: list[DiffOp] = []
    for op in ops:
        if merged and merged[-1].op == op.op:
            merged[-1] = DiffOp(op.op, merged[-1].text + op.text)
        else:
            merged.append(op)
    return merged


# Inline Markdown whose syntax a change must not split: a link or image (one level of nested
# brackets in its text and of parentheses in its URL, an optional title), and bold.
_LINK_SPAN = re.compile(
    r"""!?\[(?P<text>(?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]
    \((?:[^()\s]|\([^()\s]*\))*(?:\s+"[^"\n]*")?\)""",
    re.X,
)
_BOLD_SPAN = re.compile(r"(\*\*|__)(?!\s)(?P<text>[^\n]*?)(?<!\s)\1")


def _markup_spans(text: str) -> list[tuple[int, int, int, int]]:
    """(start, end, inner start, inner end) of each link and bold run: a change inside the inner
    text (a link's words, a bold run's words) keeps the syntax whole; one elsewhere does not."""
    spans = [
        (m.start(), m.end(), m.start("text"), m.end("text")) for m in _LINK_SPAN.finditer(text)
    ]
    spans += [
        (m.start(), m.end(), m.start("text"), m.end("text")) for m in _BOLD_SPAN.finditer(text)
    ]
    return spans


def _touched(
    spans: list[tuple[int, int, int, int]], changed: list[tuple[int, int]], points: list[int]
) -> list[tuple[int, int]]:
    """The spans whose syntax a change touches: a changed character outside the inner text, or
    a change point (where the other side has text) strictly inside the span, outside the inner
    text. ``changed`` and ``points`` are in text order."""
    starts = [s for s, _ in changed]
    out = []
    for start, end, inner_start, inner_end in spans:
        first = max(bisect.bisect_left(starts, start) - 1, 0)
        last = bisect.bisect_left(starts, end)
        near = bisect.bisect_right(points, start), bisect.bisect_left(points, end)
        if any(
            s < end and e > start and (s < inner_start or e > inner_end)
            for s, e in changed[first:last]
        ) or any(not inner_start <= p <= inner_end for p in points[near[0] : near[1]]):
            out.append((start, end))
    return out


def keep_markup_whole(ops: Sequence[DiffOp]) -> list[DiffOp]:
    """The same diff with no link or bold run split by a change: where a change touches a link's
    brackets or URL, or a bold run's ``**``, the whole link or run is deleted and inserted
    (``[-[A](u1)-]{+[B](u2)+}``), so that each side renders as Markdown; changes inside their
    words stay word-level. Joining ``equal`` and ``delete`` still gives the old text, ``equal``
    and ``insert`` the new one; within a changed run the deletion comes first."""
    ops = [op for op in ops if op.text]
    while True:
        old_at = new_at = 0
        changed: dict[str, list[tuple[int, int]]] = {"old": [], "new": []}
        points: dict[str, list[int]] = {"old": [], "new": []}
        for op in ops:
            n = len(op.text)
            if op.op == "delete":
                changed["old"].append((old_at, old_at + n))
                points["new"].append(new_at)
                old_at += n
            elif op.op == "insert":
                changed["new"].append((new_at, new_at + n))
                points["old"].append(old_at)
                new_at += n
            else:
                old_at, new_at = old_at + n, new_at + n
        old = "".join(op.text for op in ops if op.op != "insert")
        new = "".join(op.text for op in ops if op.op != "delete")
        taint = {
            side: _touched(_markup_spans(text), changed[side], points[side])
            for side, text in (("old", old), ("new", new))
        }
        if not taint["old"] and not taint["new"]:
            break
        out: list[DiffOp] = []
        split = False
        old_at = new_at = 0
        for op in ops:
            n = len(op.text)
            if op.op != "equal":
                out.append(op)
                if op.op == "delete":
                    old_at += n
                else:
                    new_at += n
                continue
            # the parts of this equal text inside a touched span become delete + insert
            cut = [False] * n
            for side, base in (("old", old_at), ("new", new_at)):
                for start, end in taint[side]:
                    for k in range(max(start - base, 0), min(end - base, n)):
                        cut[k] = True
            k = 0
            while k < n:
                j = k
                while j < n and cut[j] == cut[k]:
                    j += 1
                piece = op.text[k:j]
                if cut[k]:
                    out += [DiffOp("delete", piece), DiffOp("insert", piece)]
                    split = True
                else:
                    out.append(DiffOp("equal", piece))
                k = j
            old_at, new_at = old_at + n, new_at + n
        ops = out
        if not split:
            break
    # each changed run: what was deleted, then what was inserted
    result: list[DiffOp] = []
    deleted: list[str] = []
    inserted: list[str] = []
    for op in [*ops, DiffOp("equal", "")]:
        if op.op == "delete":
            deleted.append(op.text)
        elif op.op == "insert":
            inserted.append(op.text)
        else:
            if deleted:
                result.append(DiffOp("delete", "".join(deleted)))
            if inserted:
                result.append(DiffOp("insert", "".join(inserted)))
            deleted, inserted = [], []
            if op.text:
                result.append(op)
    return _merge_adjacent(result)


def render_redline(ops: Iterable[DiffOp], fmt: RedlineFormat = "text") -> str:
    """Render ops as wdiff-style text, Markdown (~~del~~ **ins**) or HTML (<del>/<ins>).

    HTML escapes every piece of text: document text is untrusted.
    """
    if fmt == "html":
        return "".join(_render_html(op) for op in ops)
    if fmt == "markdown":
        return "".join(_render_markdown(op) for op in ops)
    if fmt == "text":
        return "".join(_render_text(op) for op in ops)
    raise ValueError(f"unknown redline format: {fmt!r}")


def _render_text(op: DiffOp) -> str:
    if op.op == "delete":
        return f"[-{op.text}-]"
    if op.op == "insert":
        return f"{{+{op.text}+}}"
    return op.text


def _render_html(op: DiffOp) -> str:
    text = html.escape(op.text, quote=True)
    if op.op == "delete":
        return f"<del>{text}</del>"
    if op.op == "insert":
        return f"<ins>{text}</ins>"
    return text


def _render_markdown(op: DiffOp) -> str:
    if op.op == "equal":
        return op.text
    marker = "~~" if op.op == "delete" else "**"
    # Emphasis cannot start or end on whitespace nor span paragraphs: wrap each line's words.
    pieces = []
    for line in re.split(r"(\n)", op.text):
        body = line.strip()
        if not body:
            pieces.append(line)  # keep the layout; nothing to mark
            continue
        lead, trail = line[: len(line) - len(line.lstrip())], line[len(line.rstrip()) :]
        pieces.append(f"{lead}{marker}{body}{marker}{trail}")
    return "".join(pieces)


# --- sentences -------------------------------------------------------------------------------

# A line that starts a new block: heading, bullet, numbered or lettered item, table row, quote.
_BLOCK_START = re.compile(
    r"""^\s*(?:
        \#{1,6}\s | [-*+•▪◦·]\s | \d{1,3}(?:\.\d{1,3})*[.)]\s | \(?[a-zA-Z]{1,4}\)\s | \| | >
    )""",
    re.X,
)
# Markers stripped from the front of a block: heading hashes, bullets, item labels ("4.2", "(a)").
_BLOCK_MARKER = re.compile(
    r"""^\s*(?:\#{1,6}\s+|>\s*|[-*+•▪◦·]\s+)?
        (?:(?:\d{1,3}(?:\.\d{1,3})*\.?|\(?[a-zA-Z]\)|\(?[ivxIVX]{1,5}\)|[a-zA-Z][.)])\s+)?""",
    re.X | re.M,
)
_STANDALONE_LINE = re.compile(r"^\s*(?:\#{1,6}\s|\|)")
# An item label left at the start of a sentence by an inline list ("…: 1. foo. 2. bar.").
_INLINE_MARKER = re.compile(r"^(?:\d{1,3}[.)]|\(?[a-zA-Z]\)|\([ivxIVX]{1,5}\))\s+(?=\S)")
# Candidate sentence ends: terminal punctuation, optional closing quotes/brackets, then space.
_CANDIDATE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s+\S)")
_ABBREVIATIONS = frozenset(
    re.findall(
        r"\S+",
        """e.g i.e cf vs v viz approx incl inc ltd llc l.l.c plc co corp bros sec secs art arts
        para paras p pp cl ch chap fig mr mrs ms dr prof st jr sr u.s u.s.a u.k e.u n.a s.a s.l
        b.v n.v a.g s.p.a s.r.l s.à.r.l pty jan feb mar apr jun jul aug sep sept oct nov dec
        esq dept est ref vol govt""",
    )
)
# Abbreviations that only abbreviate before a number ("No. 5"); elsewhere "no." ends a sentence.
_NUMBER_ABBREVIATIONS = frozenset({"no", "nos", "nr", "op", "tel", "ph"})
_NEXT_CHAR = re.compile(r"\s*(\S)")
_LIST_MARKER = re.compile(r"^(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,5})$")


def split_sentences(text: str) -> list[str]:
    """Split legal Markdown text into sentences, without their list/heading markers.

    Headings, list items, table rows and blank-line paragraphs always start a new sentence.
    Does not split after common legal abbreviations ("e.g.", "U.S.", "Inc.", "No. 5",
    "Sec. 4.2"), initials, decimal numbers or list markers ("1.", "(a)").
    Whitespace inside a sentence is collapsed to single spaces.
    """
    sentences = []
    for start, end in sentence_spans(text):
        sentence = _INLINE_MARKER.sub("", " ".join(text[start:end].split()), count=1)
        if sentence:
            sentences.append(sentence)
    return sentences


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of the sentences of ``text``, block markers excluded."""
    spans: list[tuple[int, int]] = []
    for block_start, block_end in _block_spans(text):
        marker = _BLOCK_MARKER.match(text, block_start, block_end)
        body_start = marker.end() if marker else block_start
        spans.extend(_split_block(text, body_start, block_end))
    return spans


def _block_spans(text: str) -> list[tuple[int, int]]:
    """Paragraphs, headings, list items and table rows; soft-wrapped lines stay together."""
    blocks: list[tuple[int, int]] = []
    start: int | None = None
    end = 0
    offset = 0
    for line in text.splitlines(keepends=True):
        line_start, offset = offset, offset + len(line)
        if not line.strip() or _BLOCK_START.match(line):
            if start is not None:
                blocks.append((start, end))
            start = line_start if line.strip() else None
        elif start is None:
            start = line_start
        end = line_start + len(line.rstrip())
        if start is not None and _STANDALONE_LINE.match(line):  # never continued
            blocks.append((start, end))
            start = None
    if start is not None:
        blocks.append((start, end))
    return blocks


def _split_block(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    block = text[:end]  # boundaries may look at the block only, never past it
    for match in _CANDIDATE_END.finditer(block, start):
        if _is_boundary(block, start, match.start(), match.end()):
            spans.append(_trimmed(text, start, match.end()))
            start = match.end()
    spans.append(_trimmed(text, start, end))
    return [(a, b) for a, b in spans if a < b]


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _is_boundary(block: str, start: int, punct: int, end: int) -> bool:
    following = _NEXT_CHAR.match(block, end)
    first = following.group(1) if following else ""
    if not first or first.islower():
        return False  # "e.g. the", "approx. ten": a sentence does not start in lower case
    if block[punct] != ".":
        return True
    word_match = re.search(r"[\w.&]+$", block[start:punct])
    if not word_match:
        return True
    word = word_match.group().strip(".")
    lowered = word.lower()
    if lowered in _ABBREVIATIONS or re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", word):
        return False
    if lowered in _NUMBER_ABBREVIATIONS:
        return not first.isdigit()
    if len(word) == 1 and word.isupper():
        return False  # an initial ("J. Smith") or a lettered item ("A.")
    if _LIST_MARKER.match(word):
        before = block[start : start + word_match.start()].rstrip()
        return not (before == "" or before.endswith((":", ";")))
    return True


# --- sentence counts -------------------------------------------------------------------------


@dataclass(frozen=True)
class SentenceCounts:
    added: int
    removed: int
    modified: int


_MODIFIED_CUTOFF = 70.0


def sentence_changes(old: str, new: str) -> SentenceCounts:
    """Count sentences added, removed and modified between two texts.

    Identical sentences (whitespace-insensitive) match first, as a multiset, so moves are free;
    the rest pair greedily by rapidfuzz ratio ≥ 70 (modified); what is left is added/removed.
    """
    old_left, new_left = _unmatched(split_sentences(old), split_sentences(new))
    pairs = _similar_pairs(old_left, new_left, _MODIFIED_CUTOFF)
    return SentenceCounts(
        added=len(new_left) - len(pairs),
        removed=len(old_left) - len(pairs),
        modified=len(pairs),
    )


def _unmatched(old: Sequence[str], new: Sequence[str]) -> tuple[list[str], list[str]]:
    common = Counter(old) & Counter(new)
    old_left, new_left = Counter(old) - common, Counter(new) - common
    return list(old_left.elements()), list(new_left.elements())


def _similar_pairs(old: Sequence[str], new: Sequence[str], cutoff: float) -> list[tuple[int, int]]:
    """Greedy best-score one-to-one pairing of two lists of strings."""
    if not old or not new:
        return []
    scored = sorted(
        (
            (-score, i, j)
            for i, a in enumerate(old)
            for j, b in enumerate(new)
            if (score := fuzz.ratio(a, b, score_cutoff=cutoff))
        ),
    )
    used_old: set[int] = set()
    used_new: set[int] = set()
    pairs = []
    for _score, i, j in scored:
        if i not in used_old and j not in used_new:
            used_old.add(i)
            used_new.add(j)
            pairs.append((i, j))
    return pairs


# --- noise -----------------------------------------------------------------------------------

_TYPOGRAPHY = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "«": '"',
        "»": '"',
        "–": "-",
        "—": "-",
        "‐": "-",
        "‑": "-",
        "\u00a0": " ",
    }
)
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>~|])")
# A clause label at the start of a line: "4.2", "4.2.", "(a)", "iv.", "Section 4.2:", "§ 4".
_LINE_LABEL = re.compile(
    r"""^\s*(?:\#{1,6}\s*|>\s*|[-*+•▪◦·]\s+)*
        (?:(?:section|article|clause|part)\s+\d{1,3}(?:\.\d{1,3})*[.):]?(?:\s+|$)
          | §\s*\d{1,3}(?:\.\d{1,3})*[.):]?(?:\s+|$)
          | \d{1,3}(?:\.\d{1,3})+[.):]?(?:\s+|$)
          | (?:\d{1,3}|[a-z]|[ivx]{1,5})[.)](?:\s+|$)
          | \([a-z0-9]{1,5}\)\s*)?""",
    re.X | re.I,
)
_COMPARABLE = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+|[$€£¥₹%§@+<>=]")


def _comparison_key(text: str) -> list[str]:
    """The words, numbers and meaningful symbols of a clause, without labels or styling."""
    text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    text = _MARKDOWN_LINK.sub(r"\1", text)  # link targets carry per-render tokens
    text = _MARKDOWN_ESCAPE.sub(r"\1", text)
    lines = [_LINE_LABEL.sub("", line, count=1) for line in text.splitlines()]
    tokens = _COMPARABLE.findall("\n".join(lines).lower())
    return [t.replace(",", "") if t[0].isdigit() else t for t in tokens]


def is_substantive(old: str, new: str) -> bool:
    """Whether ``old`` → ``new`` changes the clause's words or numbers.

    Not substantive: whitespace, punctuation, letter case, typographic quotes and dashes,
    Markdown emphasis, escapes and link targets, bullet markers, and clause labels at the
    start of a line ("4.2" → "5.2", "(a)" → "(b)"). Any other change of a word or a number,
    including cross-references inside the body, is substantive.
    """
    if old == new:
        return False
    return _comparison_key(old) != _comparison_key(new)
