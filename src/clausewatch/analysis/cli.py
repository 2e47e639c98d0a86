"""`clausewatch analyse`, `clausewatch analysis …` and `clausewatch classify`: clause types,
severity, rarity and comparisons across platforms."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from clausewatch.cli_common import (
    DataDir,
    Fmt,
    detail,
    emit,
    fail,
    lookup,
    open_archive,
    out,
    progress_bar,
)

analysis_app = typer.Typer(
    help="Analysis: severity, rarity, comparisons across platforms, regulations.",
    no_args_is_help=True,
)


def analyse(archive: Any, *, full: bool, workers: int = 1) -> Any:
    """Run the analyser with a progress bar."""
    from clausewatch.analysis.service import analyse as run_analyser

    with progress_bar() as bar:
        task = bar.add_task("analysing", total=None)
        return run_analyser(
            archive,
            full=full,
            progress=lambda n: bar.advance(task, n),
            total=lambda n: bar.update(task, total=n),
            workers=workers,
        )


def analyse_cmd(
    full: Annotated[
        bool, typer.Option("--full", help="Redo everything, not only what is out of date.")
    ] = False,
    data_dir: DataDir = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes classifying side by side (default: one per core, at most 4).",
        ),
    ] = None,
) -> None:
    """Classify provisions and refresh rarity, similarity and change-record severity. Incremental:
    after a taxonomy or model update only the stale rows are redone."""
    from clausewatch.jobs.pool import default_workers

    with open_archive(data_dir) as archive:
        report = analyse(archive, full=full, workers=workers or default_workers())
    out.print(
        f"analyser {report.analyser}: revisions classified: {report.revisions} "
        f"({report.classifications} clause types), documents refreshed: {report.documents}, "
        f"change records assessed: {report.change_records}"
    )


def classify_cmd() -> None:
    """Classify text: JSON lines {"text": ..., "heading": optional} on standard input, one JSON
    line per input on standard output (clause types, scores, severity, confidence, supporting
    words)."""

    from clausewatch.classify import classify

    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text, heading = item["text"], item.get("heading")
            if not isinstance(text, str) or not (heading is None or isinstance(heading, str)):
                raise TypeError("'text' must be a string and 'heading' a string or absent")
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise fail(f"standard input line {number}: {exc.__class__.__name__}: {exc}") from exc
        predictions = [p.to_dict() for p in classify(text, heading)]
        sys.stdout.write(json.dumps({"predictions": predictions}, ensure_ascii=False) + "\n")


@analysis_app.command("show")
def analysis_show(
    provision: Annotated[str, typer.Argument(help="Provision ID (P-000001).")],
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """A provision's analysis: clause types, severity and reasons, rarity, how other platforms
    handle it, regulations, other risks in the same document and the narrative."""
    from clausewatch.analysis.queries import provision_page_analysis

    found = detail(provision_page_analysis, provision, "P", data_dir)
    if fmt == "json":
        out.print_json(json.dumps(found))
        return
    out.print(f"{found['id']} {found['title']} — {found['platform']}", markup=False)
    out.print(f"severity: {found['severity']}  ", markup=False)
    for reason in found["severity_reasons"]:
        out.print(f"  · {reason}", markup=False)
    if found["rarity"]:
        out.print(found["rarity"]["label"], markup=False)
    emit(
        [
            {k: c[k] for k in ("name", "confidence", "severity", "evidence_basis")}
            for c in found["classifications"]
        ],
        "table",
    )
    narrative = found.get("narrative")
    if narrative:
        for key in ("what_it_is", "why_it_matters", "consumer_impact"):
            out.print(f"\n{key.replace('_', ' ').capitalize()}: {narrative[key]}", markup=False)
    if found["how_others_handle"]:
        emit(
            [
                {k: o[k] for k in ("platform", "id", "severity", "similarity")}
                for o in found["how_others_handle"]
            ],
            "table",
        )
    emit(
        [{k: r[k] for k in ("name", "jurisdiction", "article")} for r in found["regulations"]],
        "table",
    )


@analysis_app.command("types")
def analysis_types(data_dir: DataDir = None, fmt: Fmt = "table") -> None:
    """Every clause type with the number of platforms and provisions that have it."""
    from clausewatch.analysis.queries import clause_type_summary

    with open_archive(data_dir) as archive:
        rows = clause_type_summary(archive)
    if fmt != "json":
        keys = ("type", "default_severity", "provisions", "label")
        rows = [{k: row[k] for k in keys} for row in rows]
    emit(rows, fmt)


@analysis_app.command("type")
def analysis_type(
    clause_type: Annotated[str, typer.Argument(help="Clause type id (arbitration).")],
    data_dir: DataDir = None,
) -> None:
    """One clause type: rarity, severity mix, regulations and the platforms that have it (JSON)."""
    from clausewatch.analysis.queries import clause_type_hub

    out.print_json(json.dumps(lookup(clause_type_hub, clause_type, data_dir=data_dir)))


@analysis_app.command("compare")
def analysis_compare(
    clause_type: Annotated[str, typer.Argument(help="Clause type id (arbitration).")],
    platforms: Annotated[list[str], typer.Argument(help="2 to 4 platform slugs.")],
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """Compare 2–4 platforms for one clause type."""
    from clausewatch.analysis.queries import compare

    result = lookup(compare, clause_type, platforms, data_dir=data_dir)
    if fmt == "json":
        out.print_json(json.dumps(result))
        return
    out.print(f"{result['name']}: {result['rarity']['label']}", markup=False)
    emit(
        [
            {
                "platform": c["platform"],
                "state": c["state"],
                "severity": c["severity"],
                "opt-out stated": c["opt_out"],
                "provisions": " ".join(p["id"] for p in c["provisions"]),
            }
            for c in result["platforms"]
        ],
        "table",
    )


@analysis_app.command("matrix")
def analysis_matrix(
    types: Annotated[
        list[str] | None, typer.Option("--type", help="Clause type id (repeatable).")
    ] = None,
    platforms: Annotated[
        list[str] | None, typer.Option("--platform", help="Platform slug (repeatable).")
    ] = None,
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """Platform × clause type matrix: mandatory / present / not detected, opt-out stated."""
    from clausewatch.analysis.queries import matrix

    result = lookup(matrix, types or [], platforms or [], data_dir=data_dir)
    if fmt == "json":
        out.print_json(json.dumps(result))
        return
    rows = [
        {"platform": r["platform"]}
        | {t: c["state"] + (" (opt-out)" if c["opt_out"] else "") for t, c in r["cells"].items()}
        for r in result["rows"]
    ]
    emit(rows, "table")
