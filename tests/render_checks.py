"""What a reader sees: the visible text of a page, and the raw Markdown/HTML that must not be in it
(shared by the in-process page tests and the Chromium tests)."""

from __future__ import annotations

import re
from collections.abc import Sequence

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


# Lists and tables of the page's own (not of archived text, whose repeats are the document's).
ROWS_SKIP = ".archived, blockquote, .redline, .document-text, pre, details.unchanged"


def duplicate_rows(page: str) -> list[str]:
    """Rows (``li`` of a list, ``tr`` of a table body) whose text another row of the same list or
    table also has, in <main>, outside archived text."""
    root = lxml_html.fromstring(page)
    skip = (
        " or ".join(f"ancestor::{tag}" for tag in ("blockquote", "pre"))
        + " or "
        + " or ".join(
            f"ancestor::*[contains(concat(' ', @class, ' '), ' {name} ')]"
            for name in ("archived", "redline", "document-text", "unchanged")
        )
    )
    found: list[str] = []
    for rows in root.xpath(f"//main//*[self::ul or self::ol or self::tbody][not({skip})]"):
        texts = [" ".join(r.text_content().split()) for r in rows.xpath("./li|./tr")]
        seen: set[str] = set()
        for text in texts:
            if text and text in seen and text not in found:
                found.append(text)
            seen.add(text)
    return found


def title_problems(title: str, heading_path: Sequence[str] | None, text: str | None) -> list[str]:
    """What is wrong with a provision title as shown: a fragment ("…", or a dangling last word
    where its provision goes on; that needs the provision's heading path and text), a label
    written twice ("5. 5. Termination"), raw markup (the library's definitions)."""
    from clausewatch.provisions.titles import has_repeated_label, is_fragment

    problems = []
    if title.endswith(("…", "...")) or (
        text is not None and is_fragment(title, heading_path or [], text)
    ):
        problems.append("fragment")
    if has_repeated_label(title):
        problems.append("repeated label")
    problems += [f"markup ({kind})" for kind in artifacts(title)]
    return problems
