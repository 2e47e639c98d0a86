"""Import Open Terms Archive (OTA) service declarations into registry platforms.

An OTA declaration is `{"name", "terms": {<terms type>: {fetch, select, remove, filter,
executeClientScripts} | {combine: [...], select, ...}}}`. What maps: fetch, select, remove (CSS
selectors and range objects), combine (document-level options are the items' defaults, as in OTA)
and executeClientScripts (-> fetcher browser). What cannot: OTA's `filter`s are JavaScript functions
in `<Service>.filters.js` that we do not run; they, `importedFrom`, historic declarations and any
other unknown field are listed in the result's `skipped`, so that someone can replace them with
`remove` selectors by hand. OTA declarations are AGPL: import them, don't ship them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from clausewatch.registry.errors import RegistryError, RegistryIssue
from clausewatch.registry.loader import parse_document
from clausewatch.registry.models import DocumentDeclaration, PlatformDeclaration
from clausewatch.registry.vocabulary import CATEGORIES, jurisdiction_problem, resolve_document_type
from clausewatch.registry.writer import write_registry

__all__ = [
    "OtaImportResult",
    "SkippedItem",
    "import_ota_declaration",
    "import_ota_declarations",
    "ota_slug",
    "write_registry",
]

_MAPPED_SOURCE_KEYS = ("fetch", "select", "remove")
_Skip = Callable[[str, str], None]  # (what, detail)


@dataclass(frozen=True)
class SkippedItem:
    """Something in an OTA declaration that was not imported, and why."""

    platform: str  # the platform's slug (the file name when no slug could be made)
    document: str | None  # our document type (else OTA's); None for the platform or file
    what: str  # "filter", "importedFrom", "historic declaration", "document", "platform", ...
    detail: str

    def __str__(self) -> str:
        where = f"{self.platform} / {self.document}" if self.document else self.platform
        return f"{where}: {self.what}: {self.detail}"


@dataclass
class OtaImportResult:
    platforms: list[PlatformDeclaration] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)

    @property
    def document_count(self) -> int:
        return sum(len(platform.documents) for platform in self.platforms)

    def report(self) -> str:
        """A plain-text summary: what was imported, then every skipped item."""
        lines = [f"imported {len(self.platforms)} platforms, {self.document_count} documents"]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} items:")
            lines.extend(f"  {item}" for item in self.skipped)
        return "\n".join(lines)


def ota_slug(name: str) -> str:
    """A registry slug from an OTA service name: 'Truth Social' -> 'truth-social'."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def import_ota_declarations(
    paths: Iterable[Path],
    *,
    category: str = "social-media",
    jurisdictions: Sequence[str] = (),
) -> OtaImportResult:
    """Import OTA declaration files (a folder: its *.json, sorted). OTA knows neither category nor
    jurisdictions, so every platform gets the ones given here; fix them in the written files."""
    codes = _check_options(category, jurisdictions)
    result = OtaImportResult()
    slugs: set[str] = set()
    for path in _declaration_files(paths):
        platform, skipped = _import_file(path, category, codes)
        result.skipped.extend(skipped)
        if platform is None:
            continue
        if platform.slug in slugs:
            result.skipped.append(
                SkippedItem(platform.slug, None, "platform", f"{path.name}: slug already imported")
            )
            continue
        slugs.add(platform.slug)
        result.platforms.append(platform)
    return result


def import_ota_declaration(
    data: Mapping[str, Any],
    *,
    source: str = "<declaration>",
    category: str = "social-media",
    jurisdictions: Sequence[str] = (),
) -> tuple[PlatformDeclaration | None, list[SkippedItem]]:
    """Import one parsed OTA declaration; `source` names it in skipped items and errors."""
    codes = _check_options(category, jurisdictions)
    return _import_data(data, source, category, codes)


def _check_options(category: str, jurisdictions: Sequence[str]) -> tuple[str, ...]:
    """The jurisdiction codes, upper-cased, once category and codes are known to be valid."""
    codes = tuple(code.strip().upper() for code in jurisdictions)
    issues = []
    if category not in CATEGORIES:
        issues.append(RegistryIssue("<options>", "category", f"unknown category {category!r}"))
    for index, code in enumerate(codes):
        problem = jurisdiction_problem(code)
        if problem:
            issues.append(RegistryIssue("<options>", f"jurisdictions[{index}]", problem))
    if issues:
        raise RegistryError(issues)
    return codes


def _declaration_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    return files


def _import_file(
    path: Path, category: str, jurisdictions: tuple[str, ...]
) -> tuple[PlatformDeclaration | None, list[SkippedItem]]:
    if path.name.endswith(".history.json") or "@" in path.name:
        detail = f"{path.name}: historic declarations are not imported, only the current one"
        return None, [SkippedItem(path.stem, None, "historic declaration", detail)]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, [SkippedItem(path.stem, None, "file", f"{path.name}: {error}")]
    if not isinstance(data, Mapping):
        return None, [SkippedItem(path.stem, None, "file", f"{path.name}: not a JSON object")]
    return _import_data(data, str(path), category, jurisdictions, fallback_name=path.stem)


