"""Permanent, human-readable IDs: a prefix and a zero-padded number that is never reused."""

from __future__ import annotations

import re

# prefix -> digits. Numbers come from the row's integer primary key, which the databases never
# reuse (SQLite AUTOINCREMENT, PostgreSQL identity), so an ID is fixed once the row exists.
ID_FORMATS: dict[str, int] = {
    "D": 5,  # document
    "V": 6,  # version
    "CAP": 7,  # capture
    "P": 6,  # provision
    "C": 6,  # change record
}
_ID_RE = re.compile(r"^(?P<prefix>[A-Z]+)-(?P<number>[0-9]+)$")
# The largest number a row can have: a 32-bit signed integer, the smallest of the databases'
# integer columns. A bigger number names no row, and handing it to the database is an error
# (SQLite: OverflowError), so parse_id refuses it; the web's integer path parameters are
# bounded by it too (web/deps.py, RowId).
MAX_DB_INT = 2**31 - 1


def format_id(prefix: str, number: int) -> str:
    return f"{prefix}-{number:0{ID_FORMATS[prefix]}d}"


def parse_id(public_id: str, expected_prefix: str | None = None) -> int:
    """Return the number inside a public ID; ValueError names what is wrong."""
    match = _ID_RE.match(public_id.strip().upper())
    if not match or match["prefix"] not in ID_FORMATS:
        raise ValueError(f"not a clausewatch ID: {public_id!r} (expected e.g. D-00001)")
    if expected_prefix and match["prefix"] != expected_prefix:
        raise ValueError(f"{public_id!r} is not a {expected_prefix}- ID")
    return _in_range(match["number"], public_id)


def _in_range(digits: str, shown: str) -> int:
    # the length check first: int() of thousands of digits is slow, and over 4,300 refused
    if len(digits.lstrip("0")) > len(str(MAX_DB_INT)) or int(digits) > MAX_DB_INT:
        raise ValueError(f"no record can have the number in {shown!r}: it is out of range")
    return int(digits)
