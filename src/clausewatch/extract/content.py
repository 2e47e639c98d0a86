"""Finding the main content of a page that has no declared selector.

Four steps, all generic (no rule knows a site):

0. Remove overlays (:func:`remove_overlays`): dialogs and modals (``<dialog>``, ``role=dialog`` /
   ``alertdialog``, ``aria-modal=true``), the containers of the common consent-management platforms
   (OneTrust, Cookiebot, TrustArc, Didomi, Quantcast, Usercentrics, Osano, CookieLawInfo, iubenda,
   Sourcepoint, …) and of generic cookie banners (``cookie-banner``, ``consent-banner``…), and
   login/sign-up overlays. They are removed whatever their size: on a short page a cookie
   preference centre holds more prose than the document itself, and must never become the
   content. The rule is about overlay *containers*, never about text that mentions cookies: a
   Cookie Policy's body (``id="cookie-policy"``, a table of cookies) stays.
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

from .dom import drop, page_body

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


# --- Overlays: dialogs, consent managers, login walls ------------------------------------------

_OVERLAY_ROLES = frozenset({"dialog", "alertdialog"})
# Ids and class names rendered by consent-management platforms (whole names, lower-cased).
_CONSENT_MANAGER = re.compile(
    r"onetrust-(?:consent-sdk|banner-sdk|pc-sdk|pc-dark-filter)|ot-sdk-btn-floating"
    r"|cybotcookiebotdialog[\w-]*"  # Cookiebot
    r"|truste(?:-consent-[\w-]+|_box_overlay[\w-]*|_overlay|-banner[\w-]*)|consent_blackbar"
    r"|trustarc-banner[\w-]*"  # TrustArc
    r"|didomi-(?:host|notice|popup)[\w-]*|qc-cmp2-[\w-]+|usercentrics-(?:root|cmp-ui)"
    r"|osano-cm-(?:window|dialog)|cookie-law-info-(?:bar|again)|cli-modal|clisettingspopup"
    r"|iubenda-(?:cs-banner|iframe)|sp_message_(?:container|iframe)_[\w-]+"  # Sourcepoint
    r"|cmpbox|cmpwrapper|cmplz-cookiebanner[\w-]*|cc-window|tarteaucitron(?:root|alertbig)"
    r"|borlabscookie[\w-]*|cookiescript_injected|axeptio_overlay|klaro"
)
# Generic banner names, on the class/id words (see _words): "cookie-banner", "CookieConsent",
# "consent_popup", "gdpr-cookie-bar"… Never "cookie policy", "cookie list" or "cookie notice":
# those name documents.
_CONSENT_CONTAINER = re.compile(
    r"(?:^|\s)(?:cookies?|consent|gdpr|ccpa)\s?(?:banner|bar|consent|popup|pop\s?up|modal|dialog"
    r"|overlay|wall|prompt|layer|box|alert|manager|preferences?\s?(?:center|centre|modal|panel))"
    r"|(?:^|\s)(?:gdpr|ccpa)\s?cookies?(?:\s|$)"
)
_COOKIE_WORDS = re.compile(r"(?:^|\s)(?:cookies?|consent|gdpr)(?:\s|$)")
_ABOUT_COOKIES = re.compile(r"cookie|tracker|tracking technolog", re.I)
# Names of containers that pop up over a page.
_OVERLAY_NAME = re.compile(
    r"(?:^|\s)(?:modal|popup|pop\s?up|overlay|dialog|lightbox|login|log\s?in|signin|sign\s?in"
    r"|signup|sign\s?up|auth|authentication|register|registration|paywall|wall|gate)(?:\s|$)"
)
# What a login or sign-up prompt says; _AUTH_ACTION is what makes it one.
_AUTH_ACTION = re.compile(
    r"\b(?:sign(?:ing)?[\s-]?(?:in|up|on)|log(?:ging)?[\s-]?(?:in|on)|login|register"
    r"|create (?:an |your |a (?:free )?)?account|continue with)\b",
    re.I,
)
_AUTH_PHRASES = re.compile(
    r"\b(?:(?:log(?:ging)?|sign(?:ing)?)[\s-]?(?:in|into|on|up|out)(?: (?:to|for|with) \w+)?"
    r"|login|logout|register(?: now| for free)?|registration|join(?: now| free| for free)?"
    r"|create (?:an |your |a (?:free )?)?account|continue with \w+|(?:forgot|reset) (?:your )?"
    r"(?:password|account|username)|remember me|(?:don'?t|do not|already) have an account"
    r"|new to \w+|welcome back|get started|(?:you must|please) (?:log|sign) ?in to continue"
    r"|(?:e-?mail|phone|mobile)(?: address| number)?(?: or (?:phone|mobile|username)(?: number)?)?"
    r"|password|username|notice|or|to continue)\b",
    re.I,
)
_CONTAINERS = frozenset({"div", "section", "form", "aside", "ul", "span", "header", "footer"})


def is_about_cookies(body: HtmlElement) -> bool:
    """Whether the page's first ``h1`` or its ``<title>`` says it is about cookies."""
    h1 = next(body.iter("h1"), None)
    title = body.getroottree().find(".//title")
    texts = [el.text_content() for el in (h1, title) if el is not None]
    return any(_ABOUT_COOKIES.search(text) for text in texts)


