"""Jinja2 filters: dates and safe outbound links. Nothing here marks text as safe."""

from __future__ import annotations

import datetime as dt
from typing import Any


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


def severity_class(value: Any) -> str:
    return {"High": "sev-high", "Medium": "sev-medium", "Low": "sev-low"}.get(
        str(value), "sev-none"
    )


def regulation_slug(value: Any) -> str:
    from clausewatch.analysis.queries import regulation_slug as slug

    return slug(str(value))


FILTERS = {
    "date": date,
    "datetime_utc": datetime_utc,
    "http_url": http_url,
    "percent": percent,
    "regulation_slug": regulation_slug,
    "severity_class": severity_class,
}
