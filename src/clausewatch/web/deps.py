"""What the page and API routes share: the archive, ID parsing, lookups that become 404s."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, HTTPException, Path, Query, Request

from clausewatch.archive.service import Archive
from clausewatch.archive.snapshots import SnapshotDamaged, SnapshotNotFound
from clausewatch.ids import MAX_DB_INT, format_id, parse_id

T = TypeVar("T")

Severity = Literal["High", "Medium", "Low"]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page (1–500).")]
# IDs and offsets above a database integer are refused up front (they were server errors)
Offset = Annotated[int, Query(ge=0, le=MAX_DB_INT, description="Items to skip.")]
# A bare row number in a path (an API key, a watch, a webhook endpoint). Out of range, or not
# a number, it fails validation, and the app answers a path parameter that fails validation
# with 404 (web/app.py): no such record, never a 500. Public IDs (D-00001) go through number().
RowId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The record's number.")]


def get_archive(request: Request) -> Archive:
    archive: Archive = request.app.state.archive
    return archive


ArchiveDep = Annotated[Archive, Depends(get_archive)]


def number(public_id: str, prefix: str) -> int:
    """The number of a public ID; a malformed one is a 404 (no such page), never a 500."""
    try:
        value = parse_id(public_id, prefix)
    except ValueError as exc:  # malformed, another prefix, or a number no row can have
        raise HTTPException(404, f"no such record: {exc}") from exc
    return value


def found(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a read function; LookupError -> 404, ValueError -> 422 (with its message); a stored
    object that is missing or damaged is the archive's fault, not the request's: 500, named."""
    try:
        return call(*args, **kwargs)
    except (SnapshotNotFound, SnapshotDamaged) as exc:
        what = f"snapshot {exc.args[0]} is missing" if isinstance(exc, SnapshotNotFound) else exc
        raise HTTPException(
            500, f"The archive's stored copy is damaged ({what}); 'clausewatch verify' lists it"
        ) from exc
    except LookupError as exc:
        # KeyError's str() adds quotes: take its message as given
        message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        raise HTTPException(404, message) from exc
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


def query_number(public_id: str, prefix: str, parameter: str) -> int:
    """A public ID given as a query parameter (a filter, not the page's record): malformed, or a
    number no row can have, is a 422 that names the parameter."""
    what = {"D": "document", "V": "version"}.get(prefix, f"{prefix}-")
    example = format_id(prefix, 1)
    try:
        return parse_id(public_id, prefix)  # refuses a number beyond MAX_DB_INT too
    except ValueError as exc:
        raise HTTPException(
            422, f"query parameter {parameter!r}: {public_id!r} is not a {what} ID ({example})"
        ) from exc


def version_number(public_id: str, parameter: str) -> int:
    """A version ID given as a query parameter; malformed is a 422 that names the parameter."""
    return query_number(public_id, "V", parameter)
