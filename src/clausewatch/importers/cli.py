"""`clausewatch import`: Open Terms Archive history into the archive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from clausewatch.cli_common import DataDir, fail, open_archive, out, progress_bar


def import_cmd(
    sources: Annotated[
        list[Path],
        typer.Argument(help="OTA dataset .zip, *-versions git clone, or .jsonl[.xz] export."),
    ],
    data_dir: DataDir = None,
    category: Annotated[str, typer.Option(help="Category for new platforms.")] = "social-media",
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes importing and building side by side (default: one per core, "
            "at most 4).",
        ),
    ] = None,
) -> None:
    """Import Open Terms Archive history (idempotent: records already imported are skipped)."""
    from clausewatch.importers.ota import ImportFormatError
    from clausewatch.importers.parallel import import_source
    from clausewatch.jobs.pool import default_workers
    from clausewatch.provisions.cli import build
    from clausewatch.storage.cli import print_rebuilt
    from clausewatch.storage.db import compact_after_bulk_write, database_bytes

    processes = workers or default_workers()
    with open_archive(data_dir) as archive:
        size_before = database_bytes(archive.engine)
        for source in sources:
            failure: ImportFormatError | None = None
            with progress_bar() as bar:
                task = bar.add_task(f"importing {source.name}", total=None)
                try:
                    report = import_source(
                        archive,
                        source,
                        category=category,
                        workers=processes,
                        progress=lambda n, t=task: bar.advance(t, n),  # type: ignore[misc]
                    )
                except ImportFormatError as exc:
                    if exc.report is None:  # not a source at all: nothing was imported
                        raise fail(str(exc)) from exc
                    failure = exc
            built = build(archive, workers=processes)  # what was imported before a fault too
            if failure is not None:
                before = failure.report.records if failure.report else 0
                raise fail(
                    f"{failure}; the {before} records before it are imported, their provisions "
                    "built (a rerun skips them)"
                ) from failure
            out.print(
                f"{source.name}: {report.records} records, {len(report.documents)} documents, "
                f"already imported: {report.skipped_existing}, "
                f"outcomes: {json.dumps(report.outcomes, sort_keys=True)}; "
                f"refused by the quality gate: {json.dumps(report.rejected, sort_keys=True)}; "
                f"change records: {built.change_records}",
                highlight=False,
            )
        print_rebuilt(compact_after_bulk_write(archive.engine, size_before))


def import_sample(archive: Any) -> None:
    """Import the bundled sample of real history (used by `run` offline on an empty archive)."""
    from clausewatch.importers.sample import SAMPLE_CREDIT, SAMPLE_PATH
    from clausewatch.importers.sample import import_sample as import_bundled

    out.print(
        "no version could be captured (no network?) and the archive is empty: importing the "
        f"bundled sample of real history ({SAMPLE_PATH.name}; {SAMPLE_CREDIT})",
        soft_wrap=True,
        highlight=False,
    )
    with progress_bar() as bar:
        task = bar.add_task("importing the sample", total=None)
        report = import_bundled(archive, progress=lambda _r: bar.advance(task))
    out.print(
        f"sample: {report.records} records, {len(report.documents)} documents; "
        "building provisions and analysing them",
        highlight=False,
    )
