"""Server-rendered inline SVG charts: pure functions of their data, no JavaScript, no external
files. The Content-Security-Policy forbids inline ``style`` attributes, so the SVG uses
presentation attributes (fill, stroke, width, …) and classes from ``static/style.css``.

Every chart carries its numbers as text: a ``<title>``/``<desc>`` in the SVG (``role="img"``)
and a visually hidden data table after it. Every piece of text is escaped here; the result is
:class:`markupsafe.Markup` so templates can insert it as is.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

SEVERITY_FILL = {"High": "#a3161a", "Medium": "#8a5300", "Low": "#2f6b2f"}
BAR_FILL = "#0b57a4"
MUTED = "#5a6472"
LINE = "#d9dee5"
MONTHS_SHOWN = 24
TICK_FONT = 12
CHAR_WIDTH = 0.62  # average advance of a sans-serif character, in em (a safe over-estimate)


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def month_label(month: str) -> str:
    """'2024-03' -> 'Mar 2024'."""
    when = dt.date.fromisoformat(f"{month}-01")
    return f"{when:%b %Y}"


def _label_width(names: Sequence[str], font: float = TICK_FONT) -> float:
    """An over-estimate of the widest label's width in user units."""
    return max((len(n) for n in names), default=0) * font * CHAR_WIDTH


def label_positions(names: Sequence[str], slot: float, font: float = TICK_FONT) -> set[int]:
    """Which bars get an axis label: evenly spaced, counted back from the last bar (so the last
    month is always labelled and never crowds the one before), at least a label's width plus a
    gap apart, so that no two labels overlap whatever the number of bars."""
    if not names:
        return set()
    widest = _label_width(names, font) + 2 * font  # text + a gap
    step = max(1, math.ceil(widest / slot))
    return set(range(len(names) - 1, -1, -step))


def monthly_series(
    counts: Mapping[str, int], *, months: int = MONTHS_SHOWN, end: str | None = None
) -> list[tuple[str, int]]:
    """Per-month counts ('YYYY-MM' -> n) as a gap-free series, zero months filled in, ending at
    ``end`` (default: the last month with data) and at most ``months`` long."""
    if not counts:
        return []
    keys = sorted(counts)
    last = end or keys[-1]
    year, month = (int(x) for x in last.split("-"))
    series: list[tuple[str, int]] = []
    for _ in range(months):
        key = f"{year:04d}-{month:02d}"
        series.append((key, int(counts.get(key, 0))))
        if key <= keys[0]:
            break
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return series[::-1]


def _table(
    chart_id: str, caption: str, head: tuple[str, str], rows: Sequence[tuple[str, str]]
) -> str:
    body = "".join(
        f'<tr><th scope="row">{escape(k)}</th><td>{escape(v)}</td></tr>' for k, v in rows
    )
    return (
        f'<table class="visually-hidden" id="{escape(chart_id)}-data"><caption>{escape(caption)}'
        f'</caption><thead><tr><th scope="col">{escape(head[0])}</th><th scope="col">'
        f"{escape(head[1])}</th></tr></thead><tbody>{body}</tbody></table>"
    )


def _empty(chart_id: str, title: str, message: str) -> Markup:
    return Markup(
        f'<figure class="chart chart-empty" id="{escape(chart_id)}"><figcaption>{escape(title)}'
        f'</figcaption><p class="note">{escape(message)}</p></figure>'
    )


