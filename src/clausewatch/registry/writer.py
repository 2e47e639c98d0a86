"""Write platforms as registry files: YAML in the format the loader reads, defaults left out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from clausewatch.registry.models import (
    DocumentDeclaration,
    PlatformDeclaration,
    RangeSelector,
    Selector,
)

_SOURCE_OPTIONS = ("select", "remove", "fetcher", "ignore_robots")
_SOURCE_DEFAULTS: dict[str, Any] = {
    "select": (),
    "remove": (),
    "fetcher": "http",
    "ignore_robots": False,
}


class _FlowList(list[Any]):
    """Written on one line: selector lists, jurisdictions."""


class _FlowMap(dict[str, Any]):
    """Written on one line: range selectors."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as people write YAML by hand.
        super().increase_indent(flow, False)


_Dumper.add_representer(
    _FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)
_Dumper.add_representer(
    _FlowMap, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True)
)


def _selector_data(selectors: tuple[Selector, ...]) -> _FlowList:
    items: list[Any] = []
    for selector in selectors:
        if isinstance(selector, RangeSelector):
            items.append(_FlowMap(selector))
        else:
            items.append(selector)
    return _FlowList(items)


def _options_data(values: Mapping[str, Any], baseline: Mapping[str, Any]) -> dict[str, Any]:
    """The options in `values` that differ from `baseline` (what a reader would otherwise get)."""
    data: dict[str, Any] = {}
    for key in _SOURCE_OPTIONS:
        if values[key] != baseline[key]:
            data[key] = _selector_data(values[key]) if key in ("select", "remove") else values[key]
    return data


def _document_data(document: DocumentDeclaration) -> dict[str, Any]:
    data = _sources_data(document)
    if document.frequency is not None:
        data["frequency"] = document.frequency
    return data


def _sources_data(document: DocumentDeclaration) -> dict[str, Any]:
    sources = [
        {key: getattr(source, key) for key in _SOURCE_OPTIONS} for source in document.sources
    ]
    if len(document.sources) == 1:
        return {
            "type": document.type,
            "fetch": document.sources[0].url,
            **_options_data(sources[0], _SOURCE_DEFAULTS),
        }
    # Hoist each option's most common value to the document, so items list only their differences.
    common = {key: _most_common([s[key] for s in sources]) for key in _SOURCE_OPTIONS}
    combine = [
        {"fetch": source.url, **_options_data(values, common)}
        for source, values in zip(document.sources, sources, strict=True)
    ]
    return {"type": document.type, **_options_data(common, _SOURCE_DEFAULTS), "combine": combine}


def _most_common(values: list[Any]) -> Any:
    counts = Counter(map(repr, values))  # repr: selector tuples may hold (hashable) models
    best = max(counts.values())
    return next(value for value in values if counts[repr(value)] == best)


def platform_data(platform: PlatformDeclaration) -> dict[str, Any]:
    """The platform in the registry file format, leaving out defaults."""
    data: dict[str, Any] = {
        "slug": platform.slug,
        "name": platform.name,
        "category": platform.category,
    }
    if platform.jurisdictions:
        data["jurisdictions"] = _FlowList(platform.jurisdictions)
    data["website"] = platform.website
    data["documents"] = [_document_data(document) for document in platform.documents]
    return data


def dump_platform(platform: PlatformDeclaration, header: str | None = None) -> str:
    """The platform as a YAML registry file; `header` becomes a leading comment."""
    body = yaml.dump(
        platform_data(platform), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000
    )
    if not header:
        return body
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + body


def write_registry(
    platforms: Iterable[PlatformDeclaration],
    folder: Path,
    *,
    header: str | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write one `<slug>.yaml` per platform into `folder` (created if needed); the paths written.

    Refuses to replace an existing file unless `overwrite`, so hand edits are not lost by accident.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for platform in platforms:
        path = folder / f"{platform.slug}.yaml"
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists (pass overwrite=True to replace it)")
        path.write_text(dump_platform(platform, header), encoding="utf-8")
        written.append(path)
    return written
