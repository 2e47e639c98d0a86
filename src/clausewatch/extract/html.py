"""HTML → Markdown: decode, clean, narrow (declared selectors or main content), convert."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree
from lxml.html import HtmlElement

from .content import find_main_content
from .converter import fragment_to_markdown
from .dom import Selector, apply_remove, apply_select, page_body
from .errors import ExtractionError


def html_to_markdown(
    html: str | bytes,
    *,
    select: Sequence[Selector] = (),
    remove: Sequence[Selector] = (),
    url: str | None = None,
    content_type: str = "",
) -> str:
    """Convert a page to normalised Markdown.

    With ``select``, only the matched elements are kept (all matches of all selectors, in document
    order); ``remove`` matches are deleted first. Without ``select``, the main content is found
    automatically (see :mod:`clausewatch.extract.content`).
    """
    body = page_body(html, content_type)
    apply_remove(body, remove, url)
    parts = apply_select(body, select, url) if select else [find_main_content(body)]
    markdown = fragment_to_markdown("".join(_serialise(el) for el in parts))
    if not markdown.strip():
        raise ExtractionError(f"no text found{' in ' + url if url else ''}")
    return markdown


def _serialise(el: HtmlElement) -> str:
    # The tail belongs to the parent, not to the selected element.
    return etree.tostring(el, encoding="unicode", method="html", with_tail=False)
