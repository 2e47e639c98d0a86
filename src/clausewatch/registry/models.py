"""Registry declarations: platforms and their documents (the `declare` stage)."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Fetcher = Literal["http", "browser"]


class RangeSelector(BaseModel):
    """Open Terms Archive range: the content between a start and an end boundary, each given by a
    CSS selector, for documents whose text has no enclosing element. Exactly one start and one end.
    `*_before` puts the boundary just before the matched element, `*_after` just after it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_before: str | None = None
    start_after: str | None = None
    end_before: str | None = None
    end_after: str | None = None

    @model_validator(mode="after")
    def _one_start_one_end(self) -> RangeSelector:
        if (self.start_before is None) == (self.start_after is None):
            raise ValueError("a range needs exactly one of start_before / start_after")
        if (self.end_before is None) == (self.end_after is None):
            raise ValueError("a range needs exactly one of end_before / end_after")
        return self


# A CSS selector, or a range (rare: only where no element encloses the text). Order matters: the
# selected parts are concatenated in the order of the `select` tuple.
Selector = str | RangeSelector


class SourceDeclaration(BaseModel):
    """One source URL of a document, with how to narrow its page to the document's text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    select: tuple[Selector, ...] = ()
    remove: tuple[Selector, ...] = ()
    fetcher: Fetcher = "http"
    ignore_robots: bool = False


class DocumentDeclaration(BaseModel):
    """A governance document: its type and one or more sources (several = combined in order)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    sources: tuple[SourceDeclaration, ...] = Field(min_length=1)

    def extraction_fingerprint(self) -> str:
        """Hash of everything that shapes the extracted text; a change triggers re-extraction."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


class PlatformDeclaration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str
    name: str
    category: str
    jurisdictions: tuple[str, ...] = ()
    website: str
    documents: tuple[DocumentDeclaration, ...] = ()
