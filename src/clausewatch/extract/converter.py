"""The HTML fragment → Markdown converter (a markdownify subclass) and Markdown tidying."""

from __future__ import annotations

import re
from typing import Any

from markdownify import ATX, BACKSLASH, MarkdownConverter

_CELL = frozenset({"td", "th"})
_CELL_BREAKS = re.compile(r"[ \t]*\n(?:[ \t]*\n)+[ \t]*")
_BLANK_RUNS = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.M)
_EMPTY_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d+\.)[ \t]*$\n?", re.M)
# Invisible characters that only add noise to text (word joiners, zero-width spaces, soft hyphens).
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_ODD_SPACES = re.compile("[\u00a0\u2000-\u200a\u202f\u205f\u3000]")


# markdownify's stub omits the convert_* methods: reach the base implementations untyped.
_BASE: Any = MarkdownConverter


class LegalMarkdownConverter(MarkdownConverter):
    """ATX headings, ``-`` bullets, links rendered as their text, no images.

    Link targets are dropped on purpose: they carry per-render tokens and tracking parameters that
    would register as document changes, and the clause text is what we version.
    """

    def __init__(self, **options: Any) -> None:
        options.setdefault("heading_style", ATX)
        options.setdefault("bullets", "-")
        options.setdefault("newline_style", BACKSLASH)
        options.setdefault("strip_document", "strip")
        options.setdefault("table_infer_header", True)
        options.setdefault("bs4_options", "lxml")
        # Newlines in HTML source are spaces: collapse them (wrap without a width does just that),
        # or re-indenting the page's source would look like a change of the text.
        options.setdefault("wrap", True)
        options.setdefault("wrap_width", None)
        super().__init__(**options)

    def convert_a(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return text

    def convert_img(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return ""

    def convert_hN(self, n: int, el: Any, text: str, parent_tags: set[str]) -> str:
        if not text.strip():
            return ""  # anchor-only headings carry no text
        return _BASE.convert_hN(self, n, el, text, parent_tags)

    def convert_p(self, el: Any, text: str, parent_tags: set[str]) -> str:
        if parent_tags & _CELL:
            return "\n\n" + text.strip() + "\n\n"  # becomes <br><br> in the cell
        return _BASE.convert_p(self, el, text, parent_tags)

    def convert_div(self, el: Any, text: str, parent_tags: set[str]) -> str:
        if parent_tags & _CELL:
            return "\n" + text.strip() + "\n"  # a layout block in a cell: one <br>
        return _BASE.convert_div(self, el, text, parent_tags)

    def convert_br(self, el: Any, text: str, parent_tags: set[str]) -> str:
        if parent_tags & _CELL:
            return "\n"
        return _BASE.convert_br(self, el, text, parent_tags)

    def convert_td(self, el: Any, text: str, parent_tags: set[str]) -> str:
        # GFM cells are one line: line structure inside a cell is kept as <br>, the usual idiom.
        cell = _CELL_BREAKS.sub("\n\n", text.strip()).replace("\n", "<br>")
        return _BASE.convert_td(self, el, cell, parent_tags)

    convert_th = convert_td

    def convert_pre(self, el: Any, text: str, parent_tags: set[str]) -> str:
        # Legal pages use <pre> for addresses and ASCII art alike; keep the text, not a code fence.
        lines = [line.rstrip() for line in text.strip("\n").splitlines()]
        return "\n\n" + "\n".join(line for line in lines if line.strip()) + "\n\n"


_CONVERTER = LegalMarkdownConverter()


def fragment_to_markdown(html: str) -> str:
    """Convert an HTML fragment (already narrowed to the content) into tidy Markdown."""
    return tidy_markdown(_CONVERTER.convert(html))


def tidy_markdown(markdown: str) -> str:
    """Collapse whitespace noise so that equal content yields equal Markdown."""
    text = _INVISIBLE.sub("", markdown)
    text = _ODD_SPACES.sub(" ", text)
    text = _TRAILING_SPACE.sub("", text)
    text = _EMPTY_ITEM.sub("", text)
    text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip() + "\n" if text.strip() else ""
