"""`clausewatch`: a thin command line over the library.

The commands live beside their stage (``registry/cli.py``, ``archive/cli.py``,
``provisions/cli.py``, …; shared helpers in :mod:`clausewatch.cli_common`); this module only
registers them. Any error a command meets ends as one ``error:`` line on standard error and a
non-zero exit, never a traceback (:class:`~clausewatch.cli_common.GuardedGroup`).
"""

from __future__ import annotations

import typer

from clausewatch.accounts.cli import accounts_app
from clausewatch.analysis.cli import analyse_cmd, analysis_app, classify_cmd
from clausewatch.archive.cli import (
    check,
    documents_app,
    export_app,
    reextract_cmd,
    run,
    verify,
)
from clausewatch.changes.cli import changes_app
from clausewatch.classify.cli import model_app
from clausewatch.cli_common import (  # noqa: F401  (re-exported for the stage modules)
    GuardedGroup,
    console,
    fail,
    open_archive,
    out,
    progress_bar,
    settings_for,
)
from clausewatch.extract.cli import extract_cmd
from clausewatch.importers.cli import import_cmd
from clausewatch.jobs.cli import scheduler_cmd, up, worker_cmd
from clausewatch.provisions.cli import provisions_app
from clausewatch.registry.cli import registry_app, sync
from clausewatch.search.cli import search_cmd
from clausewatch.storage.cli import db_app
from clausewatch.web.cli import serve

app = typer.Typer(
    help="clausewatch: an evidence-grade archive of platform governance documents.",
    no_args_is_help=True,
    add_completion=False,
    cls=GuardedGroup,
    pretty_exceptions_enable=False,
)

app.add_typer(db_app, name="db")
app.add_typer(registry_app, name="registry")
app.add_typer(documents_app, name="documents")
app.add_typer(export_app, name="export")
app.add_typer(provisions_app, name="provisions")
app.add_typer(changes_app, name="changes")
app.add_typer(model_app, name="model")
app.add_typer(analysis_app, name="analysis")
app.add_typer(accounts_app, name="accounts")

app.command("sync")(sync)
app.command("check")(check)
app.command("run")(run)
app.command("extract")(extract_cmd)
app.command("reextract")(reextract_cmd)
app.command("import")(import_cmd)
app.command("verify")(verify)
app.command("classify")(classify_cmd)
app.command("analyse")(analyse_cmd)
app.command("search")(search_cmd)
app.command("serve")(serve)
app.command("worker")(worker_cmd)
app.command("scheduler")(scheduler_cmd)
app.command("up")(up)


def main() -> None:
    app()
