"""Finding the main content of a page that has no declared selector.

Three steps, all generic (no rule knows a site):

1. Remove boilerplate: navigation, banners, footers, sidebars, dialogs and cookie notices, found by
   tag, ARIA landmark role and class/id words. A container is never removed when it holds most of
   the page's text (a layout wrapper named ``page-with-sidebar`` is not a sidebar).
2. Choose the content root: start at ``<body>`` and go down while one child holds nearly all the
   *prose* (text outside links) and what the other children hold looks like boilerplate (little
   prose, or mostly links). A semantic ``<main>``/``<article>``/``role=main`` that holds most of
   the prose is taken directly.
3. Widen the root to take in the page title: when the first ``<h1>`` sits just before the root
   (title and "last updated" line in a hero block), take their nearest common ancestor if that
   adds only a little prose.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lxml.html import HtmlElement

from .dom import drop

_BOILERPLATE_TAGS = ("nav", "aside", "dialog", "menu", "header", "footer")
_BOILERPLATE_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog",
     "menu", "menubar", "toolbar"}
)  # fmt: skip
# Whole words of class/id values, after splitting camelCase and on - _ : . and spaces.
_BOILERPLATE_WORDS = re.compile(
    r"(?:^|\s)(?:cookies?|consent|gdpr|onetrust|cookiebot|breadcrumbs?|sidebar|sidenav|toc"
    r"|table of contents|on this page|skip link|skip to content|skiplink|share|sharing|social"
    r"|newsletter|subscribe|navbar|navigation|nav|menu|megamenu|related|promo|advert|ads"
    r"|popup|modal|drawer|feedback|pagination|pager|back to top|language switcher|locale"
    r" picker|lang switcher)(?:\s|$)"
)
_UTILITY_CLASS = re.compile(r"[:\[\]()@]")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[-_:.\s/]+")
_SEMANTIC_ROOTS = ("main", "article")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")


@dataclass
class Mass:
    """Text amounts of a subtree, in characters of whitespace-collapsed text."""

    prose: int = 0  # text outside links
    links: int = 0  # text inside links

    @property
    def total(self) -> int:
        return self.prose + self.links

    @property
    def link_density(self) -> float:
        return self.links / self.total if self.total else 0.0


def _words(el: HtmlElement) -> str:
    # Utility-CSS classes with variants or arbitrary values ("toc-visible:md:grid-cols-10",
    # "[--gap:0]") describe styling, not the role of the element.
    names = [c for c in el.get("class", "").split() if not _UTILITY_CLASS.search(c)]
    raw = " ".join([*names, el.get("id", "")])
    return " ".join(_SPLIT.split(_CAMEL.sub(" ", raw).lower())).strip()


def _text_len(text: str | None) -> int:
    return len(" ".join(text.split())) if text else 0


def compute_masses(root: HtmlElement) -> dict[HtmlElement, Mass]:
    """Prose and link text of every element's subtree, in one pass over the tree."""
    masses: dict[HtmlElement, Mass] = {}
    in_link: dict[HtmlElement, bool] = {}
    order: list[HtmlElement] = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        parent = el.getparent()
        linked = el.tag == "a" or (parent is not None and in_link.get(parent, False))
        in_link[el] = linked
        own = _text_len(el.text) + sum(_text_len(c.tail) for c in el)
        masses[el] = Mass(links=own) if linked else Mass(prose=own)
        order.append(el)
    for el in reversed(order):
        parent = el.getparent()
        if parent is not None and parent in masses and el is not root:
            masses[parent].prose += masses[el].prose
            masses[parent].links += masses[el].links
    return masses


def _is_landmark_boilerplate(el: HtmlElement) -> bool:
    """Navigation declared as such by its tag or ARIA role."""
    return el.tag in ("nav", "menu") or el.get("role", "").strip().lower() in _BOILERPLATE_ROLES


def _is_boilerplate(el: HtmlElement) -> bool:
    if el.tag in _BOILERPLATE_TAGS:
        return True
    if el.tag in ("header", "footer"):
        # A page-level header/footer is chrome; one inside the content (an article's title block)
        # or one that carries the page title is not.
        inside_content = any(
            a.tag in _SEMANTIC_ROOTS or a.get("role") == "main" for a in el.iterancestors()
        )
        return not inside_content and (el.tag == "footer" or not _has_h1(el))
    if el.tag in _HEADINGS or _has_h1(el):
        return False  # a heading, or a block holding the page title, is content whatever its class
    return bool(_BOILERPLATE_WORDS.search(_words(el)))


