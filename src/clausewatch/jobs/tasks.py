"""The tasks: idempotent, and they take only IDs (payloads are pickled; keep the queue private).

    capture_document(document_id, as_of=None) → derive(document_id) → dispatch_alerts()

- `capture_document` holds a per-document lock (so two workers never fetch one document at once),
  re-checks inside the lock that the document is still active and due (so a duplicate message
  fetches nothing), then runs one check through the capture cycle, which records through the
  archive's single write path in one transaction. A crash before that transaction leaves the
  document exactly as it was: still due, so the next tick enqueues it again.
- `derive` brings provisions, change records and their analysis up to date. Both stages are
  incremental and idempotent, and they are global, so one derive runs at a time (a lock; a
  derive that finds it taken retries shortly after) and a burst of new versions enqueues one.
- `dispatch_alerts` is the hook the alerts and digests work fills (`dispatch_alerts_for`); it runs
  after every derive that may have produced change records.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from huey import Huey
from huey.api import TaskWrapper
from huey.exceptions import RetryTask, TaskLockedException

from clausewatch.archive.decide import Outcome
from clausewatch.config import Settings
from clausewatch.jobs.engine import ExpiringLock, clear_enqueued, lock, mark_enqueued
from clausewatch.storage.db import utcnow

if TYPE_CHECKING:
    from clausewatch.archive.service import Archive, CheckRecord
    from clausewatch.storage.models import Document

log = logging.getLogger(__name__)
T = TypeVar("T")

# A capture's document and host locks are leases renewed every third of this while the check
# runs (however long its retries and confirming fetch take): a dead worker's locks free the
# document and its hosts after at most this long.
CAPTURE_LOCK_TTL = 90
DERIVE_LOCK_TTL = 2 * 60 * 60
ALERTS_LOCK_TTL = 30 * 60
# A message enqueued this long ago without its task finishing is taken as lost: re-enqueued.
REQUEUE_AFTER = 60 * 60
DERIVE_RETRY_DELAY = 15
# Outcomes after which provisions or change records may be out of date.
DERIVE_AFTER = frozenset(
    {Outcome.FIRST_VERSION, Outcome.NEW_VERSION, Outcome.TECHNICAL, Outcome.FLIP_FLOP}
)

FetcherFactory = Callable[[Settings], Any]  # → an object with `async fetch(req)`, `async aclose()`


def _default_fetcher(settings: Settings) -> Any:
    from clausewatch.capture import CaptureClient

    return CaptureClient.from_settings(settings)


class CaptureLoop:
    """The capture stage of one worker process: an event loop in its own thread, one fetcher and
    one `CaptureCycle` whose records go through a `BatchRecorder`. Each worker thread hands its
    document to the loop and waits for the record, so the checks of every thread run side by side
    as in `clausewatch capture`: the fetcher's keep-alive connections, robots.txt cache (RFC
    9309's 24 h) and TLS context are made once per process, and checks that finish together are
    written in one transaction (one log-head lock and commit) instead of one each."""

    def __init__(self, archive: Archive, settings: Settings, fetcher_factory: FetcherFactory):
        from clausewatch.archive.cycle import BatchRecorder, CaptureCycle

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="clausewatch-capture", daemon=True
        )
        self._thread.start()

        async def make() -> Any:  # made inside the loop that will use it
            return fetcher_factory(settings)

        self._fetcher = self._call(make())
        self.recorder = BatchRecorder(archive)
        self._cycle = CaptureCycle(archive, self._fetcher.fetch, recorder=self.recorder)

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def check(self, document: Document) -> CheckRecord:
        """One check of `document` (from any thread); its record once written."""
        return self._call(self._cycle.check(document))

    def close(self) -> None:
        async def shut() -> None:
            try:
                await self.recorder.drain()
            finally:
                await self._fetcher.aclose()

        try:
            self._call(shut())
        finally:
            self.recorder.close()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()


@dataclass
class JobContext:
    """What the tasks of one Huey instance share within a process: the settings, one archive
    (opened on first use, engine pooled across worker threads), the fetcher factory and the
    process's capture loop."""

    settings: Settings
    fetcher_factory: FetcherFactory = _default_fetcher
    _archive: Archive | None = None
    _capture: CaptureLoop | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def archive(self) -> Archive:
        with self._lock:
            return self._open_archive()

    def _open_archive(self) -> Archive:
        if self._archive is None:
            from clausewatch.archive.service import Archive

            self._archive = Archive.open(self.settings)
        return self._archive

    def check(self, document: Document) -> CheckRecord:
        """One check of `document` through the process's capture loop."""
        with self._lock:
            if self._capture is None:
                archive = self._open_archive()
                self._capture = CaptureLoop(archive, self.settings, self.fetcher_factory)
            capture = self._capture
        return capture.check(document)

    def close(self) -> None:
        with self._lock:
            capture, self._capture = self._capture, None
            archive, self._archive = self._archive, None
        try:
            if capture is not None:
                capture.close()
        finally:
            if archive is not None:
                archive.close()


