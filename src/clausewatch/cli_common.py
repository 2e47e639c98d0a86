"""What every `clausewatch` command module shares: consoles, options, the archive, errors, tables.

The commands live beside their stage (``archive/cli.py``, ``provisions/cli.py``, …) and
:mod:`clausewatch.cli` registers them. This module imports nothing heavy: stage code is imported
inside the commands, so ``clausewatch --help`` stays quick.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from clausewatch.config import Settings

if TYPE_CHECKING:
    from clausewatch.archive.service import Archive
    from clausewatch.storage.models import Platform

console = Console(stderr=True)
out = Console()

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data folder (default ./data or the config).")
]
DocIds = Annotated[
    list[str] | None, typer.Argument(help="Document IDs (D-00001 …); default: all active.")
]
Fmt = Annotated[str, typer.Option("--format", help="table or json")]
PlatformOption = Annotated[
    str | None,
    typer.Option("--platform", help="Only this platform (name or slug, any case)."),
]
Registry = Annotated[list[Path] | None, typer.Option("--registry", help="Registry paths.")]


def settings_for(data_dir: Path | None) -> Settings:
    return Settings(data_dir=data_dir) if data_dir else Settings()


@contextmanager
def open_archive(data_dir: Path | None) -> Iterator[Any]:
    from clausewatch.archive.service import Archive

    archive = Archive.open(settings_for(data_dir))
    try:
        yield archive
    finally:
        archive.close()


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal and not sys.stderr.isatty(),
    )


def fail(message: str | Sequence[str], code: int = 2) -> typer.Exit:
    """Print ``error: message`` as one line on standard error (a line per message when there
    are several, as registry validation finds); raise the returned Exit."""
    messages = [message] if isinstance(message, str) else list(message)
    for each in messages:
        parts = (" ".join(line.split()) for line in each.splitlines())
        text = Text("error: ", style="red")
        text.append("; ".join(p for p in parts if p))  # never read as rich markup
        console.print(text, soft_wrap=True, highlight=False)
    return typer.Exit(code)


# -- one line, never a traceback ------------------------------------------------------------

DEBUG_VARIABLE = "CLAUSEWATCH_DEBUG"


def describe_error(exc: BaseException) -> tuple[str, int]:
    """The one-line message and exit status for an exception that reached the command line.

    The project's own errors (ValueError and LookupError subclasses, extraction, export and
    account errors) and OSError say what and where; anything else is a bug, said so in one line.
    """
    import lzma
    import zipfile

    from clausewatch.exports import ExportError
    from clausewatch.extract.errors import ExtractionError

    if isinstance(exc, OSError) and not isinstance(exc, zipfile.BadZipFile):
        where = exc.filename if exc.filename is not None else None
        what = exc.strerror or str(exc) or type(exc).__name__
        return (f"{where}: {what}" if where else what), 2
    if isinstance(exc, zipfile.BadZipFile | lzma.LZMAError | EOFError):
        return f"not a readable archive ({exc})", 2
    if isinstance(exc, ValueError | LookupError | ExtractionError | ExportError):
        return str(exc) or type(exc).__name__, 2
    if type(exc).__name__ in {"AccountError", "ApiKeyError"}:
        return str(getattr(exc, "message", exc)), 2
    return (
        f"unexpected {type(exc).__name__}: {exc} (a bug: please report it; "
        f"{DEBUG_VARIABLE}=1 shows the traceback)",
        1,
    )


class GuardedGroup(TyperGroup):
    """The top-level group: an exception from a command becomes one `error:` line on standard
    error and a non-zero exit, never a traceback (set CLAUSEWATCH_DEBUG=1 to see it)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (Exit, Abort, TyperException):  # exits, usage errors: typer's own handling
            raise
        except Exception as exc:
            if os.environ.get(DEBUG_VARIABLE):
                raise
            message, code = describe_error(exc)
            raise fail(message, code) from exc


# -- IDs, lookups and platforms -------------------------------------------------------------


def parse_public_id(public_id: str, prefix: str) -> int:
    from clausewatch.ids import parse_id

    try:
        return parse_id(public_id, prefix)
    except ValueError as exc:
        raise fail(str(exc)) from exc


def doc_id(document: str | None) -> int | None:
    return None if document is None else parse_public_id(document, "D")


def detail(
    query: Callable[[Any, int], dict[str, Any]], public_id: str, prefix: str, data_dir: Path | None
) -> dict[str, Any]:
    """Run a detail query for one public ID; a malformed or unknown ID is a clear error."""
    number = parse_public_id(public_id, prefix)
    with open_archive(data_dir) as archive:
        try:
            return query(archive, number)
        except LookupError as exc:
            raise fail(str(exc)) from exc


def lookup(query: Callable[..., dict[str, Any]], *args: Any, data_dir: Path | None) -> Any:
    with open_archive(data_dir) as archive:
        try:
            return query(archive, *args)
        except (LookupError, ValueError) as exc:
            raise fail(str(exc)) from exc


