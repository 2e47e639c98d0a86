"""Registry validation errors: every problem names its file and the field path inside it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class RegistryIssue:
    file: str
    path: str  # e.g. "documents[1].combine[0].fetch"; "" for the file as a whole
    message: str
    line: int | None = None  # 1-based, where the file format tells us (YAML, JSON syntax)

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        at_line = f" (line {self.line})" if self.line else ""
        return f"{where}: {self.message}{at_line}"


class RegistryError(ValueError):
    """Invalid registry files; `issues` holds every problem found, not just the first."""

    def __init__(self, issues: Iterable[RegistryIssue]) -> None:
        self.issues: list[RegistryIssue] = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))