def bar_chart(
    data: Sequence[tuple[str, int]],
    *,
    chart_id: str,
    title: str,
    unit: str = "change records",
    width: int = 640,
    height: int = 180,
    empty: str = "Nothing recorded yet.",
) -> Markup:
    """Vertical bars, one per (key, value); bar height proportional to the value (the tallest
    bar fills the plot). Keys that look like 'YYYY-MM' are labelled 'Mar 2024'."""
    if not data or not any(v for _, v in data):
        return _empty(chart_id, title, empty)
    names = [month_label(k) if _is_month(k) else k for k, _ in data]
    top, bottom, left, right = 16, 24, 30, 8
    # room on the right for half of the last month's label, which is centred on its bar
    half_label = _label_width(names) / 2
    right = max(right, math.ceil(half_label - (width - left - right) / len(data) / 2) + 2)
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(v for _, v in data)
    slot = plot_w / len(data)
    bar_w = max(1.0, slot * 0.7)
    labelled = label_positions(names, slot)
    parts = [
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - right}" '
        f'y2="{top + plot_h}" stroke="{LINE}" stroke-width="1"/>',
        f'<text class="tick" x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="11" '
        f'fill="{MUTED}">{peak}</text>',
        f'<text class="tick" x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="11" '
        f'fill="{MUTED}">0</text>',
    ]
    for i, ((_key, value), name) in enumerate(zip(data, names, strict=True)):
        h = plot_h * value / peak
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h - h
        parts.append(
            f'<rect class="bar" x="{_fmt(x)}" y="{_fmt(y)}" width="{_fmt(bar_w)}" '
            f'height="{_fmt(h)}" fill="{BAR_FILL}" data-value="{value}">'
            f"<title>{escape(name)}: {value}</title></rect>"
        )
        if i in labelled:
            parts.append(
                f'<text class="tick" x="{_fmt(left + i * slot + slot / 2)}" '
                f'y="{height - 6}" text-anchor="middle" font-size="{TICK_FONT}" fill="{MUTED}">'
                f"{escape(name)}</text>"
            )
    total = sum(v for _, v in data)
    desc = f"{total} {unit} from {names[0]} to {names[-1]}; " + "; ".join(
        f"{n}: {v}" for n, (_, v) in zip(names, data, strict=True) if v
    )
    return _figure(chart_id, title, desc, width, height, parts, ("Month", unit), names, data)


def severity_chart(
    counts: Mapping[str, int],
    *,
    chart_id: str,
    title: str,
    unit: str = "provisions",
    width: int = 480,
    empty: str = "No analysed provisions yet.",
    note: str | None = None,
) -> Markup:
    """Horizontal bars High / Medium / Low, length proportional to the count; ``note`` (say,
    how many provisions have no severity to count) is shown under the bars."""
    rows = [(s, int(counts.get(s, 0))) for s in ("High", "Medium", "Low")]
    total = sum(v for _, v in rows)
    if not total:
        return _empty(chart_id, title, note or empty)
    if note:
        figure = str(severity_chart(counts, chart_id=chart_id, title=title, unit=unit, width=width))
        end = figure.rindex("</figure>")
        return Markup(f'{figure[:end]}<p class="note chart-note">{escape(note)}</p></figure>')
    bar_h, gap, left, right = 22, 8, 70, 110
    height = len(rows) * (bar_h + gap) + gap
    plot_w = width - left - right
    peak = max(v for _, v in rows)
    parts = []
    for i, (sev, value) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = plot_w * value / peak
        share = round(100 * value / total)
        parts.append(
            f'<text class="tick" x="{left - 6}" y="{y + bar_h - 6}" text-anchor="end" '
            f'font-size="13" fill="{MUTED}">{sev}</text>'
            f'<rect class="bar sev-{sev.lower()}" x="{left}" y="{y}" width="{_fmt(w)}" '
            f'height="{bar_h}" fill="{SEVERITY_FILL[sev]}" data-value="{value}">'
            f"<title>{sev}: {value} ({share}%)</title></rect>"
            f'<text class="value" x="{_fmt(left + w + 6)}" y="{y + bar_h - 6}" font-size="13" '
            f'fill="{MUTED}">{value} ({share}%)</text>'
        )
    desc = f"{total} {unit}: " + "; ".join(f"{s} {v} ({round(100 * v / total)}%)" for s, v in rows)
    return _figure(
        chart_id, title, desc, width, height, parts, ("Severity", unit), [s for s, _ in rows], rows
    )


def _is_month(key: str) -> bool:
    return len(key) == 7 and key[4] == "-" and key[:4].isdigit() and key[5:].isdigit()


def _figure(
    chart_id: str,
    title: str,
    desc: str,
    width: int,
    height: int,
    parts: list[str],
    head: tuple[str, str],
    names: Sequence[str],
    data: Sequence[tuple[str, int]],
) -> Markup:
    cid = escape(chart_id)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{cid}-title {cid}-desc">'
        f'<title id="{cid}-title">{escape(title)}</title>'
        f'<desc id="{cid}-desc">{escape(desc)}</desc>' + "".join(parts) + "</svg>"
    )
    rows = [(n, str(v)) for n, (_, v) in zip(names, data, strict=True)]
    return Markup(
        f'<figure class="chart" id="{cid}">{svg}<figcaption aria-hidden="true">{escape(title)}'
        f"</figcaption>{_table(chart_id, title, head, rows)}</figure>"
    )