def _names(el: HtmlElement) -> list[str]:
    return [n.lower() for n in [el.get("id", ""), *el.get("class", "").split()] if n]


def _is_dialog(el: HtmlElement) -> bool:
    return (
        el.tag == "dialog"
        or el.get("role", "").strip().lower() in _OVERLAY_ROLES
        or el.get("aria-modal", "").strip().lower() == "true"
    )


def _is_consent_manager(el: HtmlElement) -> bool:
    return any(_CONSENT_MANAGER.fullmatch(name) for name in _names(el))


def _has_heading(el: HtmlElement, levels: tuple[str, ...] = _HEADINGS) -> bool:
    return any(True for _ in el.iter(*levels))


def _is_consent_container(el: HtmlElement, prose: int, about_cookies: bool) -> bool:
    """A generically named cookie banner; never a titled section, a table, or long prose."""
    if not _CONSENT_CONTAINER.search(_words(el)):
        return False
    if prose > 5000 or _has_h1(el) or any(True for _ in el.iter("table")):
        return False
    # On a Cookie Policy, a "cookie-consent" block with a heading is the section on consent.
    return not (about_cookies and _has_heading(el))


def _auth_share(text: str) -> float:
    """Share of the letters of ``text`` that belong to sign-in / sign-up phrases."""
    letters = sum(c.isalpha() for c in text)
    if not letters:
        return 0.0
    rest = _AUTH_PHRASES.sub(" ", text)
    return 1 - sum(c.isalpha() for c in rest) / letters


def _is_login_overlay(el: HtmlElement) -> bool:
    """A container whose text is mostly "Sign in", "Register", "Continue with Google"…

    Named like an overlay (modal, popup, login, auth…): up to 1,500 characters, 40 % sign-in
    phrases. Otherwise only a small box (≤ 300 characters, no heading) with two or more sign-in
    actions ("Sign in / Register") that is ≥ 60 % sign-in phrases. A clause *about* accounts
    ("You must register to use…") is prose and never reaches those shares.
    """
    if el.tag not in _CONTAINERS:
        return False
    text = " ".join(el.text_content().split())
    if not text or len(text) > 1500:
        return False
    actions = len(_AUTH_ACTION.findall(text))
    if not actions:
        return False
    if _OVERLAY_NAME.search(_words(el)):
        return _auth_share(text) >= 0.4
    return len(text) <= 300 and actions >= 2 and not _has_heading(el) and _auth_share(text) >= 0.6


def is_overlay(el: HtmlElement, prose: int = 0, about_cookies: bool = False) -> bool:
    """Dialog, modal, consent banner or login overlay: never the content of a page."""
    return (
        _is_dialog(el)
        or _is_consent_manager(el)
        or _is_consent_container(el, prose, about_cookies)
        or _is_login_overlay(el)
    )


def remove_overlays(body: HtmlElement, *, about_cookies: bool = False) -> None:
    """Delete dialogs, modals, consent banners and login overlays, whatever their size."""
    masses = compute_masses(body)
    for el in list(body.iter()):
        if not isinstance(el.tag, str) or el is body or el.getparent() is None:
            continue
        if is_overlay(el, masses.get(el, Mass()).prose, about_cookies):
            drop(el)


def count_overlays(html: bytes | str, content_type: str = "") -> int:
    """How many overlays (outermost only) automatic extraction removes from a page (bench)."""
    body = page_body(html, content_type)
    about_cookies = is_about_cookies(body)
    masses = compute_masses(body)
    found = [
        el
        for el in body.iter()
        if isinstance(el.tag, str)
        and el is not body
        and is_overlay(el, masses.get(el, Mass()).prose, about_cookies)
    ]
    chosen = set(found)
    return sum(1 for el in found if not any(a in chosen for a in el.iterancestors()))


# --- Boilerplate ---------------------------------------------------------------------------------


def remove_boilerplate(body: HtmlElement, *, about_cookies: bool = False) -> None:
    """Delete boilerplate containers, but never one that holds most of the page's prose.

    ``about_cookies``: the page's title is about cookies (a Cookie Policy), where an element named
    ``cookies`` or ``consent`` is a section of the document, not a banner.
    """
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
        elif about_cookies and _COOKIE_WORDS.search(_words(el)):
            continue
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
    """Strip overlays and boilerplate from ``body`` (in place) and return the content element."""
    about_cookies = is_about_cookies(body)
    remove_overlays(body, about_cookies=about_cookies)
    remove_boilerplate(body, about_cookies=about_cookies)
    root = choose_root(body)
    return widen_for_title(body, root)
