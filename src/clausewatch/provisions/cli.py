"""`clausewatch provisions …`: provisions, clauses with permanent IDs."""

from __future__ import annotations

import json
from typing import Annotated, Any

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
    progress_bar,
)

provisions_app = typer.Typer(help="Provisions: clauses with permanent IDs.", no_args_is_help=True)

LIST_COLUMNS = (
    Col("id"),
    Col("document"),
    Col("first_seen", "first seen", kind="date"),
    Col("stability"),
    Col("substantive_changes", "changes", kind="key", justify="right"),
    Col("title", kind="text"),
)


def build(archive: Any, *, workers: int = 1) -> Any:
    """Segment new versions into provisions and record change records, with a progress bar."""
    from clausewatch.provisions.service import build as build_provisions

    with progress_bar() as bar:
        task = bar.add_task("segmenting and aligning", total=None)
        return build_provisions(
            archive,
            progress=lambda n: bar.advance(task, n),
            total=lambda n: bar.update(task, total=n),
            workers=workers,
        )


@provisions_app.command("build")
def provisions_build(data_dir: DataDir = None) -> None:
    """Segment new versions into provisions and record their change records (incremental)."""
    with open_archive(data_dir) as archive:
        report = build(archive)
    out.print(
        f"versions: {report.versions}, new provisions: {report.provisions_created}, "
        f"change records: {report.change_records}"
    )


@provisions_app.command("fill-contexts")
def provisions_fill_contexts(data_dir: DataDir = None) -> None:
    """Record where each list item's lead-in and table row's header sits, for provisions built
    before they were recorded (migration 0016): their pages then quote the lead-in."""
    from clausewatch.provisions.service import fill_contexts

    with open_archive(data_dir) as archive, progress_bar() as bar:
        task = bar.add_task("segmenting versions", total=None)
        updated = fill_contexts(archive, progress=lambda n: bar.advance(task, n))
    out.print(f"revisions updated: {updated}")


@provisions_app.command("list")
def provisions_list(
    document: Annotated[str | None, typer.Option(help="Only this document (D-00001).")] = None,
    platform: PlatformOption = None,
    everything: Annotated[bool, typer.Option("--all", help="Include removed provisions.")] = False,
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """List provisions with their stability."""
    from clausewatch.ids import parse_id
    from clausewatch.provisions.queries import list_provisions

    number = doc_id(document)
    with open_archive(data_dir) as archive:
        only = platform_documents(archive, platform)
        if only is None or number is not None:
            rows = list_provisions(archive, number, include_removed=everything)
        else:  # one query per document of the platform, not the whole archive
            rows = [
                row
                for public_id in sorted(only)
                for row in list_provisions(
                    archive, parse_id(public_id, "D"), include_removed=everything
                )
            ]
    if only is not None:
        rows = [r for r in rows if r["document"] in only]
    columns: tuple[Col, ...] = LIST_COLUMNS
    if everything:
        columns = (*LIST_COLUMNS[:-1], Col("in_current_version", "current"), LIST_COLUMNS[-1])
    emit(rows, fmt, columns)


@provisions_app.command("show")
def provisions_show(
    provision: Annotated[str, typer.Argument(help="Provision ID (P-000001).")],
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """A provision: its text, revisions, parameters over time and stability."""
    from clausewatch.provisions.queries import provision_detail

    found = detail(provision_detail, provision, "P", data_dir)
    if fmt == "json":
        out.print_json(json.dumps(found))
        return
    out.print(f"{found['id']} {found['title']}  [{found['stability']}]", markup=False)
    out.print(" › ".join(found["heading_path"]), markup=False)
    out.print(found["text"], markup=False, highlight=False, soft_wrap=True)
    emit(found["revisions"], "table")
    if found["parameters"]:
        emit(found["parameters"], "table")
