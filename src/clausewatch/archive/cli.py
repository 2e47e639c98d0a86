"""The archive's commands: `check`, `run`, `reextract`, `verify`, `documents …`, `export …`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from clausewatch.cli_common import (
    Col,
    DataDir,
    DocIds,
    Fmt,
    PlatformOption,
    Registry,
    emit,
    fail,
    find_platform,
    iso,
    open_archive,
    out,
    parse_public_id,
    progress_bar,
)

documents_app = typer.Typer(help="Documents, their versions and captures.", no_args_is_help=True)
export_app = typer.Typer(help="Export the archive.", no_args_is_help=True)


def select_documents(archive: Any, ids: Sequence[str] | None, *, what: str) -> list[Any]:
    """The documents named by ``ids`` (all active ones when none): each ID must exist and be
    active; an archive with no document at all is told to run `clausewatch sync`."""
    from clausewatch.ids import format_id

    if not ids:
        documents = archive.documents()
        if not documents:
            raise fail(f"no documents to {what}: run `clausewatch sync` first")
        return list(documents)
    numbers = [parse_public_id(i, "D") for i in ids]
    found = {d.id: d for d in archive.documents(active_only=False, ids=ids)}
    missing = [format_id("D", n) for n in numbers if n not in found]
    if missing:
        hint = (
            ""
            if archive.counts().get("documents")
            else " (the archive is empty: run `clausewatch sync`)"
        )
        raise fail(f"no document {', '.join(missing)} in the archive{hint}")
    inactive = [d.public_id for n in numbers if not (d := found[n]).active]
    if inactive:
        raise fail(f"{', '.join(inactive)}: no longer in the registry (inactive), not captured")
    return [found[n] for n in dict.fromkeys(numbers)]


def capture_cycle(archive: Any, ids: Sequence[str] | None) -> Any:
    from clausewatch.archive.cycle import CaptureCycle
    from clausewatch.capture import CaptureClient

    documents = select_documents(archive, ids, what="check")

    async def go() -> Any:
        client = CaptureClient.from_settings(archive.settings)
        try:
            with progress_bar() as bar:
                task = bar.add_task("capturing", total=len(documents))
                cycle = CaptureCycle(archive, client.fetch)
                return await cycle.run(documents, progress=lambda _r: bar.advance(task))
        finally:
            await client.aclose()

    return asyncio.run(go())


def check(ids: DocIds = None, data_dir: DataDir = None) -> None:
    """Capture documents now: fetch, extract, and record versions or verification events."""
    from clausewatch.provisions.cli import build

    with open_archive(data_dir) as archive:
        report = capture_cycle(archive, ids)
        build(archive)
    out.print(json.dumps(report.summary(), sort_keys=True))


def run(
    data_dir: DataDir = None,
    paths: Registry = None,
    sample: Annotated[
        bool,
        typer.Option(
            "--sample/--no-sample",
            help="Import the bundled sample of real history when nothing could be captured "
            "(no network) and the archive has no version yet.",
        ),
    ] = True,
) -> None:
    """The main job: sync the registry, capture every document once, then verify the archive.
    Offline on an empty archive, it loads the bundled sample of real history instead."""
    from clausewatch.analysis.cli import analyse
    from clausewatch.archive.evidence import verify_archive
    from clausewatch.importers.cli import import_sample
    from clausewatch.provisions.cli import build
    from clausewatch.registry.cli import load

    with open_archive(data_dir) as archive:
        archive.sync_registry(load(archive.settings, paths))
        report = capture_cycle(archive, None)
        if sample and archive.counts()["versions"] == 0:
            import_sample(archive)
        build(archive)
        analyse(archive, full=False)
        with archive.sessions() as session:
            verified = verify_archive(session, archive.store)
        counts = archive.counts()
    out.print(f"capture cycle: {json.dumps(report.summary(), sort_keys=True)}")
    out.print(f"archive: {json.dumps(counts)}; verify: {'ok' if verified.ok else 'FAILED'}")
    if not verified.ok:
        raise typer.Exit(1)


def reextract_cmd(ids: DocIds = None, data_dir: DataDir = None) -> None:
    """Rebuild current texts from stored snapshots (after an extractor or declaration change).
    Differences are recorded as technical versions, never as changes."""
    from clausewatch.archive.reextract import reextract
    from clausewatch.provisions.cli import build

    with open_archive(data_dir) as archive:
        documents = select_documents(archive, ids, what="re-extract")
        with progress_bar() as bar:
            task = bar.add_task("re-extracting", total=len(documents))
            report = reextract(archive, documents, progress=lambda: bar.advance(task))
        build(archive)
    out.print(
        f"unchanged: {report.unchanged}, technical versions: {len(report.technical)}, "
        f"skipped: {len(report.skipped)}"
    )
    for doc_id, why in report.skipped.items():
        out.print(f"  {doc_id}: {why}", markup=False)


def verify(data_dir: DataDir = None) -> None:
    """Re-hash every snapshot and version and check the capture log's hash chain."""
    from clausewatch.archive.evidence import verify_archive

    with open_archive(data_dir) as archive, archive.sessions() as session, progress_bar() as bar:
        task = bar.add_task("verifying", total=archive.counts()["captures"])
        report = verify_archive(session, archive.store, progress=lambda n: bar.advance(task, n))
    for problem in report.problems:
        out.print(f"[red]{problem.record}[/red]: {problem.what}", highlight=False)
    out.print(
        f"captures: {report.captures}, versions: {report.versions}, "
        f"blobs re-hashed: {report.snapshots_checked}, problems: {len(report.problems)}"
    )
    if not report.ok:
        raise typer.Exit(1)


