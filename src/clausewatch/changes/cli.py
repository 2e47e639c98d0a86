"""`clausewatch changes …`: change records, what changed clause by clause."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from clausewatch.cli_common import (
    Col,
    DataDir,
    Fmt,
    PlatformOption,
    detail,
    doc_id,
    emit,
    open_archive,
    out,
    platform_documents,
)

changes_app = typer.Typer(
    help="Change records: what changed, clause by clause.", no_args_is_help=True
)

LIST_COLUMNS = (
    Col("id"),
    Col("recorded_at", "recorded", kind="date"),
    Col("document"),
    Col("severity", kind="key"),
    Col("direction", kind="key"),
    Col("what", kind="text"),  # the platform, then the summary's lead sentence, wrapped
)


@changes_app.command("list")
def changes_list(
    document: Annotated[str | None, typer.Option(help="Only this document (D-00001).")] = None,
    platform: PlatformOption = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Include non-substantive and technical records.")
    ] = False,
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """List change records, newest first."""
    from clausewatch.changes.queries import list_changes

    number = doc_id(document)
    with open_archive(data_dir) as archive:
        only = platform_documents(archive, platform)
        rows = list_changes(archive, number, substantive_only=not everything)
    if only is not None:
        rows = [r for r in rows if r["document"] in only]
    if fmt == "json":
        emit(rows, fmt)
        return
    shown = [
        r
        | {
            "what": (f"[{r['status']}] " if r["status"] != "substantive" else "")
            + f"{r['platform']}: {(r['summary'] or '').splitlines()[0] if r['summary'] else ''}"
        }
        for r in rows
    ]
    emit(shown, fmt, LIST_COLUMNS)


@changes_app.command("show")
def changes_show(
    change: Annotated[str, typer.Argument(help="Change record ID (C-000001).")],
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """A change record: the provisions it touches, with a word-level redline for each."""
    from clausewatch.changes.queries import change_detail

    found = detail(change_detail, change, "C", data_dir)
    if fmt == "json":
        out.print_json(json.dumps(found))
        return
    out.print(
        f"{found['id']} {found['document']} {found['from_version']} → "
        f"{found['to_version']} ({found['status']})",
        markup=False,
    )
    out.print(found["summary"], markup=False, highlight=False)
    for item in found["items"]:
        out.print(f"\n{item['kind']} {item['provision']} {item['title']}", markup=False)
        if item["redline"]:
            out.print(item["redline"], markup=False, highlight=False, soft_wrap=True)