@dataclass
class Tasks:
    huey: Huey
    context: JobContext
    capture_document: TaskWrapper
    derive: TaskWrapper
    dispatch_alerts: TaskWrapper


_REGISTERED: dict[int, Tasks] = {}


def tasks_of(huey: Huey) -> Tasks:
    """The clausewatch tasks registered on `huey` by `make_huey`."""
    return _REGISTERED[id(huey)]


def capture_key(document_id: int) -> str:
    return f"capture.{document_id}"


DERIVE_KEY = "derive"


def register(huey: Huey, settings: Settings) -> Tasks:
    context = JobContext(settings)

    @huey.task(retries=2, retry_delay=120)
    def capture_document(document_id: int, as_of: str | None = None) -> str:
        """Capture one document if it is still active and due as of `as_of` (ISO time the
        scheduler saw it due; None: capture now, whatever its schedule)."""
        return run_capture(tasks_of(huey), document_id, as_of)

    @huey.task(retries=3, retry_delay=60)
    def derive(document_id: int | None = None) -> str:
        """Build provisions and change records and analyse what is stale (all documents: both
        stages are incremental; `document_id` says which capture asked, for the logs)."""
        return run_derive(tasks_of(huey), document_id)

    @huey.task(retries=3, retry_delay=60)
    def dispatch_alerts() -> int:
        """Send what the latest change records call for (see `dispatch_alerts_for`)."""
        tasks = tasks_of(huey)
        with lock(huey, "alerts", ALERTS_LOCK_TTL):
            return dispatch_alerts_for(tasks.context.archive(), tasks.context.settings)

    tasks = Tasks(huey, context, capture_document, derive, dispatch_alerts)
    _REGISTERED[id(huey)] = tasks
    return tasks


# -- capture --------------------------------------------------------------------------------


def document_frequency(document: Document, settings: Settings) -> dt.timedelta:
    from clausewatch.schedules import parse_frequency

    value = (document.declaration or {}).get("frequency") or settings.default_frequency
    try:
        return parse_frequency(value)
    except ValueError:
        log.warning("D-%05d: bad stored frequency %r, using the default", document.id, value)
        return parse_frequency(settings.default_frequency)


def document_is_due(document: Document, settings: Settings, now: dt.datetime) -> bool:
    from clausewatch.jobs.due import is_due
    from clausewatch.schedules import parse_capture_time

    if not document.active:
        return False
    frequency = document_frequency(document, settings)
    return is_due(
        document.last_checked_at, now, frequency, parse_capture_time(settings.capture_time)
    )


def run_capture(tasks: Tasks, document_id: int, as_of: str | None) -> str:
    huey, settings = tasks.huey, tasks.context.settings
    archive = tasks.context.archive()
    try:
        held = lock(huey, f"doc:{document_id}", CAPTURE_LOCK_TTL, renew=True)
        held.acquire()
    except TaskLockedException:
        log.info("D-%05d is being captured by another worker: skipped", document_id)
        return "locked"
    try:
        try:
            document = archive.document(document_id)
        except LookupError:
            clear_enqueued(huey, capture_key(document_id))
            return "missing"
        now = dt.datetime.fromisoformat(as_of) if as_of else None
        if now is not None and not document_is_due(document, settings, now):
            clear_enqueued(huey, capture_key(document_id))
            return "not due"
        with host_turn(huey, document, settings):
            record = tasks.context.check(document)
        # Done: the next tick may enqueue it again once it is due. On an exception the marker
        # stays, so Huey's retries run first and the scheduler re-enqueues only after
        # REQUEUE_AFTER: a document that keeps failing is not fetched every minute.
        clear_enqueued(huey, capture_key(document_id))
    finally:
        held.release()
    log.info("D-%05d: %s", document_id, record.outcome)
    if record.outcome in DERIVE_AFTER:
        enqueue_derive(tasks, document_id)
    return str(record.outcome)


