"""Load, validate and write registry files (YAML or JSON, one platform per file).

Validation works on the raw data rather than through pydantic so that every problem in a file is
reported at once, each with the file, the field path and (for YAML) the line. docs/registry.md
describes the format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from cssselect import HTMLTranslator, SelectorError
from pydantic import ValidationError

from clausewatch.registry.errors import RegistryError, RegistryIssue
from clausewatch.registry.models import (
    CONTROL_MESSAGE,
    DocumentDeclaration,
    PlatformDeclaration,
    RangeSelector,
    Selector,
    SourceDeclaration,
    control_character,
)
from clausewatch.registry.vocabulary import (
    CATEGORIES,
    DOCUMENT_TYPES,
    did_you_mean,
    jurisdiction_problem,
    resolve_document_type,
)
from clausewatch.registry.writer import dump_platform, platform_data, write_registry
from clausewatch.schedules import parse_frequency

__all__ = [
    "RegistryError",
    "RegistryIssue",
    "css_problem",
    "dump_platform",
    "iter_documents",
    "load_platform_file",
    "load_registry",
    "load_starter_registry",
    "parse_document",
    "parse_platform",
    "platform_data",
    "starter_registry_path",
    "url_problem",
    "write_registry",
]

REGISTRY_SUFFIXES = (".yaml", ".yml", ".json")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_MAX_LENGTH = 64
FETCHERS = ("http", "browser")

_PLATFORM_KEYS = ("slug", "name", "category", "jurisdictions", "website", "documents")
_SOURCE_OPTIONS = ("select", "remove", "fetcher", "ignore_robots")
_DOCUMENT_KEYS = ("type", "fetch", "combine", "frequency", *_SOURCE_OPTIONS)
_SOURCE_KEYS = ("fetch", *_SOURCE_OPTIONS)
# Keys people bring from Open Terms Archive or guess; the hint says what to write instead.
_KEY_HINTS = {
    "executeClientScripts": "write `fetcher: browser` instead",
    "filter": "JavaScript filters are not supported; use `remove` selectors",
    "url": "write `fetch` instead",
    "terms": "this is an Open Terms Archive declaration; import it with registry.ota",
}


# --- YAML with line numbers -------------------------------------------------------------------


class _Map(dict[str, Any]):
    """A mapping read from YAML that remembers the line of each key (for error messages)."""

    line: int | None = None
    key_lines: dict[str, int]
    duplicate_keys: list[tuple[str, int]]


class _Seq(list[Any]):
    """A sequence read from YAML that remembers the line of each item."""

    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader that records lines, reports duplicate keys, and reads only true/false as
    booleans: YAML 1.1 would read the country code NO (Norway) as false."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Map:
    result = _Map()
    result.line = node.start_mark.line + 1
    result.key_lines, result.duplicate_keys = {}, []
    own_keys: set[str] = set()  # before merging `<<` keys, which may be overridden on purpose
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value != "<<":
            if key_node.value in own_keys:
                result.duplicate_keys.append((key_node.value, key_node.start_mark.line + 1))
            own_keys.add(key_node.value)
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = str(loader.construct_object(key_node, deep=True))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> _Seq:
    result = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _line(container: Any, key: str | int) -> int | None:
    if isinstance(container, _Map) and isinstance(key, str):
        return container.key_lines.get(key, container.line)
    if isinstance(container, _Seq) and isinstance(key, int) and key < len(container.item_lines):
        return container.item_lines[key]
    return None


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"


# --- value checks shared with the OTA importer ------------------------------------------------


@lru_cache(maxsize=1)
def _translator() -> HTMLTranslator:
    return HTMLTranslator()


def css_problem(selector: str) -> str | None:
    """Why `selector` is not a CSS selector the extract stage can run (cssselect), or None."""
    try:
        _translator().css_to_xpath(selector)
    except SelectorError as error:
        return f"invalid CSS selector {selector!r}: {error}"
    return None


def url_problem(url: str) -> str | None:
    """Why `url` is not an absolute http(s) URL, or None."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return f"not an absolute http(s) URL: {url!r}"
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", url):
        return f"not an absolute http(s) URL: {url!r}"
    return None