def _has_h1(el: HtmlElement) -> bool:
    return any(True for _ in el.iter("h1"))


def remove_boilerplate(body: HtmlElement) -> None:
    """Delete boilerplate containers, but never one that holds most of the page's prose."""
    masses = compute_masses(body)
    total = max(masses[body].prose, 1)
    for el in list(body.iter()):
        if not isinstance(el.tag, str) or el is body or el.getparent() is None:
            continue
        mass = masses.get(el, Mass())
        if mass.prose > 0.3 * total and mass.prose > 500:
            continue  # a layout wrapper with a boilerplate-sounding name
        if _is_landmark_boilerplate(el):
            drop(el)
        elif _is_boilerplate(el) and (mass.prose <= 1000 or mass.link_density >= 0.5):
            # Named like boilerplate and shaped like it: short, or mostly links. A long run of
            # prose in an <aside> or a "related-terms" section is content.
            drop(el)


def _children(el: HtmlElement) -> Iterator[HtmlElement]:
    return (c for c in el if isinstance(c.tag, str))


def _looks_like_boilerplate(rest: Mass, total: int) -> bool:
    """What the chosen child leaves behind may be dropped: little prose, or mostly links."""
    if rest.prose <= max(0.02 * total, 40):
        return True
    return rest.link_density > 0.5 and rest.prose <= 0.1 * total


def choose_root(body: HtmlElement) -> HtmlElement:
    """The smallest element that holds the page's prose while leaving only boilerplate out."""
    masses = compute_masses(body)
    total = masses[body].prose
    if total == 0:
        return body
    semantic = _semantic_root(body, masses, total)
    node = semantic if semantic is not None else body
    while True:
        kids = list(_children(node))
        if not kids:
            return node
        best = max(kids, key=lambda c: masses[c].prose)
        here, child = masses[node], masses[best]
        rest = Mass(here.prose - child.prose, here.links - child.links)
        if not _looks_like_boilerplate(rest, here.prose):
            return node
        node = best


def _semantic_root(
    body: HtmlElement, masses: dict[HtmlElement, Mass], total: int
) -> HtmlElement | None:
    """A single ``main``/``article``/``role=main`` holding most of the prose, if there is one."""
    candidates = [
        el
        for el in body.iter()
        if isinstance(el.tag, str) and (el.tag in _SEMANTIC_ROOTS or el.get("role") == "main")
    ]
    big = [el for el in candidates if masses[el].prose >= 0.6 * total]
    if not big:
        return None
    # The outermost one: an article inside main must not cut off main's title block.
    return min(big, key=lambda el: sum(1 for _ in el.iterancestors()))


def widen_for_title(body: HtmlElement, root: HtmlElement) -> HtmlElement:
    """Include the page's title (first h1) and its hero block when they sit just before root."""
    if root is body or _has_h1(root):
        return root
    h1 = next(body.iter("h1"), None)
    if h1 is None or not _precedes(body, h1, root):
        return root
    ancestor = _common_ancestor(h1, root)
    masses = compute_masses(ancestor)
    added = masses[ancestor].prose - masses[root].prose
    if added <= max(0.05 * masses[root].prose, 300) and masses[ancestor].link_density < 0.3:
        return ancestor
    return root


def _precedes(body: HtmlElement, a: HtmlElement, b: HtmlElement) -> bool:
    """Whether ``a`` comes before ``b`` in document order."""
    for el in body.iter():
        if el is a:
            return True
        if el is b:
            return False
    return False


def _common_ancestor(a: HtmlElement, b: HtmlElement) -> HtmlElement:
    ancestors_a = {id(x): x for x in [a, *a.iterancestors()]}
    for x in [b, *b.iterancestors()]:
        if id(x) in ancestors_a:
            return x
    raise ValueError("elements are in different trees")


def find_main_content(body: HtmlElement) -> HtmlElement:
    """Strip boilerplate from ``body`` (in place) and return the element holding the content."""
    remove_boilerplate(body)
    root = choose_root(body)
    return widen_for_title(body, root)
