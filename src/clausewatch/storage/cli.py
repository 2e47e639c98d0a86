"""`clausewatch db …`: the database schema."""

from __future__ import annotations

import typer

from clausewatch.cli_common import DataDir, out, settings_for

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Create or migrate the database schema to the latest revision."""
    from clausewatch.storage.db import make_engine
    from clausewatch.storage.migrate import current_revision, upgrade

    settings = settings_for(data_dir)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    out.print(f"schema at revision {current_revision(engine)} ({engine.url.render_as_string()})")