# --- validation ---------------------------------------------------------------------------------


class _Checker:
    """Validates the raw data of one file, collecting issues instead of stopping at the first."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[RegistryIssue] = []
        # Each valid platform with the path and line of its slug, for cross-file duplicate checks.
        self.platforms: list[tuple[PlatformDeclaration, str, int | None]] = []

    def fail(self, path: str, message: str, line: int | None = None) -> None:
        self.issues.append(RegistryIssue(self.file, path, message, line))

    def root(self, data: Any) -> None:
        if isinstance(data, Mapping) and "platforms" in data:
            self._keys(data, "", ("platforms",))
            items = data["platforms"]
            if not isinstance(items, list) or not items:
                self.fail(
                    "platforms", "expected a non-empty list of platforms", _line(data, "platforms")
                )
                return
            for index, item in enumerate(items):
                self.platform(item, _join("platforms", index), _line(items, index))
        else:
            self.platform(data, "", None)

    def platform(self, raw: Any, path: str, line: int | None) -> None:
        if not self._mapping(raw, path, line):
            return
        start = len(self.issues)
        self._keys(raw, path, _PLATFORM_KEYS)
        slug = self._slug(raw, path)
        name = self._string(raw, path, "name")
        category = self._category(raw, path)
        jurisdictions = self._jurisdictions(raw, path)
        website = self._url(raw, path, "website")
        documents = self._documents(raw, path)
        if len(self.issues) > start:
            return
        platform = self._build(
            PlatformDeclaration,
            path,
            line,
            slug=slug,
            name=name,
            category=category,
            jurisdictions=jurisdictions,
            website=website,
            documents=documents,
        )
        if platform is not None:
            self.platforms.append((platform, _join(path, "slug"), _line(raw, "slug")))

    def document(self, raw: Any, path: str, line: int | None) -> DocumentDeclaration | None:
        if not self._mapping(raw, path, line):
            return None
        start = len(self.issues)
        self._keys(raw, path, _DOCUMENT_KEYS)
        doc_type = self._document_type(raw, path)
        defaults = self._source_options(raw, path)
        sources = self._document_sources(raw, path, line, defaults)
        frequency = self._frequency(raw, path)
        if len(self.issues) > start:
            return None
        return self._build(
            DocumentDeclaration, path, line, type=doc_type, sources=sources, frequency=frequency
        )

    def _frequency(self, raw: Mapping[str, Any], path: str) -> str | None:
        if "frequency" not in raw:
            return None
        value = raw["frequency"]
        try:
            parse_frequency(value)
        except ValueError as error:
            self.fail(_join(path, "frequency"), str(error), _line(raw, "frequency"))
            return None
        return str(value).strip().lower()

    def _document_sources(
        self, raw: Mapping[str, Any], path: str, line: int | None, defaults: dict[str, Any]
    ) -> list[SourceDeclaration]:
        if ("fetch" in raw) == ("combine" in raw):
            which = "both" if "fetch" in raw else "neither"
            self.fail(
                path,
                f"needs either `fetch` (one source) or `combine` (several), {which} given",
                line,
            )
            return []
        if "fetch" in raw:
            url = self._url(raw, path, "fetch")
            source = url and self._build(SourceDeclaration, path, line, url=url, **defaults)
            return [source] if source else []
        return self._combine(raw, path, defaults)

    def _combine(
        self, raw: Mapping[str, Any], path: str, defaults: dict[str, Any]
    ) -> list[SourceDeclaration]:
        items, items_path = raw["combine"], _join(path, "combine")
        if not isinstance(items, list) or not items:
            self.fail(
                items_path,
                f"expected a non-empty list of sources, got {_kind(items)}",
                _line(raw, "combine"),
            )
            return []
        sources = []
        for index, item in enumerate(items):
            item_path, item_line = _join(items_path, index), _line(items, index)
            if not self._mapping(item, item_path, item_line):
                continue
            self._keys(item, item_path, _SOURCE_KEYS)
            url = self._url(item, item_path, "fetch")
            # Document-level options are defaults; an item's own option replaces (not merges) them.
            options = {**defaults, **self._source_options(item, item_path)}
            source = url and self._build(
                SourceDeclaration, item_path, item_line, url=url, **options
            )
            if source:
                sources.append(source)
        return sources

    def _source_options(self, raw: Mapping[str, Any], path: str) -> dict[str, Any]:
        """The select/remove/fetcher/ignore_robots given in `raw`, only those present."""
        options: dict[str, Any] = {}
        for key in ("select", "remove"):
            if key in raw:
                options[key] = self._selectors(raw[key], _join(path, key), _line(raw, key))
        if "fetcher" in raw:
            fetcher = raw["fetcher"]
            if fetcher in FETCHERS:
                options["fetcher"] = fetcher
            else:
                self.fail(
                    _join(path, "fetcher"),
                    f"expected http or browser, got {fetcher!r}",
                    _line(raw, "fetcher"),
                )
        if "ignore_robots" in raw:
            flag = raw["ignore_robots"]
            if isinstance(flag, bool):
                options["ignore_robots"] = flag
            else:
                self.fail(
                    _join(path, "ignore_robots"),
                    f"expected true or false, got {flag!r}",
                    _line(raw, "ignore_robots"),
                )
        return options

    def _selectors(self, value: Any, path: str, line: int | None) -> tuple[Selector, ...]:
        items = [value] if isinstance(value, str | Mapping) else value
        if not isinstance(items, list):
            self.fail(path, f"expected a selector or a list of selectors, got {_kind(value)}", line)
            return ()
        selectors: list[Selector] = []
        for index, item in enumerate(items):
            item_path = path if items is not value else _join(path, index)
            item_line = _line(items, index) or line
            selector = self._selector(item, item_path, item_line)
            if selector is not None:
                selectors.append(selector)
        return tuple(selectors)

    def _selector(self, item: Any, path: str, line: int | None) -> Selector | None:
        if isinstance(item, str):
            problem = css_problem(item)
            if problem:
                self.fail(path, problem, line)
                return None
            return item
        if isinstance(item, Mapping):
            return self._range(item, path, line)
        self.fail(path, f"expected a CSS selector or a range, got {_kind(item)}", line)
        return None

    def _range(self, raw: Mapping[str, Any], path: str, line: int | None) -> RangeSelector | None:
        start = len(self.issues)
        self._keys(raw, path, RangeSelector.KEYS)
        fields: dict[str, str] = {}
        for key in RangeSelector.KEYS:
            if key in raw:
                value = raw[key]
                problem = css_problem(value) if isinstance(value, str) else "expected a string"
                if problem:
                    self.fail(_join(path, key), problem, _line(raw, key) or line)
                fields[key] = value
        has_start = ("startBefore" in raw) + ("startAfter" in raw)
        has_end = ("endBefore" in raw) + ("endAfter" in raw)
        if has_start != 1 or has_end != 1:
            self.fail(
                path,
                "a range needs exactly one of startBefore/startAfter and one of endBefore/endAfter",
                line,
            )
        if len(self.issues) > start:
            return None
        return RangeSelector(fields)

    def _documents(self, raw: Mapping[str, Any], path: str) -> list[DocumentDeclaration]:
        value = self._require(raw, path, "documents")
        docs_path = _join(path, "documents")
        if value is None:
            return []
        if not isinstance(value, list) or not value:
            self.fail(
                docs_path,
                f"expected a non-empty list of documents, got {_kind(value)}",
                _line(raw, "documents"),
            )
            return []
        documents: list[DocumentDeclaration] = []
        first_index: dict[str, int] = {}
        for index, item in enumerate(value):
            doc = self.document(item, _join(docs_path, index), _line(value, index))
            if doc is None:
                continue
            if doc.type in first_index:
                self.fail(
                    _join(_join(docs_path, index), "type"),
                    f"duplicate document type {doc.type!r} (also documents"
                    f"[{first_index[doc.type]}])",
                    _line(item, "type"),
                )
                continue
            first_index[doc.type] = index
            documents.append(doc)
        return documents

    def _document_type(self, raw: Mapping[str, Any], path: str) -> str | None:
        value = self._string(raw, path, "type")
        if value is None:
            return None
        canonical = resolve_document_type(value)
        if canonical is None:
            hint = did_you_mean(value, list(DOCUMENT_TYPES))
            self.fail(
                _join(path, "type"), f"unknown document type {value!r}{hint}", _line(raw, "type")
            )
        return canonical

    def _slug(self, raw: Mapping[str, Any], path: str) -> str | None:
        slug = self._string(raw, path, "slug")
        if slug is not None and (not SLUG_RE.match(slug) or len(slug) > SLUG_MAX_LENGTH):
            self.fail(
                _join(path, "slug"),
                f"expected lowercase letters, digits and single "
                f"hyphens (at most {SLUG_MAX_LENGTH}), got {slug!r}",
                _line(raw, "slug"),
            )
        return slug

    def _category(self, raw: Mapping[str, Any], path: str) -> str | None:
        category = self._string(raw, path, "category")
        if category is not None and category not in CATEGORIES:
            hint = did_you_mean(category, list(CATEGORIES))
            self.fail(
                _join(path, "category"),
                f"unknown category {category!r}{hint}",
                _line(raw, "category"),
            )
        return category

    def _jurisdictions(self, raw: Mapping[str, Any], path: str) -> tuple[str, ...]:
        value = raw.get("jurisdictions", [])
        field_path, line = _join(path, "jurisdictions"), _line(raw, "jurisdictions")
        if not isinstance(value, list):
            self.fail(field_path, f"expected a list of codes, got {_kind(value)}", line)
            return ()
        codes: list[str] = []
        for index, item in enumerate(value):
            item_path, item_line = _join(field_path, index), _line(value, index) or line
            if not isinstance(item, str):
                self.fail(
                    item_path, f"expected a code such as US or EU, got {_kind(item)}", item_line
                )
                continue
            code = item.strip().upper()  # case is forgiven; the code itself is not
            problem = jurisdiction_problem(code)
            if problem or code in codes:
                self.fail(item_path, problem or f"duplicate jurisdiction {code!r}", item_line)
            else:
                codes.append(code)
        return tuple(codes)

    def _url(self, raw: Mapping[str, Any], path: str, key: str) -> str | None:
        url = self._string(raw, path, key)
        problem = url_problem(url) if url is not None else None
        if problem:
            self.fail(_join(path, key), problem, _line(raw, key))
            return None
        return url

    def _string(self, raw: Mapping[str, Any], path: str, key: str) -> str | None:
        value = self._require(raw, path, key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(
                _join(path, key),
                f"expected a non-empty string, got {_kind(value)}",
                _line(raw, key),
            )
            return None
        if found := control_character(value.strip()):
            # a line break in a name ends up in email headers (alert subjects): refused here
            self.fail(_join(path, key), f"{CONTROL_MESSAGE}; found {found}", _line(raw, key))
            return None
        return value.strip()

    def _require(self, raw: Mapping[str, Any], path: str, key: str) -> Any:
        if key not in raw or raw[key] is None:
            self.fail(_join(path, key), "required field is missing", _line(raw, key))
            return None
        return raw[key]

    def _mapping(self, raw: Any, path: str, line: int | None) -> bool:
        if isinstance(raw, Mapping):
            return True
        self.fail(path, f"expected a mapping, got {_kind(raw)}", line)
        return False

    def _keys(self, raw: Mapping[str, Any], path: str, allowed: tuple[str, ...]) -> None:
        for key in raw:
            if key not in allowed:
                hint = f" ({_KEY_HINTS[key]})" if key in _KEY_HINTS else did_you_mean(key, allowed)
                self.fail(_join(path, key), f"unknown field{hint}", _line(raw, key))
        for key, line in getattr(raw, "duplicate_keys", []):
            self.fail(_join(path, key), "field given twice", line)

    def _build(self, model: Any, path: str, line: int | None, **fields: Any) -> Any:
        """Construct a model; anything the checks above missed becomes an issue, not a crash."""
        try:
            return model(**fields)
        except ValidationError as error:
            for detail in error.errors():
                where = ".".join(str(part) for part in detail["loc"])
                self.fail(_join(path, where) if where else path, detail["msg"], line)
            return None


# --- files ---------------------------------------------------------------------------------------


def _read(path: Path, checker: _Checker) -> Any:
    """The parsed content of a registry file, or None after recording why it can't be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        checker.fail("", f"cannot read file: {error}")
        return None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.load(text, _Loader)
    except json.JSONDecodeError as error:
        checker.fail("", f"JSON syntax error: {error.msg} (column {error.colno})", error.lineno)
        return None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        line = mark.line + 1 if mark is not None else None
        column = f" (column {mark.column + 1})" if mark is not None else ""
        checker.fail("", f"YAML syntax error: {problem}{column}", line)
        return None
    if data is None:
        checker.fail("", "file is empty")
    return data


