"""DOM helpers: parsing, removing what is never content, and declared CSS selectors.

Declarations follow Open Terms Archive: ``select`` and ``remove`` are lists of CSS selectors or of
range selectors ``{"startBefore"|"startAfter": css, "endBefore"|"endAfter": css}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import lxml.html
from cssselect import SelectorError
from lxml import etree
from lxml.cssselect import CSSSelector
from lxml.html import HtmlElement

from .charset import decode_html
from .errors import ExtractionError

Selector = str | Mapping[str, str]

# Elements whose text is never part of a document: code, media, widgets and form controls.
NON_CONTENT_TAGS = (
    "script", "style", "noscript", "template", "svg", "math", "iframe", "frame", "object",
    "embed", "canvas", "video", "audio", "map", "input", "select", "textarea", "option",
    "datalist", "meter", "progress", "link", "meta", "head", "title", "base",
)  # fmt: skip
_HIDDEN_STYLE = re.compile(r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden)", re.I)
_WS = re.compile(r"\s+")
# Text for screen readers only ("(opens in a new window)", an icon's name): UI, not document.
_SCREEN_READER_ONLY = re.compile(
    r"(?:^|\s)(?:sr-only|visually-?hidden|screen-?reader-(?:text|only)|a11y-hidden|assistive-text)"
    r"(?:\s|$)",
    re.I,
)
_ICON_CLASS = re.compile(
    r"(?:^|\s)(?:fa[srbl]?|fa-[\w-]+|material-(?:icons|symbols)[\w-]*|glyphicon|icon)(?:\s|$)"
)


def parse_html(html: str) -> HtmlElement:
    """Parse a whole page (lxml's HTML parser is lenient and fast)."""
    html = html.lstrip("\ufeff")
    if not html.strip():
        raise ExtractionError("empty HTML document")
    # An XML declaration with an encoding is refused by lxml for str input.
    html = re.sub(r"^\s*<\?xml[^>]*>", "", html)
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError(f"unparseable HTML: {exc}") from exc


def text_of(el: HtmlElement) -> str:
    """The element's text with whitespace collapsed."""
    return _WS.sub(" ", el.text_content()).strip()


def drop(el: HtmlElement) -> None:
    """Remove an element and its subtree, keeping the text that follows it."""
    if el.getparent() is not None:
        el.drop_tree()


def _disclosure_ids(root: HtmlElement) -> set[str]:
    """Ids of collapsible panels: hidden until a trigger expands them, but content all the same."""
    ids: set[str] = set()
    for el in root.iter():
        if isinstance(el.tag, str) and (controls := el.get("aria-controls")):
            ids.update(controls.split())
    return ids


def _expanders(root: HtmlElement) -> set[str]:
    return {
        el.get("id", "")
        for el in root.iter()
        if isinstance(el.tag, str) and el.get("aria-expanded") is not None and el.get("id")
    }


def is_assistive_only(el: HtmlElement) -> bool:
    """Screen-reader-only labels, icon-font ligatures and ``role=img`` widgets."""
    if el.get("role") == "img":
        return True
    short = len(el.text_content()) <= 80
    if short and (el.get("data-sr-only") or _SCREEN_READER_ONLY.search(el.get("class", ""))):
        return True
    text = el.text_content().strip()
    return bool(
        text and " " not in text and len(text) <= 40 and _ICON_CLASS.search(el.get("class", ""))
    )


def is_hidden(el: HtmlElement) -> bool:
    if el.get("hidden") is not None and el.get("hidden") != "until-found":
        return True
    if el.get("aria-hidden", "").strip().lower() == "true":
        return True
    return bool(_HIDDEN_STYLE.search(el.get("style", "")))


def page_body(html: str | bytes, content_type: str = "") -> HtmlElement:
    """The decoded page's ``<body>`` (or root) with scripts, styles and other non-content gone."""
    text = decode_html(html, content_type) if isinstance(html, bytes) else html
    doc = parse_html(text)
    body = doc.find("body")
    if body is None:
        body = doc
    remove_non_content(body)
    return body


def remove_non_content(root: HtmlElement) -> None:
    """Remove code, media, form controls and hidden elements.

    Collapsed accordion panels are hidden too, but a reader opens them: a hidden element whose id
    is named by some ``aria-controls`` or that is labelled by an ``aria-expanded`` trigger stays.
    Buttons go, except disclosure triggers (they hold the panel's title, often a heading).
    """
    for el in list(root.iter(*NON_CONTENT_TAGS)):
        drop(el)
    for comment in list(root.iter(etree.Comment, etree.ProcessingInstruction)):
        drop(comment)
    panels = _disclosure_ids(root)
    expanders = _expanders(root)
    for el in list(root.iter()):
        if not isinstance(el.tag, str) or el.getparent() is None:
            continue
        if _never_content(el, panels, expanders):
            drop(el)


def _never_content(el: HtmlElement, panels: set[str], expanders: set[str]) -> bool:
    if el.tag == "button" and not _is_disclosure_trigger(el):
        return True
    if is_hidden(el) and not _is_panel(el, panels, expanders):
        return True
    return is_assistive_only(el)


def _is_disclosure_trigger(el: HtmlElement) -> bool:
    return el.get("aria-controls") is not None or any(
        True for _ in el.iter("h1", "h2", "h3", "h4", "h5", "h6")
    )


def _is_panel(el: HtmlElement, panels: set[str], expanders: set[str]) -> bool:
    if el.get("id") in panels:
        return True
    return any(label in expanders for label in el.get("aria-labelledby", "").split())


def compile_selector(css: str, url: str | None) -> CSSSelector:
    try:
        return CSSSelector(css)
    except SelectorError as exc:
        raise ExtractionError(f"invalid CSS selector {css!r}{_where(url)}: {exc}") from exc


def _where(url: str | None) -> str:
    return f" in {url}" if url else ""


def _describe(selector: Selector) -> str:
    return repr(selector) if isinstance(selector, str) else repr(dict(selector))


def select_elements(root: HtmlElement, selector: Selector, url: str | None) -> list[HtmlElement]:
    """Elements matched by a CSS or range selector, top-most only, in document order."""
    if isinstance(selector, str):
        found = compile_selector(selector, url)(root)
    else:
        found = _range_elements(root, selector, url)
    return _top_most(found)


def _top_most(elements: Iterable[HtmlElement]) -> list[HtmlElement]:
    chosen = set(elements)
    return [el for el in chosen if not any(a in chosen for a in el.iterancestors())]


def _range_elements(root: HtmlElement, spec: Mapping[str, str], url: str | None) -> list[Any]:
    """Elements wholly inside an OTA range: start/end points set before or after an element."""
    order = {el: i for i, el in enumerate(root.iter())}
    last = {el: max((order[d] for d in el.iter()), default=order[el]) for el in order}
    start = _range_point(root, spec, ("startBefore", "startAfter"), url, order, last)
    end = _range_point(root, spec, ("endBefore", "endAfter"), url, order, last)
    return [el for el, i in order.items() if i >= start and last[el] < end and el is not root]


def _range_point(
    root: HtmlElement,
    spec: Mapping[str, str],
    keys: tuple[str, str],
    url: str | None,
    order: dict[Any, int],
    last: dict[Any, int],
) -> int:
    before, after = keys
    key = before if before in spec else after
    if key not in spec:
        raise ExtractionError(f"range selector {dict(spec)!r} needs {before!r} or {after!r}")
    matches = compile_selector(spec[key], url)(root)
    if not matches:
        raise ExtractionError(f"range selector {spec[key]!r} matched nothing{_where(url)}")
    el = matches[0]
    return order[el] if key == before else last[el] + 1


def apply_remove(root: HtmlElement, selectors: Sequence[Selector], url: str | None) -> None:
    """Delete everything the ``remove`` selectors match (a selector matching nothing is fine)."""
    for selector in selectors:
        try:
            found = select_elements(root, selector, url)
        except ExtractionError:
            if isinstance(selector, str):
                raise
            continue  # a range whose bounds are absent removes nothing, as in OTA
        for el in found:
            drop(el)


def apply_select(
    root: HtmlElement, selectors: Sequence[Selector], url: str | None
) -> list[HtmlElement]:
    """Elements matched by any ``select`` selector, in document order, outermost only.

    Raises ExtractionError naming the selector when one matches nothing: a page redesign must be
    noticed, not archived as an empty or partial document.
    """
    chosen: list[HtmlElement] = []
    for selector in selectors:
        found = select_elements(root, selector, url)
        if not found:
            raise ExtractionError(f"selector {_describe(selector)} matched nothing{_where(url)}")
        chosen.extend(found)
    order = {el: i for i, el in enumerate(root.iter())}
    return sorted(_top_most(chosen), key=order.__getitem__)
