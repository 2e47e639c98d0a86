"""`clausewatch search`: full-text search over current provisions."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from clausewatch.cli_common import DataDir, Fmt, fail, open_archive, out


def search_cmd(
    query: Annotated[
        str, typer.Argument(help='Words: "a phrase", prefix*, -excluded, OR between alternatives.')
    ],
    platform: Annotated[str | None, typer.Option("--platform", help="Platform slug.")] = None,
    clause_type: Annotated[str | None, typer.Option("--type", help="Clause type id.")] = None,
    severity: Annotated[str | None, typer.Option("--severity", help="High, Medium or Low.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="Results.")] = 20,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Results to skip.")] = 0,
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """Full-text search over current provisions, best match first (run `analyse` first)."""
    from rich.table import Table
    from rich.text import Text

    from clausewatch.search import search_json

    if severity is not None and severity not in ("High", "Medium", "Low"):
        raise fail("--severity must be High, Medium or Low")
    with open_archive(data_dir) as archive:
        result = search_json(
            archive,
            query,
            limit=limit,
            offset=offset,
            platform=platform,
            clause_type=clause_type,
            severity=severity,
        )
    if fmt == "json":
        out.print_json(json.dumps(result))
        return
    out.print(f"{result['total']} matching provisions", markup=False, highlight=False)
    if not result["items"]:
        return
    from rich import box

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("platform", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("title", ratio=1)
    table.add_column("snippet", ratio=2)
    for item in result["items"]:  # archived text as Text: never read as rich markup
        snippet = Text()
        for part in item["snippet_parts"]:
            snippet.append(part["text"], style="bold" if part["match"] else "")
        table.add_row(
            item["id"],
            Text(item["platform"]),
            item["severity"] or "",
            Text(f"{item['title']} ({item['document_type']})"),
            snippet,
        )
    out.print(table)
