"""Load and validate the clause taxonomy (``taxonomy.yaml``).

The taxonomy is data reviewed like code: every clause type has a group, a default severity,
severity modifiers (pattern + effect + reason), trigger phrases for explicit language, the
regulations it touches, its mapping to public data-set labels, the general narrative text of a
provision page (``narrative``: why it matters, consumer impact, actions) and the states of the
platform-vs-platform comparison matrix (``matrix``). Loading fails with a
:class:`TaxonomyError` that names the offending field (``types[3].severity``,
``types[3].narrative.why``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

TAXONOMY_PATH = Path(__file__).with_name("taxonomy.yaml")
SEVERITIES = ("Low", "Medium", "High")
BOILERPLATE = "boilerplate"  # the type of text that states no clause (headings, contacts, …)
EFFECTS = ("raise", "lower")
# Who performs the practice a type describes: "provider" types (the platform collects, sells,
# trains, terminates …) are checked by the polarity rules (a prohibition addressed to users is
# acceptable-use; "we do not sell" is negated); "any" types are not.
ACTORS = ("provider", "any")
CLAUDETTE_TAGS = ("a", "ch", "cr", "j", "law", "ltd", "ter", "use", "pinc")
_ID_RE = re.compile(r"^[a-z][a-z0-9-]*$")


class TaxonomyError(ValueError):
    """The taxonomy file is invalid; the message starts with the field path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass(frozen=True)
class Modifier:
    pattern: re.Pattern[str]
    effect: str  # "raise" | "lower"
    reason: str


@dataclass(frozen=True)
class Regulation:
    name: str
    jurisdiction: str
    article: str


@dataclass(frozen=True)
class NarrativeTemplate:
    """General text about a clause type, never about a particular platform."""

    why: str  # compliance perspective: what the type does legally and why it matters
    impact: str  # consumer perspective, plain words
    actions: tuple[str, ...]  # 1-3 things a user can generally do


@dataclass(frozen=True)
class MatrixState:
    label: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class MatrixSpec:
    """Cell values of a platform-vs-platform comparison matrix for one clause type."""

    present: str = "present"
    absent: str = "not detected"  # never "absent": only that the classifier did not detect it
    states: tuple[MatrixState, ...] = ()


@dataclass(frozen=True)
class ClauseType:
    id: str
    name: str
    group: str
    description: str
    severity: str
    triggers: tuple[re.Pattern[str], ...]
    modifiers: tuple[Modifier, ...]
    regulations: tuple[Regulation, ...]
    claudette: tuple[str, ...] = ()
    tosdr: tuple[str, ...] = ()
    opp115: tuple[str, ...] = ()
    narrative: NarrativeTemplate = NarrativeTemplate(
        why="", impact="", actions=()
    )  # YAML: required
    matrix: MatrixSpec = MatrixSpec()
    actor: str = "any"  # see ACTORS

    def matrix_state(self, text: str) -> str:
        """The label of the first matrix state whose pattern matches ``text``, else ``present``."""
        for state in self.matrix.states:
            if state.pattern.search(text):
                return state.label
        return self.matrix.present


@dataclass(frozen=True)
class Taxonomy:
    version: int
    groups: dict[str, str]
    types: tuple[ClauseType, ...]
    by_id: dict[str, ClauseType] = field(default_factory=dict)
    # per type, the CLAUDETTE tags whose fairness levels it reads (see ``fairness_tags``)
    _fairness_tags: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.by_id.update({t.id: t for t in self.types})
        self._fairness_tags.update(
            {
                t.id: tuple(tag for tag in t.claudette if self.types_for_claudette(tag)[0] == t.id)
                for t in self.types
            }
        )

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.types]

    def types_for_claudette(self, tag: str) -> list[str]:
        return [t.id for t in self.types if tag in t.claudette]

    def fairness_tags(self, type_id: str) -> tuple[str, ...]:
        """The CLAUDETTE tags whose fairness levels a type reads: a tag mapped to two types
        (``ch``, ``ter``) rates what it names, its first type; the second (service changes,
        suspension) takes the tag's sentences as examples, not its scale."""
        return self._fairness_tags[type_id]

    def tosdr_case_map(self) -> dict[str, list[str]]:
        """ToS;DR case title (stripped) -> clause type ids."""
        out: dict[str, list[str]] = {}
        for t in self.types:
            for case in t.tosdr:
                out.setdefault(case.strip(), []).append(t.id)
        return out