def find_platform(archive: Archive, name: str) -> Platform:
    """The archive's platform with this slug or name (any case); unknown is a clear error."""
    from difflib import get_close_matches

    from sqlalchemy import select

    from clausewatch.storage.models import Platform

    with archive.sessions() as session:
        platforms = list(session.scalars(select(Platform).order_by(Platform.slug)))
    wanted = name.strip().casefold()
    for key in ("slug", "name"):
        for platform in platforms:
            if getattr(platform, key).casefold() == wanted:
                return platform
    if not platforms:
        raise fail(f"no platform {name!r}: the archive has none (run `clausewatch sync`)")
    names = {p.slug: p.slug for p in platforms} | {p.name.casefold(): p.slug for p in platforms}
    close = [names[m] for m in get_close_matches(wanted, list(names), n=3, cutoff=0.75)]
    hint = f"; did you mean {', '.join(dict.fromkeys(close))}?" if close else ""
    raise fail(
        f"no platform {name!r} in the archive{hint} (`clausewatch registry list` lists them)"
    )


def platform_documents(archive: Archive, platform: str | None) -> set[str] | None:
    """Public IDs of the documents of ``--platform`` (None: no filter)."""
    if platform is None:
        return None
    found = find_platform(archive, platform)
    return {d.public_id for d in archive.documents(active_only=False) if d.platform_id == found.id}


# -- tables ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Col:
    """A table column: the row key, its header, and how it behaves when the terminal is narrow.

    ``key`` columns (IDs, short codes) never wrap and keep their full width; ``text`` columns
    wrap at words and take the space left; ``line`` columns stay on one line, cut with an
    ellipsis; ``date`` shows the day only and ``time`` the day and minute."""

    key: str
    header: str | None = None
    kind: Literal["auto", "key", "text", "line", "date", "time", "hash"] = "auto"
    justify: Literal["left", "right"] = "left"


_ID = re.compile(r"^[A-Z]{1,3}-\d+$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_HASH = re.compile(r"^[0-9a-f]{40,}$")
SHORT = 12  # a column whose values are all this short never wraps


def cell(value: Any, kind: str) -> str:
    """A value as table text (JSON output keeps every value whole)."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False) if value else ""
    text = str(value)
    if kind == "date" and _DATETIME.match(text):
        return text[:10]
    if kind in ("time", "auto") and _DATETIME.match(text):
        return text[:10] + " " + text[11:16]
    if kind in ("hash", "auto") and _HASH.match(text):
        return text[:12] + "…"
    return text


def _kind(values: list[str], declared: str) -> str:
    if declared not in ("auto", "date", "time", "hash"):
        return declared
    present = [v for v in values if v]
    if declared in ("date", "time") or all(_ID.match(v) for v in present):
        return "key"
    if all(len(v) <= SHORT for v in present):
        return "key"
    return "text"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[Col] | None = None) -> Table:
    """A table readable at 80 columns: IDs and short values whole, long text wraps or is cut."""
    cols = list(columns) if columns else [Col(k) for k in rows[0]] if rows else []
    cells = [[cell(row.get(c.key), c.kind) for c in cols] for row in rows]
    grid = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1))
    for index, col in enumerate(cols):
        values = [r[index] for r in cells]
        kind = _kind(values, col.kind)
        header = col.header or col.key.replace("_", " ")
        widest = max((len(v) for v in values), default=0)
        if kind == "key":
            width = max(widest, len(header), 1)
            grid.add_column(
                header, no_wrap=True, min_width=width, justify=col.justify, overflow="crop"
            )
        elif kind == "line":  # a wrappable column whose cells do not wrap: it takes what is left
            grid.add_column(header, min_width=min(widest, 10))
        else:  # wraps at words; never narrower than its longest word (up to 16)
            word = max((len(w) for v in values for w in v.split()), default=1)
            grid.add_column(
                header,
                overflow="fold",
                justify=col.justify,
                min_width=min(max(word, *(len(w) for w in header.split())), 16),
            )
    one_line = [_kind([r[i] for r in cells], c.kind) == "line" for i, c in enumerate(cols)]
    for row in cells:  # archived text as Text: never read as rich markup
        grid.add_row(
            *(
                Text(v, no_wrap=True, overflow="ellipsis") if cut else Text(v)
                for v, cut in zip(row, one_line, strict=True)
            )
        )
    return grid


def emit(rows: list[dict[str, Any]], fmt: str, columns: Sequence[Col] | None = None) -> None:
    """Rows as JSON (every field, whole) or as a table (``columns``, or every field)."""
    if fmt == "json":
        out.print_json(json.dumps(rows))
        return
    if fmt != "table":
        raise fail(f"--format must be table or json, not {fmt!r}")
    if not rows:
        out.print("(none)")
        return
    out.print(table(rows, columns))


def iso(value: Any) -> str | None:
    return value.isoformat() if value else None
