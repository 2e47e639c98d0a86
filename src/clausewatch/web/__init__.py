"""The web site and the JSON API: server-rendered pages and `/api/v1`, both over the read
functions of :mod:`clausewatch.provisions.queries` and :mod:`clausewatch.analysis.queries`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clausewatch.web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `clausewatch.web.cli` (loaded by every command) stays light.
    if name == "create_app":
        from clausewatch.web.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
