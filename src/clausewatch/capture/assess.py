"""Is this response the document, or a wall / error page standing in for it?

Conservative by design: a false "blocked" makes us miss a real change, but a false "document"
records a bot wall as a new version, so markers only count on pages with little text of their
own. A policy that merely *mentions* cookies, reCAPTCHA or signing in, or that carries a consent
banner next to its long text, is the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal
from urllib.parse import urlsplit

import lxml.html
from lxml import etree


class BlockedReason(StrEnum):
    HTTP_5XX = "http 5xx"
    HTTP_4XX = "http 4xx"
    NOT_FOUND = "not found"  # 404 / 410: maybe the document was removed
    RATE_LIMITED = "rate limited"  # 429
    UNFOLLOWED_REDIRECT = "unfollowed redirect"  # 3xx without a usable Location
    BOT_WALL = "bot wall"
    CAPTCHA = "captcha"
    COOKIE_WALL = "cookie wall"
    LOGIN_WALL = "login wall"
    EMPTY_BODY = "empty body"
    NOT_DOCUMENT = "not html/pdf"
    ERROR_PAGE = "error page"  # a 200 that says "page not found" / "server error"
    NEEDS_JAVASCRIPT = "needs javascript"  # an empty shell filled in by scripts


# Below this many words of its own, a page with wall markers is the wall, not a document.
# The shortest real policy page in shared/data has ~180 words (an imprint).
SHORT_PAGE_WORDS = 150
# A consent dialog with at most this much text around it is a cookie wall.
COOKIE_WALL_OUTSIDE_WORDS = 60
CONSENT_DIALOG_MAX_WORDS = 400

_BOT_WALL_MARKERS = (
    "_cf_chl_opt",  # Cloudflare challenge
    "cf-chl-",
    "/cdn-cgi/challenge-platform/h/",  # challenge orchestration (not the jsd beacon)
    "cf-browser-verification",
    'id="cf-wrapper"',
    "cloudflare ray id",
    "captcha-delivery.com",  # DataDome
    "px-captcha",  # PerimeterX / HUMAN
    "_incapsula_resource",  # Imperva
    "incapsula incident id",
    "errors.edgesuite.net",  # Akamai
    "sucuri website firewall",
    "awswaf",  # AWS WAF challenge
    "vercel security checkpoint",
    "ddos-guard",
    "pardon our interruption",  # Distil / Imperva
)
_BOT_WALL_TITLES = re.compile(
    r"just a moment|attention required|access denied|security checkpoint|"
    r"pardon our interruption|ddos-guard|please wait\b.*cloudflare|request rejected"
)
_CAPTCHA_MARKERS = (
    "g-recaptcha",
    "recaptcha/api.js",
    "h-captcha",
    "hcaptcha.com",
    "cf-turnstile",
    "challenges.cloudflare.com/turnstile",
    "arkoselabs",
    "funcaptcha",
    "geetest",
)
_HUMAN_CHECK = re.compile(
    r"verify (?:that )?you(?: are|'re|’re) (?:a )?human|are you a robot|i'?m not a robot|"
    r"prove (?:that )?you(?: are|'re|’re) (?:a )?human|confirm (?:that )?you(?: are|'re|’re) "
    r"(?:a )?human|human verification|complete the security check"
)
_CONSENT_CONTAINER = re.compile(
    r"cookie|consent|gdpr|onetrust|didomi|usercentrics|cookiebot|truste|qc-cmp|sp_message|"
    r"(?:^|[\s_-])cmp(?:$|[\s_-])|cc-window|cc-banner|osano|termly|iubenda|cky-"
)
_CONSENT_PHRASES = re.compile(
    r"accept all|accept cookies|allow all|reject all|we value your privacy|we use cookies|"
    r"manage (?:preferences|cookies|options)|cookie settings|consent"
)
# The label of a consent dialog's button ("Accept all cookies", "I agree", "OK").
_ACCEPT_BUTTON = re.compile(
    r"(?:accept|agree|allow|i agree|got it|ok|okay|yes)(?:,? (?:all|and (?:close|continue)|"
    r"all cookies|cookies|everything|to all))?[.!]?|i understand"
)
_LOGIN_PATH = re.compile(
    r"(?:^|/)(?:log-?in|sign-?in|signin|sign_in|login\.\w+|auth/login|accounts/login|"
    r"session/new|sso|oauth2?/authorize|u/login)(?:/|$)"
)
_ERROR_TITLE = re.compile(
    r"\b(?:404|page not found|not found|500|internal server error|502|bad gateway|503|"
    r"service unavailable|504|gateway time-?out)\b|"
    r"\bpage (?:isn['’]t|is not|not) available\b|\bsomething went wrong\b|"
    r"\bcould not be found\b|\bcan(?:['’]t|not) be found\b|^oops\b"
)
# "You must log in to continue": a login wall that is only text (no password field of its own).
_LOGIN_TEXT = re.compile(
    r"\b(?:must|need to|have to|please) (?:log|sign) ?in(?:to \w+)? (?:to|first|again)\b|"
    r"\b(?:log|sign) ?in to (?:continue|view this|see this)\b"
)
# Wall markers that are visible text as well as markup (matched against a page's text).
_BOT_WALL_TEXT = (
    "cloudflare ray id",
    "incapsula incident id",
    "sucuri website firewall",
    "vercel security checkpoint",
    "ddos-guard",
    "pardon our interruption",
)
_NEEDS_JS = re.compile(r"enable javascript|javascript is (?:required|disabled)|requires javascript")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_INVISIBLE = ("script", "style", "noscript", "template", "svg")

Kind = Literal["html", "pdf", "text", "other"]

# The rules above, by version: a page judged the document under one version is not parsed
# again while its bytes stay the same (`assess_response`'s ``known_page``, the capture cycle's
# `FetchRequest.known_sha256`). Raise it whenever a rule changes what a page is judged to be.
ASSESS_VERSION = "1"


def assess_response(
    status: int | None,
    headers: dict[str, str],
    body: bytes | str,
    final_url: str,
    *,
    known_page: bool = False,
) -> str | None:
    """A short reason (a `BlockedReason`) when this response is not the document, else None.

    ``status`` None (no response) and 304 (not modified) are not judged here. ``known_page``:
    these very bytes were judged the document before, by these rules (`ASSESS_VERSION`), so
    on a 2xx the page itself is not parsed again (the verdict on its markup and text could
    only be the same); the status, headers, content type and final URL are still judged.
    """
    if status is None or status == 304:
        return None
    raw = body.encode("utf-8") if isinstance(body, str) else body
    lower_headers = {k.lower(): v for k, v in headers.items()}
    kind = content_kind(lower_headers.get("content-type", ""), raw)
    known = known_page and 200 <= status < 300
    page = _Page.parse(raw) if kind == "html" and raw.strip() and not known else None
    if not 200 <= status < 300:
        return _wall_reason(page, lower_headers, short_only=False) or _status_reason(status)
    if _LOGIN_PATH.search(urlsplit(final_url).path.lower()):
        return BlockedReason.LOGIN_WALL
    if not raw.strip():
        return BlockedReason.EMPTY_BODY
    if kind == "other":
        return BlockedReason.NOT_DOCUMENT
    if page is None:  # pdf or plain text, or a page judged before: only its headers
        return _header_wall(lower_headers) if known and kind == "html" else None
    return _wall_reason(page, lower_headers, short_only=True) or _html_reason(page)


def content_kind(content_type: str, body: bytes) -> Kind:
    """What the body is, from the declared type, sniffing when it is missing or generic."""
    mime = content_type.split(";", 1)[0].strip().lower()
    head = body[:2048].lstrip().lower()
    looks_html = head.startswith((b"<!doctype html", b"<html")) or b"<html" in head
    if b"%PDF-" in body[:1024]:
        return "pdf"
    if mime in {"application/pdf", "application/x-pdf"}:  # but not a PDF: say what it is
        return "html" if looks_html else "other"
    if mime in {"text/html", "application/xhtml+xml"} or looks_html:
        return "html"
    if mime in {"text/plain", "text/markdown", "text/x-markdown"}:
        return "text"
    if mime in {"", "application/octet-stream"} and _is_text(body[:4096]):
        return "text"
    return "other"


def _is_text(sample: bytes) -> bool:
    return b"\x00" not in sample and bool(sample.strip())


def _status_reason(status: int) -> BlockedReason:
    if status in (404, 410):
        return BlockedReason.NOT_FOUND
    if status == 429:
        return BlockedReason.RATE_LIMITED
    if status in (401, 407):
        return BlockedReason.LOGIN_WALL
    if 300 <= status < 400:
        return BlockedReason.UNFOLLOWED_REDIRECT
    return BlockedReason.HTTP_5XX if status >= 500 else BlockedReason.HTTP_4XX


def _wall_reason(
    page: _Page | None, headers: dict[str, str], *, short_only: bool
) -> BlockedReason | None:
    """Bot wall or captcha. On a 2xx only short pages count (``short_only``)."""
    if wall := _header_wall(headers):
        return wall
    if page is None or (short_only and page.words >= SHORT_PAGE_WORDS):
        return None
    in_text = wall_in_text(page.title, page.text)
    if any(m in page.html for m in _BOT_WALL_MARKERS) or in_text == BlockedReason.BOT_WALL:
        return BlockedReason.BOT_WALL
    if any(m in page.html for m in _CAPTCHA_MARKERS) or in_text == BlockedReason.CAPTCHA:
        return BlockedReason.CAPTCHA
    return None


def _header_wall(headers: dict[str, str]) -> BlockedReason | None:
    """A challenge announced in the response headers (whatever the page says)."""
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return BlockedReason.BOT_WALL
    if headers.get("x-amzn-waf-action", "").lower() in {"challenge", "captcha"}:
        return BlockedReason.BOT_WALL
    return None


def _html_reason(page: _Page) -> BlockedReason | None:
    if page.is_cookie_wall():
        return BlockedReason.COOKIE_WALL
    if page.has_password and page.words < SHORT_PAGE_WORDS:
        return BlockedReason.LOGIN_WALL
    reason = assess_page_text(page.title, page.text, page.words)
    if reason is not None:
        return reason
    if page.words < 5 and (page.scripts or _NEEDS_JS.search(page.noscript)):
        return BlockedReason.NEEDS_JAVASCRIPT
    if page.words == 0 and not page.embeds:
        return BlockedReason.EMPTY_BODY
    return None


def assess_page_text(title: str, text: str, words: int) -> BlockedReason | None:
    """The text-level half of `assess_response`: what a page's own words say it is.

    ``title`` is the page's title (HTML) or its leading words (a Markdown text), ``text`` its
    visible text and ``words`` how many words the page has of its own; all lower-cased. Only short
    pages are judged (fewer than `SHORT_PAGE_WORDS`): a long policy that mentions "not found",
    cookies or signing in is the document. Used for HTML responses here and, through
    `archive.quality.assess_text`, for every text that may become a version (live, imported,
    re-extracted), so a wall or an error page is recognised the same way on every path.
    """
    if words >= SHORT_PAGE_WORDS:
        return None
    in_text = wall_in_text(title, text)
    if in_text is not None:
        return in_text
    if _LOGIN_TEXT.search(text):
        return BlockedReason.LOGIN_WALL
    if _ERROR_TITLE.search(title):
        return BlockedReason.ERROR_PAGE
    if reads_like_consent(text, words):
        return BlockedReason.COOKIE_WALL
    return None


def wall_in_text(title: str, text: str) -> BlockedReason | None:
    """A bot wall or captcha recognisable from the title and visible text alone (no length
    limit: callers decide when a page is short enough to be judged)."""
    if _BOT_WALL_TITLES.search(title) or any(m in text for m in _BOT_WALL_TEXT):
        return BlockedReason.BOT_WALL
    if _HUMAN_CHECK.search(text):
        return BlockedReason.CAPTCHA
    return None


def reads_like_consent(text: str, words: int) -> bool:
    """A short page made of consent wording (no recognisable consent container needed)."""
    phrases = len(set(_CONSENT_PHRASES.findall(text)))
    return phrases >= 2 and words < COOKIE_WALL_OUTSIDE_WORDS * 2


@dataclass
class _Page:
    html: str  # lower-cased source, for markers
    title: str  # lower-cased
    text: str  # lower-cased visible text
    words: int
    noscript: str
    scripts: int
    embeds: int  # iframe / embed / object: content we cannot see here
    has_password: bool
    consent_words: int  # words inside consent dialogs that offer an accept button

    @classmethod
    def parse(cls, raw: bytes) -> _Page:
        html = raw.decode("utf-8", errors="replace").lower()
        try:
            doc = lxml.html.document_fromstring(raw)
        except (etree.ParserError, ValueError):
            return cls(html, "", "", 0, "", 0, 0, False, 0)
        noscript = " ".join(el.text_content() for el in doc.iter("noscript")).lower()
        scripts = sum(1 for _ in doc.iter("script"))
        for el in list(doc.iter(*_INVISIBLE)):
            el.drop_tree()
        text = _squash(doc.text_content()).lower()
        return cls(
            html=html,
            title=_squash(doc.findtext(".//title") or "").lower(),
            text=text,
            words=_count_words(text),
            noscript=noscript,
            scripts=scripts,
            embeds=sum(1 for _ in doc.iter("iframe", "embed", "object")),
            has_password=bool(
                doc.xpath("//input[translate(@type,'PASSWORD','password')='password']")
            ),
            consent_words=_consent_dialog_words(doc),
        )

    def is_cookie_wall(self) -> bool:
        outside = self.words - self.consent_words
        if self.consent_words:
            return outside < COOKIE_WALL_OUTSIDE_WORDS
        # No recognisable container: a short page made of consent wording.
        return reads_like_consent(self.text, self.words)


def _consent_dialog_words(doc: lxml.html.HtmlElement) -> int:
    """Words in the outermost consent dialogs: elements named like a CMP (or dialogs) whose
    text reads like a consent prompt, with a button labelled "Accept all" or the like, and
    short enough to be a dialog rather than a cookie policy wrapped in a ``cookie-policy`` div."""
    total = 0
    for el in doc.iter():
        if not isinstance(el.tag, str) or not _looks_like_consent_container(el):
            continue
        if _inside_counted(el):
            continue
        text = _squash(el.text_content()).lower()
        words = _count_words(text)
        dialog_like = words <= CONSENT_DIALOG_MAX_WORDS and _CONSENT_PHRASES.search(text)
        if dialog_like and _has_accept_button(el):
            el.set("data-cw-consent", "1")
            total += words
    return total


def _has_accept_button(el: lxml.html.HtmlElement) -> bool:
    for button in el.xpath(".//button | .//*[@role='button'] | .//input | .//a"):
        label = _squash(button.text_content() or button.get("value", "")).lower()
        if _ACCEPT_BUTTON.fullmatch(label):
            return True
    return False


def _looks_like_consent_container(el: lxml.html.HtmlElement) -> bool:
    names = f"{el.get('id', '')} {el.get('class', '')}".lower()
    dialog = el.tag == "dialog" or el.get("role") in {"dialog", "alertdialog"}
    return bool(_CONSENT_CONTAINER.search(names)) or dialog


def _inside_counted(el: lxml.html.HtmlElement) -> bool:
    return any(a.get("data-cw-consent") for a in el.iterancestors())


def _squash(text: str) -> str:
    return " ".join(text.split())


def _count_words(text: str) -> int:
    # Scripts written without spaces (CJK) count one word per two characters.
    return len(text.split()) + len(_CJK.findall(text)) // 2
