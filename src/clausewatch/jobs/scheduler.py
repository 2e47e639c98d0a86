"""The scheduler: once a minute, the database says what is due and the queue gets one task each.

Nothing about the schedule lives in the queue. A tick reads every active document's last check
and frequency, and enqueues `capture_document` for each one due (`jobs.due`) that has no task
pending; it also enqueues a derive when versions wait for provisions. A lost message or a crash
therefore only delays work: what is still due is enqueued again (at once after a task fails for
good; after `REQUEUE_AFTER` when a message vanished without its task finishing).

Exactly one scheduler enqueues at a time, whatever the number of machines: each tick first takes
the leader lock: an `flock` on ``<queue>.scheduler.lock`` for the SQLite queue, a Redis key with
an expiry (renewed every tick) for Redis, a session advisory lock for PostgreSQL. A second
scheduler idles, and takes over within a tick or two of the first one's death (the OS releases
the file lock, PostgreSQL the advisory lock; the Redis key expires after `LEADER_TTL`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from huey import Huey

from clausewatch.alerts.digest import DISPATCH_THROTTLE, plan_digests
from clausewatch.alerts.dispatch import has_due
from clausewatch.config import Settings
from clausewatch.jobs.engine import (
    is_enqueued,
    mark_enqueued,
    postgres_dsn,
    queue_kind,
    sqlite_queue_path,
)
from clausewatch.jobs.tasks import (
    REQUEUE_AFTER,
    capture_key,
    document_is_due,
    enqueue_derive,
    tasks_of,
)
from clausewatch.storage.db import utcnow

if TYPE_CHECKING:
    from clausewatch.archive.service import Archive

log = logging.getLogger(__name__)

TICK_SECONDS = 60
LEADER_TTL = 150  # seconds: a Redis leader that stops renewing is replaced after this


def due_documents(archive: Archive, now: dt.datetime) -> list[int]:
    """IDs of the active documents due at `now`, oldest check first (never checked first)."""
    settings = archive.settings
    documents = [
        d for d in archive.documents(active_only=True) if document_is_due(d, settings, now)
    ]
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    documents.sort(key=lambda d: (d.last_checked_at or epoch, d.id))
    return [d.id for d in documents]


def enqueue_due(archive: Archive, huey: Huey, now: dt.datetime | None = None) -> list[int]:
    """Enqueue `capture_document` for every due document without a pending task; the IDs
    enqueued. Idempotent: a second call before the tasks ran enqueues nothing."""
    now = now or utcnow()
    tasks = tasks_of(huey)
    enqueued = []
    for document_id in due_documents(archive, now):
        if not mark_enqueued(huey, capture_key(document_id), now.timestamp(), REQUEUE_AFTER):
            continue
        # A deterministic id: the same document and minute give the same id in logs.
        task_id = f"capture-D{document_id:05d}-{now:%Y%m%dT%H%M}"
        huey.enqueue(tasks.capture_document.s(document_id, now.isoformat(), id=task_id))
        enqueued.append(document_id)
    return enqueued


def enqueue_stale_derive(archive: Archive, huey: Huey, now: dt.datetime | None = None) -> bool:
    """Enqueue a derive when versions wait for provisions (a derive that died, say)."""
    from clausewatch.provisions.service import pending_versions

    with archive.sessions() as session:
        if not pending_versions(session):
            return False
    return enqueue_derive(tasks_of(huey), None, (now or utcnow()).timestamp())


@dataclass
class TickReport:
    at: dt.datetime
    leader: bool
    captures: list[int] = field(default_factory=list)
    derive: bool = False
    alerts: bool = False  # a dispatch of due deliveries was enqueued


def schedule_alerts(archive: Archive, huey: Huey, now: dt.datetime | None = None) -> bool:
    """The scheduler's share of alerts: plan the latest weekly digests, and enqueue a dispatch
    when deliveries are due (retries after backoff, digests, expired leases), at most every
    `DISPATCH_THROTTLE` seconds. True when enqueued. Here rather than in `alerts`, so that
    alerts never imports the job queue."""
    now = now or utcnow()
    plan_digests(archive, archive.settings, now)
    with archive.sessions() as session:
        if not has_due(session, now):
            return False
    if not mark_enqueued(huey, "alerts.tick", now.timestamp(), DISPATCH_THROTTLE):
        return False
    tasks_of(huey).dispatch_alerts()
    return True


def tick(archive: Archive, huey: Huey, now: dt.datetime | None = None) -> TickReport:
    """One scheduler round, for the leader only (see `Scheduler`): due captures, a stale derive,
    and alerts (weekly digests planned, a dispatch when deliveries are due: docs/alerts.md)."""
    now = now or utcnow()
    report = TickReport(at=now, leader=True)
    report.captures = enqueue_due(archive, huey, now)
    report.derive = enqueue_stale_derive(archive, huey, now)
    try:
        report.alerts = schedule_alerts(archive, huey, now)
    except Exception:  # alerts never stop captures
        log.exception("scheduler: planning alerts failed; retrying next tick")
    return report


# -- the leader lock --------------------------------------------------------------------------


class LeaderLock(Protocol):
    def acquire(self) -> bool:
        """Become or stay the leader without blocking; False when another scheduler is."""

    def release(self) -> None: ...


class FileLeaderLock:
    """`flock` on a file next to the SQLite queue: released by the OS when the process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        import fcntl

        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


