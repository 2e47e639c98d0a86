"""`clausewatch registry …` and `clausewatch sync`: registry files and loading them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from clausewatch.cli_common import Col, DataDir, Registry, emit, fail, open_archive, out
from clausewatch.config import Settings

registry_app = typer.Typer(
    help="Registry files: platforms and their documents.", no_args_is_help=True
)
Paths = Annotated[list[Path] | None, typer.Argument(help="Files or folders.")]


def load(settings: Settings, paths: list[Path] | None = None) -> list[Any]:
    """The registry: ``paths``, else the configured paths, else the starter registry."""
    from clausewatch.registry.loader import RegistryError, load_registry, starter_registry_path

    chosen = paths or settings.registry_paths or [starter_registry_path()]
    try:
        return load_registry(chosen)
    except RegistryError as exc:
        raise fail([str(issue) for issue in exc.issues] or str(exc)) from exc


@registry_app.command("validate")
def registry_validate(paths: Paths = None) -> None:
    """Validate registry files; errors name the file and the field."""
    platforms = load(Settings(), paths)
    documents = sum(len(p.documents) for p in platforms)
    out.print(f"ok: {len(platforms)} platforms, {documents} documents")


@registry_app.command("list")
def registry_list(paths: Paths = None) -> None:
    """List the platforms and documents of the registry."""
    rows = [
        {
            "slug": platform.slug,
            "name": platform.name,
            "category": platform.category,
            "documents": ", ".join(d.type for d in platform.documents),
        }
        for platform in load(Settings(), paths)
    ]
    emit(rows, "table", [Col("slug", kind="key"), Col("name"), Col("category"), Col("documents")])


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


def sync(data_dir: DataDir = None, paths: Registry = None) -> None:
    """Load the registry into the archive (new platforms and documents, changed declarations)."""
    with open_archive(data_dir) as archive:
        report = archive.sync_registry(load(archive.settings, paths))
    out.print(
        f"platforms added: {report.platforms_added}, documents added: {report.documents_added}, "
        f"declarations changed: {report.documents_updated}"
    )
