"""The task engine: a Huey instance for the configured queue, expiring locks, in-process consumers.

Queue calls go through this module and `tasks`/`scheduler`, so that another engine stays
swappable (stack-notes §6). The same task code runs on every backend:

- ``sqlite`` (default): `SqliteHuey`, a WAL database at ``<data_dir>/queue.db`` (or
  ``sqlite:///path``); one machine, workers as threads or processes.
- ``redis://…``: `RedisExpireHuey` (its locks expire natively, on any Redis version).
- ``postgresql://…``: `PostgresHuey` (``SKIP LOCKED`` + ``LISTEN/NOTIFY``) on an existing server.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from huey import Huey, PostgresHuey, RedisExpireHuey, SqliteHuey
from huey.api import TaskLock
from huey.consumer import Consumer
from huey.exceptions import TaskLockedException
from huey.storage import RedisExpireStorage

from clausewatch.config import Settings

log = logging.getLogger(__name__)

QUEUE_NAME = "clausewatch"


def queue_kind(queue_url: str) -> str:
    """ "sqlite", "redis" or "postgresql"."""
    scheme = queue_url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("redis", "rediss", "unix"):
        return "redis"
    if scheme in ("postgres", "postgresql"):
        return "postgresql"
    raise ValueError(f"unsupported queue_url {queue_url!r}")


def sqlite_queue_path(settings: Settings) -> Path:
    url = settings.queue_url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    return settings.data_dir / "queue.db"


def postgres_dsn(queue_url: str) -> str:
    """A libpq DSN from a SQLAlchemy-style URL (``postgresql+psycopg://`` → ``postgresql://``)."""
    scheme, rest = queue_url.split("://", 1)
    return f"postgresql://{rest}" if "+" in scheme or scheme == "postgres" else queue_url


def make_huey(settings: Settings, *, name: str = QUEUE_NAME, immediate: bool = False) -> Huey:
    """The Huey instance for `settings.queue_url`, with clausewatch's tasks registered.

    `immediate=True` runs each task synchronously at enqueue time on in-memory storage (unit
    tests); every producer and consumer of one queue must use the same `name`.
    """
    kind = queue_kind(settings.queue_url)
    huey: Huey
    common: dict[str, Any] = {"results": False, "utc": True, "immediate": immediate}
    if kind == "sqlite":
        path = sqlite_queue_path(settings)
        if not immediate:
            path.parent.mkdir(parents=True, exist_ok=True)
        huey = SqliteHuey(name, filename=str(path), **common)
    elif kind == "redis":
        huey = RedisExpireHuey(name, url=settings.queue_url, **common)
    else:
        huey = PostgresHuey(name, dsn=postgres_dsn(settings.queue_url), **common)
    from clausewatch.jobs.tasks import register

    register(huey, settings)
    return huey


# -- locks ----------------------------------------------------------------------------------------


_DELETE_IF_OURS = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
_EXPIRE_IF_OURS = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) "
    "end return 0"
)