def _check_file(path: Path) -> _Checker:
    checker = _Checker(str(path))
    data = _read(path, checker)
    if data is not None:
        checker.root(data)
    return checker


def _registry_files(paths: Iterable[Path]) -> tuple[list[Path], list[RegistryIssue]]:
    files: list[Path] = []
    issues: list[RegistryIssue] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file() and _is_registry_file(p)))
        elif not path.exists():
            issues.append(RegistryIssue(str(path), "", "no such file or folder"))
        elif _is_registry_file(path):
            files.append(path)
        else:
            issues.append(RegistryIssue(str(path), "", "not a .yaml, .yml or .json file"))
    unique: dict[Path, Path] = {}  # a file named twice (itself and via its folder) loads once
    for file in files:
        unique.setdefault(file.resolve(), file)
    return list(unique.values()), issues


def _is_registry_file(path: Path) -> bool:
    return path.suffix.lower() in REGISTRY_SUFFIXES and not path.name.startswith(".")


def load_platform_file(path: Path) -> list[PlatformDeclaration]:
    """The platforms in one registry file (usually one; several with a `platforms:` list)."""
    path = Path(path)
    if path.is_dir():
        raise RegistryError([RegistryIssue(str(path), "", "a folder, not a registry file")])
    return load_registry([path])