HOST_RETRY_DELAY = 1.0


@contextlib.contextmanager
def host_turn(huey: Huey, document: Document, settings: Settings) -> Iterator[None]:
    """Politeness across workers: one capture at a time per host, across every worker process
    and machine on the queue, starting at least `per_host_delay` seconds after the previous
    capture of that host finished (the fetcher's own gate spaces the requests of one capture:
    robots.txt, the page, a confirming fetch). A host taken by another worker → Huey retries the
    task shortly (the retry does not count against the task's retries).

    (Huey's `rate_limit` is a fixed window: two captures a few milliseconds apart on either side
    of a window boundary both pass, and an over-limit capture waited `retry_delay`, 120 s.)"""
    from clausewatch.capture.pacing import host_key

    delay = settings.per_host_delay
    if delay <= 0:
        yield
        return
    hosts = sorted({host_key(s["url"]) for s in (document.declaration or {}).get("sources", [])})
    held: list[tuple[str, ExpiringLock]] = []
    fetched = False
    try:
        for host in hosts:
            turn = lock(huey, f"host:{host}", CAPTURE_LOCK_TTL, renew=True)
            try:
                turn.acquire()
            except TaskLockedException:
                raise RetryTask(delay=max(delay, HOST_RETRY_DELAY)) from None
            held.append((host, turn))
            last = huey.get(f"host.last.{host}", peek=True)
            wait = float(last) + delay - time.time() if last is not None else 0.0
            if wait > 0:
                time.sleep(min(wait, delay))
        fetched = True
        yield
    finally:
        done = time.time()
        for host, turn in held:
            if fetched:
                huey.put(f"host.last.{host}", done)
            turn.release()


# -- derive ---------------------------------------------------------------------------------


def enqueue_derive(tasks: Tasks, document_id: int | None = None, now: float | None = None) -> bool:
    """Enqueue one derive unless one is already waiting; True when enqueued."""
    stamp = utcnow().timestamp() if now is None else now
    if not mark_enqueued(tasks.huey, DERIVE_KEY, stamp, REQUEUE_AFTER):
        return False
    tasks.derive(document_id)
    return True


def run_derive(tasks: Tasks, document_id: int | None) -> str:
    from clausewatch.analysis.service import analyse
    from clausewatch.provisions.service import build

    huey = tasks.huey
    try:
        held = lock(huey, "derive", DERIVE_LOCK_TTL)
        held.acquire()
    except TaskLockedException:
        raise RetryTask(delay=DERIVE_RETRY_DELAY) from None
    try:
        # Cleared before the work: versions recorded from now on enqueue another derive.
        clear_enqueued(huey, DERIVE_KEY)
        archive = tasks.context.archive()
        built = build(archive)
        analysed = analyse(archive, full=False)
    finally:
        held.release()
    log.info(
        "derive (after D-%s): %s change records, %s assessed",
        document_id,
        built.change_records,
        analysed.change_records,
    )
    tasks.dispatch_alerts()
    return f"change records: {built.change_records}, assessed: {analysed.change_records}"


# -- alerts ---------------------------------------------------------------------------------


def dispatch_alerts_for(archive: Archive, settings: Settings) -> int:
    """Plan the deliveries new change records call for and send every due one (alerts,
    webhooks, digests, retries); the number sent. See `clausewatch.alerts.dispatch`.

    Called by the `dispatch_alerts` task after every derive (and by the scheduler's tick when
    deliveries are due), under a queue-wide lock, with Huey retries when it raises. Every
    delivery is recorded before it is sent (docs/alerts.md: at least once, with a stable
    idempotency key)."""
    from clausewatch.alerts.dispatch import dispatch_alerts_for as dispatch

    return dispatch(archive, settings)
