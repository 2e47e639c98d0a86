"""The gate every text passes before it may become a version: live captures (`archive/cycle.py`),
re-extraction (`archive/reextract.py`) and history imports (`importers/ota.py`) all call
`assess_text`, so an error page, a wall, a stub or a broken capture is refused the same way on
every path."""

from __future__ import annotations

import functools
import re
from collections import Counter

from clausewatch.capture.assess import assess_page_text

_WORD = re.compile(r"\w+")
# Markdown markup that is not words of the page: images, link targets, emphasis, rules.
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_MARKUP = re.compile(r"^[\s#>*_=\-|`]+$|[#*_`]+")

MIN_WORDS = 30  # below this a "policy" is an empty shell, an error stub or a placeholder
MIN_KEPT_SHARE = 0.5  # a new text must keep at least half of the previous words ...
MIN_LENGTH_RATIO = 0.5  # ... or be at least half as long, else it is a broken capture
LEADING_WORDS = 12  # the "title" of a Markdown text: its first words
LOST_TEXT = "lost most of the previous text"


@functools.lru_cache(maxsize=8)
def words(text: str) -> tuple[str, ...]:
    """The text's words, lower-cased (cached: an import assesses every record against the same
    current version)."""
    return tuple(_WORD.findall(text.lower()))


def assess_text(text: str, previous: str | None, *, shrunk: str | None = None) -> str | None:
    """A reason why ``text`` (a normalised Markdown text) is not a trustworthy version of the
    document, or None. ``previous`` is the text of the document's current version, if any;
    ``shrunk`` the text of the check just before, when it was refused only for `LOST_TEXT`."""
    new_words = words(text)
    if not new_words:
        return "empty text after extraction"
    blocked = page_reason(text)
    if blocked is not None:
        return blocked
    if len(new_words) < MIN_WORDS:
        return f"text too short ({len(new_words)} words)"
    if previous is None:
        return None
    lost = _lost(new_words, words(previous))
    if lost and shrunk is not None:
        # The check before was refused for the same loss; if it had the same text (near
        # enough, both ways), the page really shrank: a broken capture is not seen twice.
        earlier = words(shrunk)
        if not _lost(new_words, earlier) and not _lost(earlier, new_words):
            return None
    return lost


def _lost(new_words: tuple[str, ...], old_words: tuple[str, ...]) -> str | None:
    if not old_words:
        return None
    ratio = len(new_words) / len(old_words)
    if ratio >= MIN_LENGTH_RATIO:  # long enough whatever it kept: no need to count words
        return None
    old = Counter(old_words)
    kept = sum((Counter(new_words) & old).values()) / len(old_words)
    if kept < MIN_KEPT_SHARE:
        return f"{LOST_TEXT} (kept {kept:.0%} of its words, {ratio:.0%} of its length)"
    return None


def page_reason(text: str) -> str | None:
    """The wall / error-page check of `capture.assess.assess_page_text` on a Markdown text:
    its leading words stand for the page title, and its words are counted once per distinct
    line, so a multi-page document whose every page is the same 404 counts as one short page."""
    lines = [_visible(line) for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return None
    own = list(dict.fromkeys(lines))
    visible = " ".join(own)
    leading = " ".join(visible.split()[:LEADING_WORDS])
    reason = assess_page_text(leading, visible, len(words(visible)))
    if reason is None:
        return None
    return f'{reason} ("{leading}")'


@functools.lru_cache(maxsize=65536)  # the versions of a document share most of their lines
def _visible(line: str) -> str:
    line = _MD_LINK.sub(r"\1", _MD_IMAGE.sub(" ", line))
    if _MD_MARKUP.fullmatch(line):
        return ""
    return " ".join(_MD_MARKUP.sub(" ", line).split()).lower()
