"""`clausewatch`: a thin command line over the library."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clausewatch.config import Settings

app = typer.Typer(
    help="clausewatch: an evidence-grade archive of platform governance documents.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
registry_app = typer.Typer(
    help="Registry files: platforms and their documents.", no_args_is_help=True
)
documents_app = typer.Typer(help="Documents, their versions and captures.", no_args_is_help=True)
export_app = typer.Typer(help="Export the archive.", no_args_is_help=True)
provisions_app = typer.Typer(help="Provisions: clauses with permanent IDs.", no_args_is_help=True)
changes_app = typer.Typer(
    help="Change records: what changed, clause by clause.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(registry_app, name="registry")
app.add_typer(documents_app, name="documents")
app.add_typer(export_app, name="export")
app.add_typer(provisions_app, name="provisions")
app.add_typer(changes_app, name="changes")
from clausewatch.classify.cli import model_app  # noqa: E402

app.add_typer(model_app, name="model")
analysis_app = typer.Typer(
    help="Analysis: severity, rarity, comparisons across platforms, regulations.",
    no_args_is_help=True,
)
app.add_typer(analysis_app, name="analysis")
from clausewatch.accounts.cli import accounts_app  # noqa: E402

app.add_typer(accounts_app, name="accounts")

console = Console(stderr=True)
out = Console()

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data folder (default ./data or the config).")
]
DocIds = Annotated[
    list[str] | None, typer.Argument(help="Document IDs (D-00001 …); default: all active.")
]


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


def fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}", soft_wrap=True, highlight=False)
    return typer.Exit(2)


# -- db ---------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Create or migrate the database schema to the latest revision."""
    from clausewatch.storage.db import make_engine
    from clausewatch.storage.migrate import current_revision, upgrade

    settings = settings_for(data_dir)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    out.print(f"schema at revision {current_revision(engine)} ({engine.url.render_as_string()})")


# -- registry ---------------------------------------------------------------------------------


def _registry(settings: Settings, paths: list[Path] | None = None) -> list[Any]:
    from clausewatch.registry.loader import load_registry, starter_registry_path

    chosen = paths or settings.registry_paths or [starter_registry_path()]
    return load_registry(chosen)


@registry_app.command("validate")
def registry_validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders.")] = None,
) -> None:
    """Validate registry files; errors name the file and the field."""
    from clausewatch.registry.loader import RegistryError

    try:
        platforms = _registry(Settings(), paths)
    except RegistryError as exc:
        raise fail(str(exc)) from exc
    documents = sum(len(p.documents) for p in platforms)
    out.print(f"ok: {len(platforms)} platforms, {documents} documents")


@registry_app.command("list")
def registry_list(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders.")] = None,
) -> None:
    """List the platforms and documents of the registry."""
    table = Table("slug", "name", "category", "documents")
    for platform in _registry(Settings(), paths):
        table.add_row(
            platform.slug,
            platform.name,
            platform.category,
            ", ".join(d.type for d in platform.documents),
        )
    out.print(table)


@registry_app.command("import-ota")
def registry_import_ota(
    declarations: Annotated[list[Path], typer.Argument(help="OTA declaration .json files.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the registry files.")],
    category: Annotated[str, typer.Option(help="Category for the imported platforms.")] = (
        "social-media"
    ),
) -> None:
    """Convert Open Terms Archive declarations into registry files."""
    from clausewatch.registry.ota import import_ota_declarations, write_registry

    result = import_ota_declarations(declarations, category=category)
    written = write_registry(result.platforms, out_dir)
    out.print(f"wrote {len(written)} registry files to {out_dir}")
    out.print(result.report(), markup=False, highlight=False)


@app.command("sync")
def sync(
    data_dir: DataDir = None,
    paths: Annotated[list[Path] | None, typer.Option("--registry", help="Registry paths.")] = None,
) -> None:
    """Load the registry into the archive (new platforms and documents, changed declarations)."""
    with open_archive(data_dir) as archive:
        report = archive.sync_registry(_registry(archive.settings, paths))
    out.print(
        f"platforms added: {report.platforms_added}, documents added: {report.documents_added}, "
        f"declarations changed: {report.documents_updated}"
    )


