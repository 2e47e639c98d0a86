"""Checks on an extracted text before it may become a version."""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"\w+")

MIN_WORDS = 30  # below this a "policy" is an empty shell, an error stub or a placeholder
MIN_KEPT_SHARE = 0.5  # a new text must keep at least half of the previous words ...
MIN_LENGTH_RATIO = 0.5  # ... or be at least half as long, else it is a broken capture


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def assess_text(text: str, previous: str | None) -> str | None:
    """A reason why ``text`` is not a trustworthy version of the document, or None."""
    new_words = words(text)
    if not new_words:
        return "empty text after extraction"
    if len(new_words) < MIN_WORDS:
        return f"text too short ({len(new_words)} words)"
    if previous is None:
        return None
    old = Counter(words(previous))
    if not old:
        return None
    kept = sum((Counter(new_words) & old).values()) / sum(old.values())
    ratio = len(new_words) / sum(old.values())
    if kept < MIN_KEPT_SHARE and ratio < MIN_LENGTH_RATIO:
        return (
            f"lost most of the previous text (kept {kept:.0%} of its words, "
            f"{ratio:.0%} of its length)"
        )
    return None
