"""What a reader sees: the visible text of a page, and the raw Markdown/HTML that must not be in it
(shared by the in-process page tests and the Chromium tests)."""

from __future__ import annotations

import re

from lxml import html as lxml_html

# raw Markdown or HTML left in text a reader sees
ARTIFACTS = {
    "bold": re.compile(r"\*\*|(?<!\w)__|__(?!\w)"),
    "table delimiter": re.compile(r"\|\s*:?-{3,}"),
    "table row": re.compile(r"^\s*\|.*\|\s*$", re.M),
    "link": re.compile(r"\]\((?:https?:|mailto:|/|#)"),
    "br": re.compile(r"<br\s*/?>", re.I),
    "heading": re.compile(r"^\s*#{1,6}\s", re.M),
    "tag": re.compile(r"</?(?:p|div|span|a|img|script|strong|em|ul|ol|li|table|td)\b[^>]*>", re.I),
}


def visible_text(page: str) -> str:
    """The text content of <main> (scripts, styles and the citation's <pre> left out)."""
    root = lxml_html.fromstring(page)
    for node in root.xpath("//script|//style|//pre[contains(@class, 'citation')]"):
        node.drop_tree()
    main = root.xpath("//main") or [root]
    return str(main[0].text_content())


def artifacts(text: str) -> dict[str, list[str]]:
    """Each kind of artifact found in ``text``, with a little context around each."""
    found: dict[str, list[str]] = {}
    for name, pattern in ARTIFACTS.items():
        for m in pattern.finditer(text):
            found.setdefault(name, []).append(text[max(0, m.start() - 40) : m.end() + 40])
    return found