def _require(obj: dict[str, Any], key: str, kind: type, path: str) -> Any:
    if key not in obj:
        raise TaxonomyError(f"{path}.{key}", "missing")
    value = obj[key]
    if not isinstance(value, kind):
        raise TaxonomyError(f"{path}.{key}", f"must be {kind.__name__}, got {value!r}")
    if isinstance(value, str) and not value.strip():
        raise TaxonomyError(f"{path}.{key}", "must not be empty")
    return value


def _compile(pattern: Any, path: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise TaxonomyError(path, f"pattern must be a non-empty string, got {pattern!r}")
    try:
        return re.compile(pattern, re.IGNORECASE | re.MULTILINE)
    except re.error as exc:
        raise TaxonomyError(path, f"invalid regular expression: {exc}") from exc


def _modifier(raw: Any, path: str) -> Modifier:
    if not isinstance(raw, dict):
        raise TaxonomyError(path, "must be a mapping with pattern, effect, reason")
    effect = _require(raw, "effect", str, path)
    if effect not in EFFECTS:
        raise TaxonomyError(f"{path}.effect", f"must be one of {EFFECTS}, got {effect!r}")
    pattern = _compile(_require(raw, "pattern", str, path), f"{path}.pattern")
    return Modifier(pattern, effect, _require(raw, "reason", str, path))


def _regulation(raw: Any, path: str) -> Regulation:
    if not isinstance(raw, dict):
        raise TaxonomyError(path, "must be a mapping with name, jurisdiction, article")
    return Regulation(
        _require(raw, "name", str, path),
        _require(raw, "jurisdiction", str, path),
        _require(raw, "article", str, path),
    )


def _str_list(raw: Any, path: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise TaxonomyError(path, "must be a list of strings")
    return tuple(raw)


_QUOTE_CHARS = ('"', "\u201c", "\u201d")


def _no_quotes(value: str, path: str) -> str:
    """Narrative text is general and quotes nothing: only a provision page quotes the text."""
    if any(q in value for q in _QUOTE_CHARS):
        raise TaxonomyError(path, "must not contain double quotes")
    return value.strip()


def _narrative(raw: Any, path: str) -> NarrativeTemplate:
    actions = _require(raw, "actions", list, path)
    if not 1 <= len(actions) <= 3:
        raise TaxonomyError(f"{path}.actions", f"must have 1 to 3 items, got {len(actions)}")
    for i, action in enumerate(actions):
        if not isinstance(action, str) or not action.strip():
            raise TaxonomyError(
                f"{path}.actions[{i}]", f"must be a non-empty string, got {action!r}"
            )
    return NarrativeTemplate(
        why=_no_quotes(_require(raw, "why", str, path), f"{path}.why"),
        impact=_no_quotes(_require(raw, "impact", str, path), f"{path}.impact"),
        actions=tuple(_no_quotes(a, f"{path}.actions[{i}]") for i, a in enumerate(actions)),
    )


def _matrix(raw: Any, path: str) -> MatrixSpec:
    present = _require(raw, "present", str, path)
    absent = _require(raw, "absent", str, path) if "absent" in raw else "not detected"
    if absent.strip().lower() == "absent":
        raise TaxonomyError(
            f"{path}.absent", "must not claim 'absent', only that it was not detected"
        )
    raw_states = raw.get("states") or []
    if not isinstance(raw_states, list):
        raise TaxonomyError(f"{path}.states", "must be a list of {label, pattern}")
    states = []
    labels = {present, absent}
    for i, st in enumerate(raw_states):
        spath = f"{path}.states[{i}]"
        if not isinstance(st, dict):
            raise TaxonomyError(spath, "must be a mapping with label, pattern")
        label = _require(st, "label", str, spath)
        if label in labels:
            raise TaxonomyError(f"{spath}.label", f"duplicate label {label!r}")
        labels.add(label)
        states.append(
            MatrixState(label, _compile(_require(st, "pattern", str, spath), f"{spath}.pattern"))
        )
    return MatrixSpec(present=present, absent=absent, states=tuple(states))


def _clause_type(raw: Any, path: str, groups: dict[str, str]) -> ClauseType:
    if not isinstance(raw, dict):
        raise TaxonomyError(path, "must be a mapping")
    type_id = _require(raw, "id", str, path)
    if not _ID_RE.match(type_id):
        raise TaxonomyError(f"{path}.id", f"must be lower-case kebab-case, got {type_id!r}")
    group = _require(raw, "group", str, path)
    if group not in groups:
        raise TaxonomyError(f"{path}.group", f"unknown group {group!r}")
    severity = _require(raw, "severity", str, path)
    if severity not in SEVERITIES:
        raise TaxonomyError(f"{path}.severity", f"must be one of {SEVERITIES}, got {severity!r}")
    triggers = _require(raw, "triggers", list, path)
    modifiers = _require(raw, "modifiers", list, path)
    regulations = _require(raw, "regulations", list, path)
    datasets = _require(raw, "datasets", dict, path)
    actor = raw.get("actor", "any")
    if actor not in ACTORS:
        raise TaxonomyError(f"{path}.actor", f"must be one of {ACTORS}, got {actor!r}")
    tags = _str_list(datasets.get("claudette"), f"{path}.datasets.claudette")
    for tag in tags:
        if tag not in CLAUDETTE_TAGS:
            raise TaxonomyError(f"{path}.datasets.claudette", f"unknown CLAUDETTE tag {tag!r}")
    return ClauseType(
        id=type_id,
        name=_require(raw, "name", str, path),
        group=group,
        description=_require(raw, "description", str, path),
        severity=severity,
        triggers=tuple(_compile(p, f"{path}.triggers[{i}]") for i, p in enumerate(triggers)),
        modifiers=tuple(_modifier(m, f"{path}.modifiers[{i}]") for i, m in enumerate(modifiers)),
        regulations=tuple(
            _regulation(r, f"{path}.regulations[{i}]") for i, r in enumerate(regulations)
        ),
        claudette=tags,
        tosdr=_str_list(datasets.get("tosdr"), f"{path}.datasets.tosdr"),
        opp115=_str_list(datasets.get("opp115"), f"{path}.datasets.opp115"),
        narrative=_narrative(_require(raw, "narrative", dict, path), f"{path}.narrative"),
        matrix=_matrix(_require(raw, "matrix", dict, path), f"{path}.matrix"),
        actor=actor,
    )


def parse_taxonomy(data: Any) -> Taxonomy:
    """Validate a parsed YAML document and build the :class:`Taxonomy`."""
    if not isinstance(data, dict):
        raise TaxonomyError("<root>", "must be a mapping")
    version = _require(data, "version", int, "<root>")
    groups = _require(data, "groups", dict, "<root>")
    raw_types = _require(data, "types", list, "<root>")
    types = [_clause_type(raw, f"types[{i}]", groups) for i, raw in enumerate(raw_types)]
    seen: set[str] = set()
    for i, t in enumerate(types):
        if t.id in seen:
            raise TaxonomyError(f"types[{i}].id", f"duplicate id {t.id!r}")
        seen.add(t.id)
    unused = sorted(set(groups) - {t.group for t in types})
    if unused:
        raise TaxonomyError("groups", f"groups without any type: {unused}")
    if BOILERPLATE not in seen:
        raise TaxonomyError("types", "a 'boilerplate' type is required")
    return Taxonomy(version=version, groups=dict(groups), types=tuple(types))


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """Load a taxonomy file (the shipped one by default)."""
    target = Path(path) if path is not None else TAXONOMY_PATH
    try:
        data = yaml.safe_load(target.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TaxonomyError(str(target), f"invalid YAML: {exc}") from exc
    return parse_taxonomy(data)


@lru_cache(maxsize=1)
def default_taxonomy() -> Taxonomy:
    return load_taxonomy()
