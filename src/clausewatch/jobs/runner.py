"""The long-running commands: `clausewatch worker`, `clausewatch scheduler` and `clausewatch up`.

`up` is the single-machine deployment: the scheduler (a thread), a Huey consumer (worker
threads) and, when the web app is installed, `clausewatch serve` as a child process, all in one
process group. SIGINT (Ctrl-C) or SIGTERM stops everything: the scheduler stops enqueuing, the
web child gets SIGTERM, running tasks get `SHUTDOWN_TIMEOUT` seconds to finish; a task cut short
is re-run later (tasks are idempotent and nothing is half-written).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from huey import Huey

from clausewatch.config import Settings
from clausewatch.jobs.engine import BackgroundConsumer, create_consumer, make_huey
from clausewatch.jobs.scheduler import TICK_SECONDS, Scheduler

log = logging.getLogger("clausewatch.jobs")

SHUTDOWN_TIMEOUT = 30.0


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run_worker(settings: Settings, workers: int) -> None:
    """A Huey consumer in this process's main thread (it owns SIGINT: finish running tasks and
    stop; SIGTERM: stop now; SIGHUP: restart)."""
    huey = make_huey(settings)
    try:
        create_consumer(huey, workers).run()
    finally:
        tasks_context_close(huey)


def run_scheduler(settings: Settings, *, once: bool = False, interval: float = TICK_SECONDS) -> int:
    """Tick every `interval` seconds until SIGINT/SIGTERM; with `once`, one tick. Returns the
    number of captures enqueued by a single tick (0 for a loop)."""
    from clausewatch.archive.service import Archive

    huey = make_huey(settings)
    archive = Archive.open(settings)
    scheduler = Scheduler(archive, huey, interval=interval)
    try:
        if once:
            report = scheduler.run_once()
            scheduler.lock.release()
            if not report.leader:
                log.info("another scheduler holds the leader lock: nothing enqueued")
            return len(report.captures)
        with _stop_on_signals(scheduler.stop):
            scheduler.run()
        return 0
    finally:
        archive.close()


def web_available() -> bool:
    try:
        return importlib.util.find_spec("clausewatch.web") is not None
    except ImportError:
        return False


def run_up(
    settings: Settings,
    *,
    workers: int,
    serve_args: Sequence[str] | None,
    interval: float = TICK_SECONDS,
) -> int:
    """Scheduler + worker (+ web) until SIGINT/SIGTERM; the exit status (0: clean stop)."""
    from clausewatch.archive.service import Archive

    huey = make_huey(settings)
    archive = Archive.open(settings)
    stop = threading.Event()
    scheduler = Scheduler(archive, huey, interval=interval)
    consumer = BackgroundConsumer(huey, workers, shutdown_timeout=SHUTDOWN_TIMEOUT)
    web: subprocess.Popen[bytes] | None = None
    status = 0
    with _stop_on_signals(stop.set):
        try:
            consumer.start()
            sched_thread = threading.Thread(target=scheduler.run, name="scheduler", daemon=True)
            sched_thread.start()
            if serve_args is not None:
                web = subprocess.Popen([sys.executable, "-m", "clausewatch", "serve", *serve_args])
            log.info(
                "up: scheduler, %d workers%s; Ctrl-C stops", workers, " and web" if web else ""
            )
            while not stop.wait(1.0):
                if web is not None and web.poll() is not None:
                    log.error("the web server exited with status %s; stopping", web.returncode)
                    status = 1
                    break
                if not sched_thread.is_alive():
                    log.error("the scheduler stopped unexpectedly; stopping")
                    status = 1
                    break
        except KeyboardInterrupt:
            pass
        finally:
            log.info("stopping: scheduler, web, then workers (running tasks may finish)")
            scheduler.stop()
            if web is not None and web.poll() is None:
                web.terminate()
                try:
                    web.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    web.kill()
                    web.wait()
            consumer.stop(graceful=True)
            tasks_context_close(huey)
            archive.close()
    return status


def tasks_context_close(huey: Huey) -> None:
    from clausewatch.jobs.tasks import tasks_of

    with contextlib.suppress(KeyError):
        tasks_of(huey).context.close()


class _stop_on_signals:
    """Call `stop` on SIGTERM and SIGINT (main thread only), restoring the handlers after."""

    def __init__(self, stop: Callable[[], None]) -> None:
        self.stop = stop
        self.saved: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(signum).name)
        self.stop()

    def __enter__(self) -> _stop_on_signals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self.saved[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.saved.items():
            signal.signal(signum, handler)