# -- capture ----------------------------------------------------------------------------------


def _cycle(archive: Any, ids: list[str] | None) -> Any:
    from clausewatch.archive.cycle import CaptureCycle
    from clausewatch.capture import CaptureClient

    documents = archive.documents(ids=ids or ())
    if not documents:
        raise fail("no documents to check: run `clausewatch sync` first")

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


@app.command("check")
def check(ids: DocIds = None, data_dir: DataDir = None) -> None:
    """Capture documents now: fetch, extract, and record versions or verification events."""
    with open_archive(data_dir) as archive:
        report = _cycle(archive, ids)
        _build(archive)
    out.print(json.dumps(report.summary(), sort_keys=True))


@app.command("run")
def run(
    data_dir: DataDir = None,
    paths: Annotated[list[Path] | None, typer.Option("--registry", help="Registry paths.")] = None,
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
    from clausewatch.archive.evidence import verify_archive

    with open_archive(data_dir) as archive:
        archive.sync_registry(_registry(archive.settings, paths))
        report = _cycle(archive, None)
        if sample and archive.counts()["versions"] == 0:
            _import_sample(archive)
        _build(archive)
        _analyse(archive, full=False)
        with archive.sessions() as session:
            verified = verify_archive(session, archive.store)
        counts = archive.counts()
    out.print(f"capture cycle: {json.dumps(report.summary(), sort_keys=True)}")
    out.print(f"archive: {json.dumps(counts)}; verify: {'ok' if verified.ok else 'FAILED'}")
    if not verified.ok:
        raise typer.Exit(1)


def _import_sample(archive: Any) -> None:
    from clausewatch.importers.sample import SAMPLE_CREDIT, SAMPLE_PATH, import_sample

    out.print(
        "no version could be captured (no network?) and the archive is empty: importing the "
        f"bundled sample of real history ({SAMPLE_PATH.name}; {SAMPLE_CREDIT})",
        soft_wrap=True,
        highlight=False,
    )
    with progress_bar() as bar:
        task = bar.add_task("importing the sample", total=None)
        report = import_sample(archive, progress=lambda _r: bar.advance(task))
    out.print(
        f"sample: {report.records} records, {len(report.documents)} documents; "
        "building provisions and analysing them",
        highlight=False,
    )


@app.command("extract")
def extract_cmd(
    files: Annotated[list[Path], typer.Argument(help="Local HTML or PDF files (combined).")],
) -> None:
    """Print the Markdown the automatic extractor makes of local files."""
    from clausewatch.extract import ExtractionError, extract_files

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise fail(f"not a file: {', '.join(missing)}")
    try:
        out.print(extract_files(files), markup=False, highlight=False, soft_wrap=True)
    except ExtractionError as exc:
        raise fail(str(exc)) from exc


@app.command("reextract")
def reextract_cmd(ids: DocIds = None, data_dir: DataDir = None) -> None:
    """Rebuild current texts from stored snapshots (after an extractor or declaration change).
    Differences are recorded as technical versions, never as changes."""
    from clausewatch.archive.reextract import reextract

    with open_archive(data_dir) as archive:
        documents = archive.documents(ids=ids or ())
        with progress_bar() as bar:
            task = bar.add_task("re-extracting", total=len(documents))
            report = reextract(archive, documents, progress=lambda: bar.advance(task))
        _build(archive)
    out.print(
        f"unchanged: {report.unchanged}, technical versions: {len(report.technical)}, "
        f"skipped: {len(report.skipped)}"
    )
    for doc_id, why in report.skipped.items():
        out.print(f"  {doc_id}: {why}")


# -- import -----------------------------------------------------------------------------------


@app.command("import")
def import_cmd(
    sources: Annotated[
        list[Path],
        typer.Argument(help="OTA dataset .zip, *-versions git clone, or .jsonl[.xz] export."),
    ],
    data_dir: DataDir = None,
    category: Annotated[str, typer.Option(help="Category for new platforms.")] = "social-media",
) -> None:
    """Import Open Terms Archive history (idempotent: records already imported are skipped)."""
    from clausewatch.importers.ota import ImportFormatError, detect_source, import_history

    with open_archive(data_dir) as archive:
        for source in sources:
            try:
                reader = detect_source(source)
            except ImportFormatError as exc:
                raise fail(str(exc)) from exc
            failure: ImportFormatError | None = None
            with progress_bar() as bar:
                task = bar.add_task(f"importing {source.name}", total=None)
                try:
                    report = import_history(
                        archive,
                        reader(source),
                        category=category,
                        progress=lambda _r, t=task: bar.advance(t),  # type: ignore[misc]
                    )
                except ImportFormatError as exc:
                    failure = exc
            built = _build(archive)  # what was imported before a fault too
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
                f"change records: {built.change_records}"
            )


