"""When a document is due for capture: pure rules, no queue and no database.

A document has a frequency (its registry declaration's `frequency`, else the setting
`default_frequency`; "daily" by default) and the archive has a daily capture time (setting
`capture_time`, "06:00" UTC). Capture *slots* fall at the capture time every day, or for a
frequency under a day (which must divide 24 hours), every `frequency` from the capture time.

A document is due at `now` when it was never checked, or when its last check is older than the
latest slot at or before `now`, less the part of the frequency beyond one day: a daily document
checked before today's 06:00 slot is due from 06:00; a weekly one checked at 06:20 a week ago is
due at today's 06:00 slot, not at 06:20; a document missed yesterday (machine down) is due at once.
"""

from __future__ import annotations

import datetime as dt
import re

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


def latest_slot(now: dt.datetime, frequency: dt.timedelta, capture_time: dt.time) -> dt.datetime:
    """The latest capture slot at or before `now` (UTC)."""
    now = now.astimezone(dt.UTC)
    step = min(frequency, DAY)
    anchor = dt.datetime.combine(now.date(), capture_time.replace(tzinfo=None), tzinfo=dt.UTC)
    return anchor + ((now - anchor) // step) * step


def is_due(
    last_checked_at: dt.datetime | None,
    now: dt.datetime,
    frequency: dt.timedelta,
    capture_time: dt.time,
) -> bool:
    if last_checked_at is None:
        return True  # a new document gets its baseline at once, not at the next slot
    step = min(frequency, DAY)
    return last_checked_at < latest_slot(now, frequency, capture_time) - (frequency - step)


def next_due(
    last_checked_at: dt.datetime | None,
    now: dt.datetime,
    frequency: dt.timedelta,
    capture_time: dt.time,
) -> dt.datetime:
    """When the document is (or was) next due: `now` or earlier when it is due already."""
    if is_due(last_checked_at, now, frequency, capture_time):
        return now
    assert last_checked_at is not None
    step = min(frequency, DAY)
    slot = latest_slot(now, frequency, capture_time) + step
    while not last_checked_at < slot - (frequency - step):
        slot += step
    return slot
