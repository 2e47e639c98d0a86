"""`clausewatch db …`: the database schema."""

from __future__ import annotations

import typer

from clausewatch.cli_common import DataDir, out, settings_for

db_app = typer.Typer(help="Database schema and snapshot pack format.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Create or migrate the database schema to the latest revision (a SQLite database that
    was migrated is rebuilt, giving back the pages migrations freed); copy a snapshot pack of
    format 1 into format 2 (stop the server and workers first)."""
    from clausewatch.storage.db import make_engine, vacuum
    from clausewatch.storage.migrate import current_revision, upgrade

    settings = settings_for(data_dir)
    engine = make_engine(settings.resolved_database_url)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    out.print(f"schema at revision {after} ({engine.url.render_as_string()})")
    if before is not None and before != after:  # migrations that rewrote rows free pages
        print_rebuilt(vacuum(engine))
    _upgrade_store(settings.resolved_snapshot_store)


def print_rebuilt(sizes: tuple[int, int] | None) -> None:
    """Say what a `VACUUM` of the database did (nothing when it was not run)."""
    if sizes is not None:
        out.print(f"database rebuilt: {sizes[0] / 1e6:.1f} MB -> {sizes[1] / 1e6:.1f} MB")


def _upgrade_store(url: str) -> None:
    """A local snapshot store's pack to the current format (archive/snapshots.py)."""
    from clausewatch.archive.snapshots import LocalSnapshotStore, open_store, upgrade_pack

    store = open_store(url)
    if not isinstance(store, LocalSnapshotStore):
        return
    done = upgrade_pack(store)
    if done is not None:
        mb = 1e6
        out.print(
            f"snapshot store {store.pack_path}: {done.objects} objects copied into format 2,"
            f" {done.bytes_before / mb:.2f} MB -> {done.bytes_after / mb:.2f} MB"
        )
