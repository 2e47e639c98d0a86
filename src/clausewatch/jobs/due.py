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

from clausewatch.schedules import DAY


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