class ExpiringLock(TaskLock):
    """Huey's `lock_task`, made safe against dead holders: a worker killed while holding the lock
    blocks the name for at most `ttl` seconds.

    On Redis the key expires natively (SET NX EX). Huey's SQL storages have no expiry, so the value
    is the lock's deadline; a lock found past its deadline is broken (deleted) and taken. Two
    workers breaking the same dead lock at the same instant could both take it: the price is one
    duplicate fetch, never a half-written record (each check is one database transaction).

    With `renew=True` the lock is a lease: a daemon thread renews it every `ttl / 3` seconds while
    it is held, so `ttl` can be short (a dead holder frees the name within about `ttl`) even for
    work that runs much longer. A renewal that finds the lock no longer ours stops renewing.
    """

    def __init__(self, huey: Huey, name: str, ttl: float, *, renew: bool = False) -> None:
        super().__init__(huey, name, ttl)
        self._token = ""
        self._renew = renew
        self._stop: threading.Event | None = None
        self._renewer: threading.Thread | None = None

    @property
    def _native(self) -> bool:
        return isinstance(self._huey.storage, RedisExpireStorage)

    def _new_token(self) -> str:
        return f"{time.time() + float(self._ttl):.3f}:{uuid.uuid4().hex}"

    def acquire(self) -> bool:
        self._token = self._new_token()
        for _attempt in range(2):
            if self._native:
                taken = self._huey.put_if_empty(self._key, self._token, math.ceil(self._ttl))
            else:
                taken = self._huey.put_if_empty(self._key, self._token)
            if taken:
                if self._renew:
                    self._start_renewing()
                return True
            if self._native or not self._break_if_stale():
                break
        raise TaskLockedException(f"unable to acquire lock {self._name}")

    def renew(self) -> bool:
        """Push the deadline `ttl` seconds ahead; False when the lock is no longer ours."""
        if self._native:
            return bool(self._if_ours(_EXPIRE_IF_OURS, math.ceil(self._ttl)))
        if self._huey.get(self._key, peek=True) != self._token:
            return False
        token = self._new_token()
        self._huey.put(self._key, token)
        self._token = token
        return True

    def _start_renewing(self) -> None:
        self._stop = stop = threading.Event()

        def run() -> None:
            while not stop.wait(float(self._ttl) / 3):
                try:
                    if not self.renew():
                        log.warning("lost the lock %s while holding it", self._name)
                        return
                except Exception:  # the queue's storage is down: try again next period
                    log.exception("could not renew the lock %s", self._name)

        self._renewer = threading.Thread(target=run, name=f"lease {self._name}", daemon=True)
        self._renewer.start()

    def _stop_renewing(self) -> None:
        if self._stop is not None and self._renewer is not None:
            self._stop.set()
            self._renewer.join()
        self._stop = self._renewer = None

    def _break_if_stale(self) -> bool:
        held = self._huey.get(self._key, peek=True)
        if held is None:
            return True  # released meanwhile: try again
        try:
            deadline = float(str(held).split(":", 1)[0])
        except ValueError:
            deadline = 0.0  # a plain huey lock_task value ("1"): no deadline, treat as stale
        if deadline > time.time():
            return False
        log.warning("breaking the stale lock %s (its holder died?)", self._name)
        self._huey.delete(self._key)
        return True

    def release(self) -> None:
        self._stop_renewing()
        # Delete only our own lock: one broken as stale (or expired) may be another worker's now.
        if self._native:
            self._if_ours(_DELETE_IF_OURS)
        elif self._huey.get(self._key, peek=True) == self._token:
            self._huey.delete(self._key)

    def _if_ours(self, script: str, *args: Any) -> Any:
        """Redis: run `script` on the lock's key if it still holds our token, in one atomic
        round trip (a GET then a DEL could delete the lock of a worker that took it over after
        ours expired in between)."""
        storage = self._huey.storage
        token = self._huey.serializer.serialize(self._token)  # as `put_if_empty` stored it
        return storage.conn.eval(script, 1, storage.result_key(self._key), token, *args)

    clear = release

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock(huey: Huey, name: str, ttl: float, *, renew: bool = False) -> ExpiringLock:
    return ExpiringLock(huey, name, ttl, renew=renew)


# -- enqueue-once markers -------------------------------------------------------------------------


def mark_enqueued(huey: Huey, key: str, now: float, stale_after: float) -> bool:
    """Claim `key` for one enqueue: True when nothing is pending under it or what is pending is
    older than `stale_after` seconds (a lost message, a dead worker), False otherwise. The task
    clears the key when it is done."""
    full = f"pending.{key}"
    if huey.put_if_empty(full, now):
        return True
    since = huey.get(full, peek=True)
    if since is None or float(since) <= now - stale_after:
        huey.put(full, now)
        return True
    return False


def clear_enqueued(huey: Huey, key: str) -> None:
    huey.delete(f"pending.{key}")


def is_enqueued(huey: Huey, key: str) -> bool:
    return huey.get(f"pending.{key}", peek=True) is not None


# -- consumers --------------------------------------------------------------------------------


def create_consumer(huey: Huey, workers: int, **options: Any) -> Consumer:
    """A thread-worker consumer. Periodic tasks stay off: `clausewatch scheduler` is the one
    scheduler (docs/jobs.md); Huey's own scheduler thread still runs retries and delayed tasks."""
    options = {
        "workers": workers,
        "worker_type": "thread",
        "periodic": False,
        "check_worker_health": True,
        **options,
    }
    return huey.create_consumer(**options)


class BackgroundConsumer:
    """A consumer whose workers run as threads of this process without taking its signal handlers
    (`Consumer.run` must own the main thread): for `clausewatch up` and for tests.

        with BackgroundConsumer(huey, workers=2):
            ...  # tasks run meanwhile
    """

    def __init__(self, huey: Huey, workers: int = 2, **options: Any) -> None:
        options.setdefault("initial_delay", 0.05)
        options.setdefault("max_delay", 0.5)
        self.consumer = create_consumer(huey, workers, **options)

    def start(self) -> BackgroundConsumer:
        self.consumer.scheduler.start()
        for _, worker in self.consumer.worker_threads:
            worker.start()
        return self

    def stop(self, *, graceful: bool = True) -> None:
        """Stop taking tasks; with `graceful`, wait for the running ones to finish."""
        with contextlib.suppress(Exception):
            self.consumer.stop(graceful=graceful)
        self.consumer.huey.notify_interrupted_tasks()

    def __enter__(self) -> BackgroundConsumer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