def _import_data(
    data: Mapping[str, Any],
    source: str,
    category: str,
    jurisdictions: tuple[str, ...],
    fallback_name: str = "",
) -> tuple[PlatformDeclaration | None, list[SkippedItem]]:
    raw_name = data.get("name")
    name = raw_name.strip() if isinstance(raw_name, str) and raw_name.strip() else fallback_name
    slug = ota_slug(name)
    if not slug:
        return None, [SkippedItem(fallback_name or source, None, "platform", "no usable name")]
    skipped = [
        SkippedItem(slug, None, key, _describe(value))
        for key, value in data.items()
        if key not in ("name", "terms")
    ]
    terms = data.get("terms")
    documents = _documents(terms if isinstance(terms, Mapping) else {}, slug, source, skipped)
    if not documents:
        skipped.append(SkippedItem(slug, None, "platform", "no importable terms declared"))
        return None, skipped
    origin = urlsplit(documents[0].sources[0].url)
    platform = PlatformDeclaration(
        slug=slug,
        name=name,
        category=category,
        jurisdictions=jurisdictions,
        website=f"{origin.scheme}://{origin.netloc}",
        documents=tuple(documents),
    )
    return platform, skipped


def _documents(
    terms: Mapping[str, Any], slug: str, source: str, skipped: list[SkippedItem]
) -> list[DocumentDeclaration]:
    documents: dict[str, DocumentDeclaration] = {}
    for ota_type, declaration in terms.items():
        document = _document(ota_type, declaration, slug, source, skipped)
        if document is None:
            continue
        if document.type in documents:  # two OTA types mapped to one of ours
            detail = f"maps to {document.type!r}, which is already imported"
            skipped.append(SkippedItem(slug, ota_type, "document", detail))
            continue
        documents[document.type] = document
    return list(documents.values())


def _document(
    ota_type: str, declaration: Any, slug: str, source: str, skipped: list[SkippedItem]
) -> DocumentDeclaration | None:
    doc_type = resolve_document_type(ota_type)

    def skip(what: str, detail: str) -> None:
        # Name the document as the written registry file will (Trackers Policy -> Cookie Policy).
        skipped.append(SkippedItem(slug, doc_type or ota_type, what, detail))

    declaration = _current(declaration, skip)
    if doc_type is None or not isinstance(declaration, Mapping):
        skip("document", f"unknown document type {ota_type!r}" if doc_type is None else "empty")
        return None
    data = {"type": doc_type, **_source_data(declaration, "", skip)}
    combine = declaration.get("combine")
    if isinstance(combine, list):
        data["combine"] = [
            _source_data(item, f"combine[{index}]", skip) if isinstance(item, Mapping) else item
            for index, item in enumerate(combine)
        ]
    elif combine is not None:
        data["combine"] = combine  # invalid: parse_document says why
    document, issues = parse_document(data, source, f"terms[{ota_type!r}]")
    if document is None:
        skip("document", "; ".join(f"{issue.path}: {issue.message}" for issue in issues))
    return document


def _current(declaration: Any, skip: _Skip) -> Any:
    """The current declaration when a terms type holds a list of historic ones (`validUntil`)."""
    if not isinstance(declaration, list):
        return declaration
    current = [d for d in declaration if isinstance(d, Mapping) and not d.get("validUntil")]
    chosen = current[-1] if current else (declaration[-1] if declaration else None)
    if len(declaration) > 1:
        skip("historic declaration", f"{len(declaration) - 1} earlier declaration(s) not imported")
    return chosen


def _source_data(raw: Mapping[str, Any], where: str, skip: _Skip) -> dict[str, Any]:
    """The registry-format options of one OTA declaration or combine item; reports the rest."""
    data = {key: raw[key] for key in _MAPPED_SOURCE_KEYS if key in raw}
    prefix = f"{where}: " if where else ""
    for key, value in raw.items():
        if key == "executeClientScripts":
            data["fetcher"] = "browser" if value else "http"
        elif key == "filter":
            skip("filter", prefix + _filter_names(value))
        elif key not in (*_MAPPED_SOURCE_KEYS, "combine"):
            skip(f"field {key}", prefix + _describe(value))
    return data


def _filter_names(value: Any) -> str:
    """OTA filters are names or {name: params} objects."""
    items = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in items:
        if isinstance(item, Mapping):
            names.extend(f"{name}({json.dumps(params)})" for name, params in item.items())
        else:
            names.append(str(item))
    return ", ".join(names)


def _describe(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
