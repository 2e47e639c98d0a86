"""Jinja2 filters: dates, safe outbound links, and archived text for reading.

Only the archived-text filters return markup, and only what :mod:`clausewatch.render` builds
(escaped text, the tags of rendered Markdown, safe links); everything else is text that the
templates escape."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from markupsafe import Markup

from clausewatch import render
from clausewatch.changes.summary import summary_lead


def date(value: Any) -> str:
    """ISO timestamp -> 'May 5, 2026'."""
    if not value:
        return "—"
    when = dt.datetime.fromisoformat(str(value)) if not isinstance(value, dt.datetime) else value
    return f"{when:%b} {when.day}, {when.year}"


def datetime_utc(value: Any) -> str:
    if not value:
        return "—"
    when = dt.datetime.fromisoformat(str(value)) if not isinstance(value, dt.datetime) else value
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def http_url(value: Any) -> str | None:
    """The URL when it is http(s), else None: archived URLs never become other kinds of link."""
    text = str(value or "")
    return text if text.startswith(("http://", "https://")) else None


def percent(value: Any) -> str:
    return f"{round(100 * float(value))}%" if value is not None else "—"


def months(value: Any) -> str:
    """Months monitored as read: 'less than a month' under one (not '0.0'), else '1 month',
    '3.5 months' (one decimal, as stored)."""
    if value is None:
        return "—"
    n = float(value)
    if n < 1:
        return "less than a month"
    text = f"{n:.1f}".removesuffix(".0")
    return f"{text} month{'' if text == '1' else 's'}"


def severity_class(value: Any) -> str:
    return {"High": "sev-high", "Medium": "sev-medium", "Low": "sev-low"}.get(
        str(value), "sev-none"
    )


# Words a category slug spells differently from its plain capitalisation.
_CATEGORY_WORDS = {"ai": "AI", "e-commerce": "E-commerce"}


def category_name(value: Any) -> str:
    """A registry category slug as a name: 'health-tech' -> 'Health tech', 'ai-services' ->
    'AI services', 'e-commerce' -> 'E-commerce'."""
    slug = str(value or "").strip()
    if slug in _CATEGORY_WORDS:
        return _CATEGORY_WORDS[slug]
    words = [_CATEGORY_WORDS.get(w, w) for w in slug.split("-") if w]
    if not words:
        return ""
    first = words[0] if words[0].isupper() else words[0].capitalize()
    return " ".join([first, *words[1:]])


def regulation_slug(value: Any) -> str:
    from clausewatch.analysis.queries import regulation_slug as slug

    return slug(str(value))


def archived(value: Any) -> Markup:
    """Archived Markdown as formatted, safe HTML (tables, emphasis, safe links, line breaks)."""
    return render.to_html(None if value is None else str(value))


def plain_line(value: Any) -> str:
    """Archived text (a title, an excerpt, a quote) as one line of clean text; escaped later."""
    return _plain_line(None if value is None else str(value))


@functools.lru_cache(maxsize=8192)
def _plain_line(text: str | None) -> str:
    # a pure function of the text, and pages repeat titles and excerpts of other provisions
    # (other risks, how other platforms handle this): a third of a page's rendering (issue #13)
    return render.to_plain_line(text)


def change_lead(summary: Any) -> str:
    """A change record's lead sentence (what matters most), as clean text for lists."""
    return render.to_plain_line(summary_lead(None if summary is None else str(summary)))


def redline(ops: Any) -> Markup:
    """A word-level diff's ops as formatted text with <ins>/<del>, unchanged runs folded."""
    return render.redline_html(ops or [])


def snippet(parts: Any) -> Markup:
    """Search snippet parts as clean text, escaped, with the matches in <mark>."""
    return render.marked_plain_html(parts or [])


FILTERS = {
    "archived": archived,
    "plain_line": plain_line,
    "change_lead": change_lead,
    "redline": redline,
    "snippet": snippet,
    "date": date,
    "datetime_utc": datetime_utc,
    "http_url": http_url,
    "percent": percent,
    "regulation_slug": regulation_slug,
    "category_name": category_name,
    "severity_class": severity_class,
    "months": months,
}
