"""`clausewatch worker`, `scheduler` and `up`: background work (docs/jobs.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from clausewatch.cli_common import DataDir, Registry, open_archive, out, settings_for

Workers = Annotated[
    int | None, typer.Option("--workers", "-n", min=1, help="Worker threads (default: setting).")
]


def worker_cmd(workers: Workers = None, data_dir: DataDir = None) -> None:
    """Run a task worker (Huey consumer) on the configured queue; start as many as needed."""
    from clausewatch.jobs.runner import configure_logging, run_worker

    settings = settings_for(data_dir)
    configure_logging()
    run_worker(settings, workers or settings.workers)


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


def up(
    workers: Workers = None,
    web: Annotated[bool, typer.Option("--web/--no-web", help="Also serve the web site.")] = True,
    host: Annotated[str, typer.Option(help="Web address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Web port to listen on.")] = 8000,
    data_dir: DataDir = None,
    paths: Registry = None,
) -> None:
    """The main command on one machine: sync the registry, then run the scheduler, workers and
    the web site together until Ctrl-C or SIGTERM."""
    from clausewatch.jobs.runner import configure_logging, run_up, web_available
    from clausewatch.registry.cli import load

    settings = settings_for(data_dir)
    serve_args = None
    if web and web_available():
        from clausewatch.web.cli import listen

        listen(host, port).close()  # a busy port or a bad address fails now, in one line
        serve_args = ["--host", host, "--port", str(port)]
        serve_args += ["--data-dir", str(data_dir)] if data_dir else []
    configure_logging()
    with open_archive(data_dir) as archive:
        archive.sync_registry(load(archive.settings, paths))
    status = run_up(settings, workers=workers or settings.workers, serve_args=serve_args)
    raise typer.Exit(status)