def load_registry(paths: Iterable[Path]) -> list[PlatformDeclaration]:
    """All platforms in the given files and folders (a folder: its *.yaml/*.yml/*.json, sorted).

    Raises RegistryError listing every problem in every file, including slugs declared twice.
    """
    files, issues = _registry_files(paths)
    platforms: list[PlatformDeclaration] = []
    seen: dict[str, str] = {}
    for file in files:
        checker = _check_file(file)
        for platform, slug_path, line in checker.platforms:
            if platform.slug in seen:
                checker.fail(
                    slug_path,
                    f"duplicate slug {platform.slug!r} (already declared in {seen[platform.slug]})",
                    line,
                )
                continue
            seen[platform.slug] = checker.file
            platforms.append(platform)
        issues.extend(checker.issues)
    if issues:
        raise RegistryError(issues)
    return platforms


def parse_platform(data: Mapping[str, Any], source: str = "<data>") -> PlatformDeclaration:
    """Validate one platform given as data in the file format; `source` names it in errors."""
    checker = _Checker(source)
    checker.platform(data, "", None)
    if checker.issues or not checker.platforms:
        raise RegistryError(checker.issues)
    return checker.platforms[0][0]


def parse_document(
    data: Mapping[str, Any], source: str, path: str = ""
) -> tuple[DocumentDeclaration | None, list[RegistryIssue]]:
    """Validate one document given as data in the file format: the document, or its issues."""
    checker = _Checker(source)
    document = checker.document(data, path, None)
    return (None if checker.issues else document), checker.issues


def starter_registry_path() -> Path:
    """The folder of the starter registry shipped with clausewatch."""
    return Path(__file__).resolve().parent / "starter"


def load_starter_registry() -> list[PlatformDeclaration]:
    return load_registry([starter_registry_path()])


def iter_documents(
    platforms: Iterable[PlatformDeclaration],
) -> Iterator[tuple[PlatformDeclaration, DocumentDeclaration]]:
    """Every (platform, document) pair, in registry order."""
    for platform in platforms:
        for document in platform.documents:
            yield platform, document