# -- documents ------------------------------------------------------------------------------


@documents_app.command("list")
def documents_list(
    platform: PlatformOption = None,
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """List documents with their current version and last verification."""
    with open_archive(data_dir) as archive:
        only = find_platform(archive, platform).id if platform is not None else None
        rows = [
            {
                "id": d.public_id,
                "platform": d.platform.slug,
                "type": d.doc_type,
                "active": d.active,
                "current_version": d.current_version.public_id if d.current_version else None,
                "last_checked_at": iso(d.last_checked_at),
                "last_verified_at": iso(d.last_verified_at),
            }
            for d in archive.documents(active_only=False)
            if only is None or d.platform_id == only
        ]
    if fmt == "json":
        emit(rows, fmt)
        return
    emit(
        [r | {"type": r["type"] + ("" if r["active"] else " (inactive)")} for r in rows],
        fmt,
        [
            Col("id"),
            Col("platform", kind="key"),
            Col("type", kind="text"),
            Col("current_version", "current", kind="key"),
            Col("last_checked_at", "checked", kind="date"),
            Col("last_verified_at", "verified", kind="date"),
        ],
    )


@documents_app.command("show")
def documents_show(
    document: Annotated[str, typer.Argument(help="Document ID (D-00001).")],
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """A document's versions and captures, with Web Archive links."""
    from clausewatch.archive.evidence import wayback_url
    from clausewatch.ids import format_id

    doc_id = parse_public_id(document, "D")
    with open_archive(data_dir) as archive:
        try:
            doc = archive.document(doc_id)
        except LookupError as exc:
            raise fail(str(exc)) from exc
        versions = [
            {
                "id": v.public_id,
                "kind": v.kind,
                "status": v.status,
                "recorded_at": iso(v.recorded_at),
                "sha256": v.text_sha256,
                "predecessor": format_id("V", v.predecessor_id) if v.predecessor_id else None,
            }
            for v in archive.versions(doc_id)
        ]
        captures = [
            {
                "id": c.public_id,
                "at": iso(c.started_at),
                "url": c.url,
                "status": c.status_code,
                "fetcher": c.fetcher,
                "outcome": c.outcome,
                "reason": c.reason,
                "snapshot_sha256": c.snapshot_sha256,
                "version": format_id("V", c.version_id) if c.version_id else None,
                "web_archive": wayback_url(c.url, c.started_at)
                if c.url.startswith("http")
                else None,
            }
            for c in archive.captures(doc_id)
        ]
    if fmt == "json":
        out.print_json(
            json.dumps({"id": doc.public_id, "versions": versions, "captures": captures})
        )
        return
    out.print(f"{doc.public_id} {doc.platform.name} / {doc.doc_type}", markup=False)
    emit(versions, fmt)
    emit(
        [c | {"url / reason": c["reason"] or c["url"]} for c in captures],
        fmt,
        [
            Col("id"),
            Col("at", kind="time"),
            Col("outcome", kind="key"),
            Col("version"),
            Col("url / reason", kind="text"),
        ],
    )


@documents_app.command("audit")
def documents_audit(
    retract: Annotated[
        bool, typer.Option("--retract", help="Retract junk current versions (kept as evidence).")
    ] = False,
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """Versions the quality gate refuses today (error pages, walls, stubs recorded before a rule
    existed); with --retract, junk current versions are retracted and the version before is
    current again. Exit 1 while junk is left."""
    from clausewatch.archive.audit import audit_versions, retract_version
    from clausewatch.ids import format_id

    with open_archive(data_dir) as archive:
        found = list(audit_versions(archive))
        rows = []
        for junk in found:
            action = "kept: later versions were aligned through it (re-import to rebuild)"
            if junk.retractable and retract:
                retract_version(archive, junk.version_id, junk.reason)
                action = "retracted"
            elif junk.retractable:
                action = "retractable (--retract)"
            rows.append(
                {
                    "version": format_id("V", junk.version_id),
                    "document": format_id("D", junk.document_id),
                    "reason": junk.reason,
                    "action": action,
                }
            )
    emit(
        rows,
        fmt,
        [Col("version"), Col("document"), Col("reason", kind="text"), Col("action", kind="text")],
    )
    if fmt != "json":
        out.print(f"junk versions: {len(rows)}", highlight=False)
    if any(r["action"] != "retracted" for r in rows):
        raise typer.Exit(1)


@documents_app.command("text")
def documents_text(
    version: Annotated[
        str,
        typer.Argument(help="Version ID (V-000001), or a document ID (D-00001): its current one."),
    ],
    data_dir: DataDir = None,
) -> None:
    """Print the archived text of a version (of a document's current version, given a D- ID)."""
    from clausewatch.ids import parse_id
    from clausewatch.storage.models import Version

    try:
        parse_id(version)
    except ValueError as exc:
        raise fail(f"{exc}: `documents text` takes a version ID (V-000001)") from exc
    if version.strip().upper().startswith("D-"):
        number = parse_public_id(version, "D")
        with open_archive(data_dir) as archive:
            try:
                doc = archive.document(number)
            except LookupError as exc:
                raise fail(f"{exc} in the archive (`clausewatch documents list`)") from exc
            if doc.current_version is None:
                raise fail(f"{doc.public_id} has no archived version yet")
            out.print(
                archive.version_text(doc.current_version),
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        return
    number = parse_public_id(version, "V")
    with open_archive(data_dir) as archive, archive.sessions() as session:
        row = session.get(Version, number)
        if row is None:
            raise fail(f"no version {version} in the archive")
        out.print(archive.version_text(row), markup=False, highlight=False, soft_wrap=True)


# -- exports --------------------------------------------------------------------------------


@export_app.command("warc")
def export_warc_cmd(
    output: Annotated[Path, typer.Argument(help="Output .warc.gz file.")],
    document: Annotated[str | None, typer.Option(help="Only this document (D-00001).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Write captures as a WARC file readable by standard web-archive tools."""
    from clausewatch.archive.evidence import export_warc

    doc_id = parse_public_id(document, "D") if document else None
    with open_archive(data_dir) as archive:
        if doc_id is not None:
            try:
                archive.document(doc_id)
            except LookupError as exc:
                raise fail(str(exc)) from exc
        with archive.sessions() as session:
            written = export_warc(session, archive.store, output, document_id=doc_id)
    out.print(f"wrote {written} WARC response records to {output}", highlight=False)


Force = Annotated[bool, typer.Option("--force", help="Write over an existing, non-empty OUT.")]
Tables = Annotated[
    list[str] | None,
    typer.Option(
        "--table",
        help="Only this table (repeatable): platforms, documents, versions, provisions, "
        "classifications, changes.",
    ),
]


def _bulk_export(
    kind: str, output: Path, tables: list[str] | None, force: bool, data_dir: Any
) -> Any:
    from clausewatch import exports

    with open_archive(data_dir) as archive:
        try:
            exports.check_output(output, force=force)
            totals = exports.table_counts(archive, ["versions"] if kind == "ota-zip" else tables)
        except exports.ExportError as exc:
            raise fail(str(exc)) from exc
        with progress_bar() as bar:
            tasks = {name: bar.add_task(name, total=n) for name, n in totals.items()}

            def advance(table: str, rows: int) -> None:
                bar.advance(tasks[table], rows)

            try:
                if kind == "ota-zip":
                    return exports.export_ota_zip(archive, output, force=True, progress=advance)
                writer = exports.export_jsonl if kind == "jsonl" else exports.export_parquet
                return writer(archive, output, tables=tables, force=True, progress=advance)
            except exports.ExportError as exc:
                raise fail(str(exc)) from exc


def _report_tables(manifest: dict[str, Any], output: Path) -> None:
    rows = ", ".join(f"{name}: {t['rows']}" for name, t in manifest["tables"].items())
    out.print(f"wrote {rows} to {output} (manifest.json)", highlight=False)


@export_app.command("jsonl")
def export_jsonl_cmd(
    output: Annotated[Path, typer.Argument(help="Output folder (one .jsonl per table).")],
    tables: Tables = None,
    force: Force = False,
    data_dir: DataDir = None,
) -> None:
    """Write platforms, documents, versions, provisions, classifications and change records as
    JSON lines, with manifest.json (counts, SHA-256 of each file, licence)."""
    _report_tables(_bulk_export("jsonl", output, tables, force, data_dir), output)


@export_app.command("parquet")
def export_parquet_cmd(
    output: Annotated[Path, typer.Argument(help="Output folder (one .parquet per table).")],
    tables: Tables = None,
    force: Force = False,
    data_dir: DataDir = None,
) -> None:
    """The same tables as `export jsonl`, as Parquet files (zstd), with manifest.json."""
    _report_tables(_bulk_export("parquet", output, tables, force, data_dir), output)


@export_app.command("ota-zip")
def export_ota_zip_cmd(
    output: Annotated[Path, typer.Argument(help="Output .zip file.")],
    force: Force = False,
    data_dir: DataDir = None,
) -> None:
    """Write every version as an Open Terms Archive dataset zip
    (<name>/<service>/<terms type>/<date>.md, README.md, LICENSE), readable by `import`."""
    result = _bulk_export("ota-zip", output, None, force, data_dir)
    skipped = f" ({result['skipped']} left out: same second)" if result["skipped"] else ""
    out.print(f"wrote {result['versions']} versions to {output}{skipped}", highlight=False)
