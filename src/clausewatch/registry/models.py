"""Registry declarations: platforms and their documents (the `declare` stage)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, field_validator
from pydantic_core import CoreSchema, core_schema

from clausewatch.schedules import parse_frequency

Fetcher = Literal["http", "browser"]

# C0 and C1 control characters, DEL, the Unicode line and paragraph separators. Names reach
# email headers (alert subjects), where a line break would split or end the header.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
CONTROL_MESSAGE = "control characters (such as a line break) are not allowed"


def control_character(value: str) -> str | None:
    """The first control character in `value`, as repr() writes it; None when there is none."""
    found = _CONTROL.search(value)
    return repr(found[0]) if found else None


class RangeSelector(Mapping[str, str]):
    """Open Terms Archive range: the content between a start and an end boundary, each set just
    before or just after the first element a CSS selector matches; for text that no element
    encloses. A read-only mapping with OTA's keys (`startBefore`|`startAfter`, `endBefore`|
    `endAfter`, exactly one of each pair), so the extract stage can take it as OTA would; hashable,
    so declarations stay frozen. Snake-case keyword arguments are accepted too."""

    KEYS = ("startBefore", "startAfter", "endBefore", "endAfter")
    __slots__ = ("_items",)

    def __init__(self, spec: Mapping[str, str] | None = None, /, **boundaries: str) -> None:
        given = {**(spec or {}), **{_camel(key): value for key, value in boundaries.items()}}
        unknown = sorted(set(given) - set(self.KEYS))
        if unknown:
            raise ValueError(f"unknown range keys {unknown}; allowed: {', '.join(self.KEYS)}")
        if not all(isinstance(value, str) and value.strip() for value in given.values()):
            raise ValueError("range boundaries must be non-empty CSS selectors")
        if ("startBefore" in given) == ("startAfter" in given):
            raise ValueError("a range needs exactly one of startBefore / startAfter")
        if ("endBefore" in given) == ("endAfter" in given):
            raise ValueError("a range needs exactly one of endBefore / endAfter")
        self._items = tuple((key, given[key]) for key in self.KEYS if key in given)

    def __getitem__(self, key: str) -> str:
        for name, value in self._items:
            if name == key:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"RangeSelector({dict(self._items)!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # Validated from any str->str mapping, dumped as a plain dict (JSON, fingerprints).
        return core_schema.no_info_after_validator_function(
            cls._from_mapping,
            core_schema.dict_schema(core_schema.str_schema(), core_schema.str_schema()),
            serialization=core_schema.plain_serializer_function_ser_schema(dict),
        )

    @classmethod
    def _from_mapping(cls, value: Mapping[str, str]) -> RangeSelector:
        return cls(value)


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


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
    # How often to capture it ("daily", "weekly", "12h"; clausewatch.schedules); None: the
    # setting `default_frequency`.
    frequency: str | None = None

    @field_validator("frequency")
    @classmethod
    def _frequency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parse_frequency(value)
        return value.strip().lower()

    def stored(self) -> dict[str, Any]:
        """The declaration as stored with the document (no `frequency` key when unset, so that
        declarations stored before frequencies existed compare equal)."""
        unset = {"frequency"} if self.frequency is None else None
        return self.model_dump(mode="json", exclude=unset)

    def extraction_fingerprint(self) -> str:
        """Hash of everything that shapes the extracted text; a change triggers re-extraction.
        The capture frequency does not shape the text, so it is left out."""
        payload = json.dumps(self.model_dump(mode="json", exclude={"frequency"}), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


class PlatformDeclaration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str
    name: str
    category: str
    jurisdictions: tuple[str, ...] = ()
    website: str
    documents: tuple[DocumentDeclaration, ...] = ()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if control_character(value):
            raise ValueError(CONTROL_MESSAGE)
        return value
