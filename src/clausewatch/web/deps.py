"""What the page and API routes share: the archive, ID parsing, lookups that become 404s."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, HTTPException, Query, Request

from clausewatch.archive.service import Archive
from clausewatch.ids import parse_id

T = TypeVar("T")

Severity = Literal["High", "Medium", "Low"]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page (1–500).")]
Offset = Annotated[int, Query(ge=0, description="Items to skip.")]


def get_archive(request: Request) -> Archive:
    archive: Archive = request.app.state.archive
    return archive


ArchiveDep = Annotated[Archive, Depends(get_archive)]


def number(public_id: str, prefix: str) -> int:
    """The number of a public ID; a malformed one is a 404 (no such page), never a 500."""
    try:
        return parse_id(public_id, prefix)
    except ValueError as exc:
        raise HTTPException(404, f"no such record: {public_id!r} is not a {prefix}- ID") from exc


def found(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a read function; LookupError -> 404, ValueError -> 422 (with its message)."""
    try:
        return call(*args, **kwargs)
    except LookupError as exc:
        raise HTTPException(404, str(exc).strip("'\"")) from exc
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