# -- evidence ---------------------------------------------------------------------------------


@app.command("verify")
def verify(data_dir: DataDir = None) -> None:
    """Re-hash every snapshot and version and check the capture log's hash chain."""
    from clausewatch.archive.evidence import verify_archive

    with open_archive(data_dir) as archive, archive.sessions() as session, progress_bar() as bar:
        task = bar.add_task("verifying", total=archive.counts()["captures"])
        report = verify_archive(session, archive.store, progress=lambda n: bar.advance(task, n))
    for problem in report.problems:
        out.print(f"[red]{problem.record}[/red]: {problem.what}")
    out.print(
        f"captures: {report.captures}, versions: {report.versions}, "
        f"blobs re-hashed: {report.snapshots_checked}, problems: {len(report.problems)}"
    )
    if not report.ok:
        raise typer.Exit(1)


@export_app.command("warc")
def export_warc_cmd(
    output: Annotated[Path, typer.Argument(help="Output .warc.gz file.")],
    document: Annotated[str | None, typer.Option(help="Only this document (D-00001).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Write captures as a WARC file readable by standard web-archive tools."""
    from clausewatch.archive.evidence import export_warc
    from clausewatch.ids import parse_id

    doc_id = parse_id(document, "D") if document else None
    with open_archive(data_dir) as archive, archive.sessions() as session:
        written = export_warc(session, archive.store, output, document_id=doc_id)
    out.print(f"wrote {written} WARC response records to {output}")


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


# -- documents --------------------------------------------------------------------------------


@documents_app.command("list")
def documents_list(
    data_dir: DataDir = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """List documents with their current version and last verification."""
    with open_archive(data_dir) as archive:
        rows = [
            {
                "id": d.public_id,
                "platform": d.platform.slug,
                "type": d.doc_type,
                "active": d.active,
                "current_version": d.current_version.public_id if d.current_version else None,
                "last_checked_at": _iso(d.last_checked_at),
                "last_verified_at": _iso(d.last_verified_at),
            }
            for d in archive.documents(active_only=False)
        ]
    _emit(rows, fmt)


@documents_app.command("show")
def documents_show(
    document: Annotated[str, typer.Argument(help="Document ID (D-00001).")],
    data_dir: DataDir = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """A document's versions and captures, with Web Archive links."""
    from clausewatch.archive.evidence import wayback_url
    from clausewatch.ids import format_id, parse_id

    try:
        doc_id = parse_id(document, "D")
    except ValueError as exc:
        raise fail(str(exc)) from exc
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
                "recorded_at": _iso(v.recorded_at),
                "sha256": v.text_sha256,
                "predecessor": format_id("V", v.predecessor_id) if v.predecessor_id else None,
            }
            for v in archive.versions(doc_id)
        ]
        captures = [
            {
                "id": c.public_id,
                "at": _iso(c.started_at),
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
    out.print(f"{doc.public_id} {doc.platform.name} / {doc.doc_type}")
    _emit(versions, "table")
    _emit(captures, "table")


@documents_app.command("text")
def documents_text(
    version: Annotated[str, typer.Argument(help="Version ID (V-000001).")],
    data_dir: DataDir = None,
) -> None:
    """Print the archived text of a version."""
    from clausewatch.ids import parse_id
    from clausewatch.storage.models import Version

    with open_archive(data_dir) as archive, archive.sessions() as session:
        row = session.get(Version, parse_id(version, "V"))
        if row is None:
            raise fail(f"no version {version}")
        out.print(archive.version_text(row), markup=False, highlight=False, soft_wrap=True)


# -- provisions and change records ----------------------------------------------------------

Fmt = Annotated[str, typer.Option("--format", help="table or json")]


def _build(archive: Any) -> Any:
    from clausewatch.provisions.service import build

    with progress_bar() as bar:
        task = bar.add_task("segmenting and aligning", total=None)
        return build(
            archive,
            progress=lambda n: bar.advance(task, n),
            total=lambda n: bar.update(task, total=n),
        )


@provisions_app.command("build")
def provisions_build(data_dir: DataDir = None) -> None:
    """Segment new versions into provisions and record their change records (incremental)."""
    with open_archive(data_dir) as archive:
        report = _build(archive)
    out.print(
        f"versions: {report.versions}, new provisions: {report.provisions_created}, "
        f"change records: {report.change_records}"
    )


@provisions_app.command("list")
def provisions_list(
    document: Annotated[str | None, typer.Option(help="Only this document (D-00001).")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Include removed provisions.")] = False,
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """List provisions with their stability."""
    from clausewatch.provisions.queries import list_provisions

    with open_archive(data_dir) as archive:
        rows = list_provisions(archive, _doc_id(document), include_removed=everything)
    _emit(rows, fmt)


@provisions_app.command("show")
def provisions_show(
    provision: Annotated[str, typer.Argument(help="Provision ID (P-000001).")],
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """A provision: its text, revisions, parameters over time and stability."""
    from clausewatch.provisions.queries import provision_detail

    detail = _detail(provision_detail, provision, "P", data_dir)
    if fmt == "json":
        out.print_json(json.dumps(detail))
        return
    out.print(f"{detail['id']} {detail['title']}  [{detail['stability']}]")
    out.print(" › ".join(detail["heading_path"]))
    out.print(detail["text"], markup=False, highlight=False, soft_wrap=True)
    _emit(detail["revisions"], "table")
    if detail["parameters"]:
        _emit(detail["parameters"], "table")


@changes_app.command("list")
def changes_list(
    document: Annotated[str | None, typer.Option(help="Only this document (D-00001).")] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Include non-substantive and technical records.")
    ] = False,
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """List change records, newest first."""
    from clausewatch.provisions.queries import list_changes

    with open_archive(data_dir) as archive:
        rows = list_changes(archive, _doc_id(document), substantive_only=not everything)
    _emit(rows, fmt)


@changes_app.command("show")
def changes_show(
    change: Annotated[str, typer.Argument(help="Change record ID (C-000001).")],
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """A change record: the provisions it touches, with a word-level redline for each."""
    from clausewatch.provisions.queries import change_detail

    detail = _detail(change_detail, change, "C", data_dir)
    if fmt == "json":
        out.print_json(json.dumps(detail))
        return
    out.print(
        f"{detail['id']} {detail['document']} {detail['from_version']} → "
        f"{detail['to_version']} ({detail['status']})"
    )
    out.print(detail["summary"], markup=False, highlight=False)
    for item in detail["items"]:
        out.print(f"\n{item['kind']} {item['provision']} {item['title']}", markup=False)
        if item["redline"]:
            out.print(item["redline"], markup=False, highlight=False, soft_wrap=True)


# -- classification -------------------------------------------------------------------------


@app.command("classify")
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


# -- analysis -------------------------------------------------------------------------------


def _analyse(archive: Any, *, full: bool) -> Any:
    from clausewatch.analysis.service import analyse

    with progress_bar() as bar:
        task = bar.add_task("analysing", total=None)
        return analyse(
            archive,
            full=full,
            progress=lambda n: bar.advance(task, n),
            total=lambda n: bar.update(task, total=n),
        )


@app.command("analyse")
def analyse_cmd(
    full: Annotated[
        bool, typer.Option("--full", help="Redo everything, not only what is out of date.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Classify provisions and refresh rarity, similarity and change-record severity. Incremental:
    after a taxonomy or model update only the stale rows are redone."""
    with open_archive(data_dir) as archive:
        report = _analyse(archive, full=full)
    out.print(
        f"analyser {report.analyser}: revisions classified: {report.revisions} "
        f"({report.classifications} clause types), documents refreshed: {report.documents}, "
        f"change records assessed: {report.change_records}"
    )


@analysis_app.command("show")
def analysis_show(
    provision: Annotated[str, typer.Argument(help="Provision ID (P-000001).")],
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """A provision's analysis: clause types, severity and reasons, rarity, how other platforms
    handle it, regulations, other risks in the same document and the narrative."""
    from clausewatch.analysis.queries import provision_page_analysis

    detail = _detail(provision_page_analysis, provision, "P", data_dir)
    if fmt == "json":
        out.print_json(json.dumps(detail))
        return
    out.print(f"{detail['id']} {detail['title']} — {detail['platform']}", markup=False)
    out.print(f"severity: {detail['severity']}  ", markup=False)
    for reason in detail["severity_reasons"]:
        out.print(f"  · {reason}", markup=False)
    if detail["rarity"]:
        out.print(detail["rarity"]["label"], markup=False)
    _emit(
        [
            {k: c[k] for k in ("name", "confidence", "severity", "evidence_basis")}
            for c in detail["classifications"]
        ],
        "table",
    )
    narrative = detail.get("narrative")
    if narrative:
        for key in ("what_it_is", "why_it_matters", "consumer_impact"):
            out.print(f"\n{key.replace('_', ' ').capitalize()}: {narrative[key]}", markup=False)
    if detail["how_others_handle"]:
        _emit(
            [
                {k: o[k] for k in ("platform", "id", "severity", "similarity")}
                for o in detail["how_others_handle"]
            ],
            "table",
        )
    _emit(detail["regulations"], "table")


@analysis_app.command("types")
def analysis_types(data_dir: DataDir = None, fmt: Fmt = "table") -> None:
    """Every clause type with the number of platforms and provisions that have it."""
    from clausewatch.analysis.queries import clause_type_summary

    with open_archive(data_dir) as archive:
        rows = clause_type_summary(archive)
    if fmt != "json":
        keys = ("type", "default_severity", "provisions", "label")
        rows = [{k: row[k] for k in keys} for row in rows]
    _emit(rows, fmt)


def _lookup(query: Callable[..., dict[str, Any]], *args: Any, data_dir: Path | None) -> Any:
    with open_archive(data_dir) as archive:
        try:
            return query(archive, *args)
        except (LookupError, ValueError) as exc:
            raise fail(str(exc)) from exc


@analysis_app.command("type")
def analysis_type(
    clause_type: Annotated[str, typer.Argument(help="Clause type id (arbitration).")],
    data_dir: DataDir = None,
) -> None:
    """One clause type: rarity, severity mix, regulations and the platforms that have it (JSON)."""
    from clausewatch.analysis.queries import clause_type_hub

    out.print_json(json.dumps(_lookup(clause_type_hub, clause_type, data_dir=data_dir)))


@analysis_app.command("compare")
def analysis_compare(
    clause_type: Annotated[str, typer.Argument(help="Clause type id (arbitration).")],
    platforms: Annotated[list[str], typer.Argument(help="2 to 4 platform slugs.")],
    data_dir: DataDir = None,
    fmt: Fmt = "table",
) -> None:
    """Compare 2–4 platforms for one clause type."""
    from clausewatch.analysis.queries import compare

    result = _lookup(compare, clause_type, platforms, data_dir=data_dir)
    if fmt == "json":
        out.print_json(json.dumps(result))
        return
    out.print(f"{result['name']}: {result['rarity']['label']}", markup=False)
    _emit(
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

    result = _lookup(matrix, types or [], platforms or [], data_dir=data_dir)
    if fmt == "json":
        out.print_json(json.dumps(result))
        return
    rows = [
        {"platform": r["platform"]}
        | {t: c["state"] + (" (opt-out)" if c["opt_out"] else "") for t, c in r["cells"].items()}
        for r in result["rows"]
    ]
    _emit(rows, "table")


@app.command("search")
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
    from rich.text import Text

    out.print(f"{result['total']} matching provisions", markup=False, highlight=False)
    if not result["items"]:
        return
    table = Table("id", "platform", "document", "severity", "title", "snippet")
    for item in result["items"]:  # archived text as Text: never read as rich markup
        snippet = Text()
        for part in item["snippet_parts"]:
            snippet.append(part["text"], style="bold" if part["match"] else "")
        table.add_row(
            item["id"],
            Text(item["platform"]),
            Text(item["document_type"]),
            item["severity"] or "",
            Text(item["title"]),
            snippet,
        )
    out.print(table)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: DataDir = None,
) -> None:
    """Serve the web site and the JSON API (/api/v1) over the archive."""
    import uvicorn

    from clausewatch.web import create_app

    out.print(f"serving http://{host}:{port}/ (API: /api/v1, OpenAPI: /api/v1/openapi.json)")
    uvicorn.run(create_app(settings_for(data_dir)), host=host, port=port, log_level="info")


# -- background work (docs/jobs.md) -----------------------------------------------------------

Workers = Annotated[
    int | None, typer.Option("--workers", "-n", min=1, help="Worker threads (default: setting).")
]


@app.command("worker")
def worker_cmd(workers: Workers = None, data_dir: DataDir = None) -> None:
    """Run a task worker (Huey consumer) on the configured queue; start as many as needed."""
    from clausewatch.jobs.runner import configure_logging, run_worker

    settings = settings_for(data_dir)
    configure_logging()
    run_worker(settings, workers or settings.workers)


@app.command("scheduler")
def scheduler_cmd(
    once: Annotated[bool, typer.Option("--once", help="One tick, then exit.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Enqueue the captures that are due, every minute. Run exactly one per queue: a second one
    waits on the leader lock."""
    from clausewatch.jobs.runner import configure_logging, run_scheduler

    configure_logging()
    enqueued = run_scheduler(settings_for(data_dir), once=once)
    if once:
        out.print(f"enqueued {enqueued} captures")


@app.command("up")
def up(
    workers: Workers = None,
    web: Annotated[bool, typer.Option("--web/--no-web", help="Also serve the web site.")] = True,
    host: Annotated[str, typer.Option(help="Web address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Web port to listen on.")] = 8000,
    data_dir: DataDir = None,
    paths: Annotated[list[Path] | None, typer.Option("--registry", help="Registry paths.")] = None,
) -> None:
    """The main command on one machine: sync the registry, then run the scheduler, workers and
    the web site together until Ctrl-C or SIGTERM."""
    from clausewatch.jobs.runner import configure_logging, run_up, web_available

    settings = settings_for(data_dir)
    configure_logging()
    with open_archive(data_dir) as archive:
        archive.sync_registry(_registry(archive.settings, paths))
    serve_args = None
    if web and web_available():
        serve_args = ["--host", host, "--port", str(port)]
        serve_args += ["--data-dir", str(data_dir)] if data_dir else []
    status = run_up(settings, workers=workers or settings.workers, serve_args=serve_args)
    raise typer.Exit(status)


def _detail(
    query: Callable[[Any, int], dict[str, Any]], public_id: str, prefix: str, data_dir: Path | None
) -> dict[str, Any]:
    """Run a detail query for one public ID; a malformed or unknown ID is a clear error."""
    from clausewatch.ids import parse_id

    try:
        number = parse_id(public_id, prefix)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    with open_archive(data_dir) as archive:
        try:
            return query(archive, number)
        except LookupError as exc:
            raise fail(str(exc)) from exc


def _doc_id(document: str | None) -> int | None:
    from clausewatch.ids import parse_id

    if document is None:
        return None
    try:
        return parse_id(document, "D")
    except ValueError as exc:
        raise fail(str(exc)) from exc


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _emit(rows: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        out.print_json(json.dumps(rows))
        return
    if not rows:
        out.print("(none)")
        return
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    out.print(table)


def main() -> None:
    app()
