"""Parsers of the schedule values in settings and the registry: capture frequency, daily capture
time, weekly digest time. Pure functions with no imports from the rest of clausewatch, so that
`config`, `registry`, `jobs` and `alerts` can all use them without importing each other."""

from __future__ import annotations

import datetime as dt
import re

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY = dt.timedelta(days=1)
MIN_FREQUENCY = dt.timedelta(hours=1)
FREQUENCY_NAMES = {
    "hourly": dt.timedelta(hours=1),
    "daily": DAY,
    "weekly": dt.timedelta(weeks=1),
    "fortnightly": dt.timedelta(weeks=2),
    "monthly": dt.timedelta(days=30),
}
_FREQUENCY_RE = re.compile(r"^\s*(\d+)\s*(h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
_AT_RE = re.compile(r"^\s*([a-z]+)\s+(\d{1,2}):(\d{2})\s*$", re.IGNORECASE)
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
FREQUENCY_HELP = (
    "hourly, daily, weekly, fortnightly, monthly, or a number of hours/days/weeks such as 12h, "
    "2d, 1w (at least 1h; under a day it must divide 24h)"
)


def parse_frequency(value: str) -> dt.timedelta:
    """The interval a frequency names; ValueError with the accepted forms otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"expected a frequency ({FREQUENCY_HELP}), got {value!r}")
    named = FREQUENCY_NAMES.get(value.strip().lower())
    if named is not None:
        return named
    match = _FREQUENCY_RE.match(value)
    if not match:
        raise ValueError(f"unknown frequency {value!r}; expected {FREQUENCY_HELP}")
    interval = dt.timedelta(**{_UNITS[match[2].lower()]: int(match[1])})
    if interval < MIN_FREQUENCY:
        raise ValueError(f"frequency {value!r} is too short: at least 1h")
    if interval < DAY and DAY % interval:
        raise ValueError(
            f"frequency {value!r} does not divide 24h (use 1h, 2h, 3h, 4h, 6h, 8h, 12h)"
        )
    return interval


def parse_capture_time(value: str) -> dt.time:
    """ "HH:MM" (UTC) as a time; ValueError otherwise."""
    match = _TIME_RE.match(value.strip()) if isinstance(value, str) else None
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"expected a UTC time of day as HH:MM (06:00), got {value!r}")
    return dt.time(int(match[1]), int(match[2]), tzinfo=dt.UTC)


def parse_digest_at(value: str) -> tuple[int, dt.time]:
    """``"monday 07:00"`` → (0, 07:00); the weekday may be abbreviated to three letters."""
    match = _AT_RE.match(value or "")
    if match:
        name, hour, minute = match[1].lower(), int(match[2]), int(match[3])
        days = [
            i for i, d in enumerate(DAYS) if d == name or (len(name) >= 3 and d.startswith(name))
        ]
        if len(days) == 1 and hour < 24 and minute < 60:
            return days[0], dt.time(hour, minute)
    raise ValueError(
        f"invalid digest time {value!r}: expected a weekday and HH:MM, e.g. monday 07:00"
    )