class RedisLeaderLock:
    """A Redis key held with SET NX PX and renewed every tick; it expires `ttl` seconds after its
    holder stops renewing (crash, network partition)."""

    def __init__(self, url: str, key: str, ttl: int = LEADER_TTL) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.key = key
        self.ttl_ms = ttl * 1000
        self.token = f"{os.getpid()}:{uuid.uuid4().hex}".encode()

    _RENEW = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then "
        "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
    )
    _RELEASE = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
        "else return 0 end"
    )

    def acquire(self) -> bool:
        if self.client.eval(self._RENEW, 1, self.key, self.token, self.ttl_ms):
            return True
        return bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def release(self) -> None:
        with contextlib.suppress(Exception):
            self.client.eval(self._RELEASE, 1, self.key, self.token)
        self.client.close()


class PostgresLeaderLock:
    """`pg_try_advisory_lock` on a connection held open: released when the session ends."""

    def __init__(self, dsn: str, name: str) -> None:
        self.dsn = dsn
        self.key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        self._conn: Any = None

    def acquire(self) -> bool:
        import psycopg

        if self._conn is not None:
            try:
                self._conn.execute("select 1")
                return True
            except psycopg.Error:
                self._conn = None  # the session died, and the lock with it
        conn = psycopg.connect(self.dsn, autocommit=True)
        row = conn.execute("select pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        if row and row[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def leader_lock(settings: Settings, huey: Huey) -> LeaderLock:
    kind = queue_kind(settings.queue_url)
    if kind == "redis":
        return RedisLeaderLock(settings.queue_url, f"{huey.name}.scheduler.leader")
    if kind == "postgresql":
        return PostgresLeaderLock(postgres_dsn(settings.queue_url), f"{huey.name}.scheduler")
    path = sqlite_queue_path(settings)
    return FileLeaderLock(path.with_name(f"{path.name}.{huey.name}.scheduler.lock"))


class Scheduler:
    """The periodic loop: every `interval` seconds, take (or keep) the leader lock and tick."""

    def __init__(
        self, archive: Archive, huey: Huey, *, interval: float = TICK_SECONDS, lock: Any = None
    ) -> None:
        self.archive = archive
        self.huey = huey
        self.interval = interval
        self.lock: LeaderLock = lock or leader_lock(archive.settings, huey)
        self.stopping = threading.Event()
        self._was_leader: bool | None = None

    def run_once(self, now: dt.datetime | None = None) -> TickReport:
        now = now or utcnow()
        try:
            leader = self.lock.acquire()
        except Exception:
            log.exception("scheduler: the leader lock is unavailable; idling this tick")
            leader = False
        if leader != self._was_leader:
            log.info("scheduler: %s", "leading" if leader else "another scheduler leads; idling")
            self._was_leader = leader
        if not leader:
            return TickReport(at=now, leader=False)
        report = tick(self.archive, self.huey, now)
        if report.captures or report.derive:
            log.info(
                "scheduler: enqueued %d captures%s",
                len(report.captures),
                " and a derive" if report.derive else "",
            )
        return report

    def run(self) -> None:
        """Tick until `stop()`; an error in one tick is logged and the next tick retries."""
        try:
            while not self.stopping.is_set():
                try:
                    self.run_once()
                except Exception:
                    log.exception("scheduler tick failed; retrying next tick")
                self.stopping.wait(self.interval)
        finally:
            self.lock.release()

    def stop(self) -> None:
        self.stopping.set()


def pending(huey: Huey, document_id: int) -> bool:
    """Whether a capture of the document is enqueued or running (for status displays)."""
    return is_enqueued(huey, capture_key(document_id))
