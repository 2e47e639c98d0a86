"""Scheduling and background work: what is due when, enqueue-once, crash safety, and the task
engine for real on SQLite (embedded) and Redis (127.0.0.1:6379), with documents served by the
loopback HTTP server."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from archive_fixtures import make_settings
from loopback import LoopbackServer, Response, policy_page
from sqlalchemy import update

from clausewatch.archive.evidence import verify_archive
from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.jobs.due import is_due, next_due
from clausewatch.jobs.engine import BackgroundConsumer, make_huey
from clausewatch.jobs.scheduler import (
    FileLeaderLock,
    RedisLeaderLock,
    Scheduler,
    due_documents,
    enqueue_due,
)
from clausewatch.jobs.tasks import run_capture, tasks_of
from clausewatch.provisions.service import pending_versions
from clausewatch.registry import RegistryError, load_registry
from clausewatch.registry.models import DocumentDeclaration, PlatformDeclaration, SourceDeclaration
from clausewatch.schedules import parse_capture_time, parse_frequency
from clausewatch.storage.db import utcnow
from clausewatch.storage.models import Document

UTC = dt.UTC
SIX = parse_capture_time("06:00")
DAY = dt.timedelta(days=1)
REDIS_URL = os.environ.get("CLAUSEWATCH_TEST_REDIS", "redis://127.0.0.1:6379/0")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- due-ness rules (pure, fixed `now`) ------------------------------------------------------


def test_never_checked_is_due_at_once() -> None:
    assert is_due(None, at("2030-01-02 03:00"), DAY, SIX)


def test_daily_is_due_once_the_capture_time_has_passed() -> None:
    checked = at("2030-01-01 06:05")
    assert not is_due(checked, at("2030-01-02 05:59"), DAY, SIX)
    assert is_due(checked, at("2030-01-02 06:00"), DAY, SIX)
    assert not is_due(at("2030-01-02 06:01"), at("2030-01-02 23:00"), DAY, SIX)
    # a check just before the slot does not count for the slot
    assert is_due(at("2030-01-02 05:59"), at("2030-01-02 06:00"), DAY, SIX)
    # missed a day (machine down): due at once, not at the next slot
    assert is_due(at("2029-12-30 07:00"), at("2030-01-02 05:00"), DAY, SIX)
    assert next_due(checked, at("2030-01-01 12:00"), DAY, SIX) == at("2030-01-02 06:00")


def test_weekly_keeps_to_the_capture_time() -> None:
    week = parse_frequency("weekly")
    checked = at("2030-01-01 06:20")  # a late check does not push next week's slot later
    assert not is_due(checked, at("2030-01-07 23:00"), week, SIX)
    assert not is_due(checked, at("2030-01-08 05:59"), week, SIX)
    assert is_due(checked, at("2030-01-08 06:00"), week, SIX)
    assert next_due(checked, at("2030-01-02 00:00"), week, SIX) == at("2030-01-08 06:00")


def test_sub_daily_frequencies_have_slots_from_the_capture_time() -> None:
    twelve = parse_frequency("12h")
    assert not is_due(at("2030-01-01 06:30"), at("2030-01-01 17:59"), twelve, SIX)
    assert is_due(at("2030-01-01 06:30"), at("2030-01-01 18:00"), twelve, SIX)
    assert is_due(at("2030-01-01 18:30"), at("2030-01-02 06:00"), twelve, SIX)
    late = parse_capture_time("23:30")
    assert not is_due(at("2030-01-01 23:40"), at("2030-01-02 00:10"), DAY, late)  # past midnight
    assert is_due(at("2030-01-01 23:00"), at("2030-01-02 00:10"), DAY, late)
    assert is_due(at("2030-01-01 23:40"), at("2030-01-02 23:30"), DAY, late)


@pytest.mark.parametrize("bad", ["5h", "30m", "0h", "sometimes", "", "1.5d"])
def test_bad_frequencies_say_what_is_accepted(bad: str) -> None:
    with pytest.raises(ValueError, match="frequency"):
        parse_frequency(bad)


def test_frequency_names_and_forms() -> None:
    assert parse_frequency("Daily") == DAY
    assert parse_frequency("2d") == 2 * DAY
    assert parse_frequency("1w") == parse_frequency("weekly")
    assert parse_frequency("6h") == dt.timedelta(hours=6)
    with pytest.raises(ValueError, match="HH:MM"):
        parse_capture_time("25:00")
    with pytest.raises(ValueError, match="capture_time"):
        Settings(capture_time="noon")


# -- the registry's `frequency` ----------------------------------------------------------------


def registry_file(
    tmp_path: Path, frequency: str | None, url: str = "https://example.com/t"
) -> Path:
    extra = f"    frequency: {frequency}\n" if frequency is not None else ""
    path = tmp_path / "example.yaml"
    path.write_text(
        "slug: example\nname: Example\ncategory: other\nwebsite: https://example.com\n"
        f"documents:\n  - type: Terms of Service\n    fetch: {url}\n{extra}",
        encoding="utf-8",
    )
    return path


def test_registry_frequency_is_validated_with_file_and_field(tmp_path: Path) -> None:
    (platform,) = load_registry([registry_file(tmp_path, "Weekly")])
    assert platform.documents[0].frequency == "weekly"
    with pytest.raises(RegistryError) as caught:
        load_registry([registry_file(tmp_path, "5h")])
    message = str(caught.value)
    assert "example.yaml: documents[0].frequency: frequency '5h' does not divide 24h" in message
    assert "(line 8)" in message


def test_frequency_changes_no_fingerprint_but_is_stored(archive_sqlite: Archive) -> None:
    def platform(frequency: str | None) -> PlatformDeclaration:
        doc = DocumentDeclaration(
            type="Terms of Service",
            sources=(SourceDeclaration(url="https://example.com/t"),),
            frequency=frequency,
        )
        return PlatformDeclaration(
            slug="example", name="Example", category="other", website="https://example.com",
            documents=(doc,),
        )  # fmt: skip

    plain, weekly = platform(None), platform("weekly")
    assert "frequency" not in plain.documents[0].stored()
    fingerprint = plain.documents[0].extraction_fingerprint()
    assert weekly.documents[0].extraction_fingerprint() == fingerprint
    archive_sqlite.sync_registry([plain])
    assert archive_sqlite.sync_registry([plain]).documents_updated == 0
    assert archive_sqlite.sync_registry([weekly]).documents_updated == 1
    (document,) = archive_sqlite.documents()
    assert document.declaration["frequency"] == "weekly"
    assert document.declaration_fingerprint == fingerprint


# -- fixtures: an archive, documents on the loopback server, a queue ---------------------------


@pytest.fixture
def archive_sqlite(tmp_path: Path) -> Iterator[Archive]:
    opened = Archive.open(job_settings(tmp_path))
    yield opened
    opened.close()


def job_settings(tmp_path: Path, **extra: Any) -> Settings:
    # capture time three hours ago: no slot falls during a test, wherever the clock is
    capture_time = (utcnow() - dt.timedelta(hours=3)).strftime("%H:%M")
    extra.setdefault("browser_fallback", False)
    return make_settings(
        tmp_path, capture_time=capture_time, fetch_timeout=5.0, fetch_retries=0, **extra
    )


def register(archive: Archive, docs: dict[str, tuple[str, str | None]]) -> dict[str, int]:
    """Documents by type → (URL, frequency); their IDs by type."""
    archive.sync_registry(
        [
            PlatformDeclaration(
                slug="loopback",
                name="Loopback",
                category="developer-tools",
                website="http://127.0.0.1",
                documents=tuple(
                    DocumentDeclaration(
                        type=doc_type, sources=(SourceDeclaration(url=url),), frequency=frequency
                    )
                    for doc_type, (url, frequency) in docs.items()
                ),
            )
        ]
    )
    return {d.doc_type: d.id for d in archive.documents(active_only=False)}


def set_checked(
    archive: Archive, document_id: int, when: dt.datetime | None, **values: Any
) -> None:
    with archive.sessions() as session, session.begin():
        session.execute(
            update(Document)
            .where(Document.id == document_id)
            .values(last_checked_at=when, **values)
        )


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or condition}")


def settled(archive: Archive, huey: Any) -> bool:
    """Queue empty, no version waiting for provisions, nothing pending."""
    with archive.sessions() as session:
        waiting = pending_versions(session)
    return not waiting and len(huey) == 0 and huey.scheduled_count() == 0


# -- due documents from the database --------------------------------------------------------


def test_due_documents_follow_the_database(archive_sqlite: Archive) -> None:
    ids = register(
        archive_sqlite,
        {
            "Terms of Service": ("http://127.0.0.1:9/never", None),
            "Privacy Policy": ("http://127.0.0.1:9/daily", None),
            "Cookie Policy": ("http://127.0.0.1:9/weekly", "weekly"),
            "Community Guidelines": ("http://127.0.0.1:9/gone", None),
        },
    )
    capture_time = parse_capture_time(archive_sqlite.settings.capture_time)
    now = dt.datetime.combine(dt.date(2030, 1, 10), capture_time) + dt.timedelta(minutes=5)
    set_checked(archive_sqlite, ids["Privacy Policy"], now - dt.timedelta(hours=2))  # before slot
    set_checked(archive_sqlite, ids["Cookie Policy"], now - 2 * DAY)
    set_checked(archive_sqlite, ids["Community Guidelines"], None, active=False)
    due = due_documents(archive_sqlite, now)
    assert due == [ids["Terms of Service"], ids["Privacy Policy"]]  # never checked first
    set_checked(archive_sqlite, ids["Cookie Policy"], now - 7 * DAY)
    assert ids["Cookie Policy"] in due_documents(archive_sqlite, now)
    assert ids["Community Guidelines"] not in due_documents(archive_sqlite, now + 30 * DAY)


# -- crash safety ---------------------------------------------------------------------------


def test_a_worker_process_keeps_one_fetcher_across_its_captures(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    """The capture tasks of one process, from several threads at once, run in its one capture
    loop: robots.txt is asked once for the host (not once per document), and every check is
    committed before its task returns."""
    settings = job_settings(tmp_path)
    archive = Archive.open(settings)
    huey = make_huey(settings, name=f"loop{uuid.uuid4().hex[:8]}")
    try:
        docs = {f"Policy {i}": (loopback.url(f"/policy/{i}"), None) for i in range(6)}
        for i in range(6):
            loopback.route(f"/policy/{i}", Response(body=policy_page(f"Policy {i}")))
        ids = list(register(archive, docs).values())
        tasks = tasks_of(huey)
        with ThreadPoolExecutor(3) as pool:  # as Huey's worker threads would
            outcomes = list(pool.map(lambda d: run_capture(tasks, d, None), ids))
        assert outcomes == ["first_version"] * 6
        assert len(loopback.requests_for("/robots.txt")) == 1
        assert all(len(archive.versions(d)) == 1 for d in ids)
        # a second round: the same loop, robots.txt still cached, nothing new to record
        assert [run_capture(tasks, d, None) for d in ids] == ["verified"] * 6
        assert len(loopback.requests_for("/robots.txt")) == 1
        with archive.sessions() as session:
            assert verify_archive(session, archive.store).ok
    finally:
        tasks_of(huey).context.close()
        huey.flush()
        archive.close()


def test_a_task_killed_after_the_fetch_leaves_the_document_due(
    tmp_path: Path, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = job_settings(tmp_path)
    archive = Archive.open(settings)
    huey = make_huey(settings, name=f"crash{uuid.uuid4().hex[:8]}")
    try:
        loopback.route("/doc", Response(body=policy_page("Terms of Service")))
        (doc,) = register(archive, {"Terms of Service": (loopback.url("/doc"), None)}).values()
        now = utcnow()
        assert enqueue_due(archive, huey, now) == [doc]
        assert enqueue_due(archive, huey, now) == []  # already pending: not enqueued twice

        def killed(self: Archive, check: Any) -> Any:
            raise RuntimeError("worker killed after the fetch")

        # the worker records in batches (record_checks), one by one when a batch fails
        monkeypatch.setattr(Archive, "record_checks", killed)
        monkeypatch.setattr(Archive, "record_check", killed)
        huey.execute(huey.dequeue())  # as a worker would; the task raises
        assert len(loopback.requests_for("/doc")) == 1, "the fetch happened"
        assert archive.captures(doc) == [] and archive.versions(doc) == []
        assert archive.document(doc).last_checked_at is None
        assert due_documents(archive, now) == [doc], "still due"
        assert not huey.is_locked(f"doc:{doc}"), "the document lock was released"
        # Huey retries it later; the scheduler leaves it to the retry for a while ...
        assert huey.scheduled_count() == 1
        assert enqueue_due(archive, huey, now + dt.timedelta(minutes=1)) == []
        # ... and re-enqueues it once the message may be lost; that run completes
        huey.flush()
        later = now + dt.timedelta(minutes=61)
        assert enqueue_due(archive, huey, later) == [doc]
        monkeypatch.undo()
        huey.execute(huey.dequeue())
        assert [v.kind for v in archive.versions(doc)] == ["first"]
        assert len(archive.captures(doc)) == 1
        assert due_documents(archive, later) == []
        with archive.sessions() as session:
            assert verify_archive(session, archive.store).ok
    finally:
        huey.flush()
        archive.close()


def test_a_duplicate_message_fetches_nothing(tmp_path: Path, loopback: LoopbackServer) -> None:
    settings = job_settings(tmp_path)
    archive = Archive.open(settings)
    huey = make_huey(settings, name="dup", immediate=True)  # tasks run at enqueue time
    try:
        loopback.route("/doc", Response(body=policy_page("Terms of Service")))
        (doc,) = register(archive, {"Terms of Service": (loopback.url("/doc"), None)}).values()
        tasks = tasks_of(huey)
        now = utcnow().isoformat()
        tasks.capture_document(doc, now)
        tasks.capture_document(doc, now)  # the same message again (a redelivery, a 2nd tick)
        assert len(loopback.requests_for("/doc")) == 1
        assert tasks.capture_document.call_local(doc, now) == "not due"
        assert tasks.capture_document.call_local(doc, None) == "verified"  # `check`: now
        assert len(loopback.requests_for("/doc")) == 2
    finally:
        tasks_of(huey).context.close()
        archive.close()


# -- the leader lock: one scheduler enqueues --------------------------------------------------


def test_two_schedulers_on_sqlite_only_one_enqueues(
    archive_sqlite: Archive, loopback: LoopbackServer
) -> None:
    register(archive_sqlite, {"Terms of Service": (loopback.url("/ok"), None)})
    huey = make_huey(archive_sqlite.settings, name=f"two{uuid.uuid4().hex[:8]}")
    first, second = Scheduler(archive_sqlite, huey), Scheduler(archive_sqlite, huey)
    assert isinstance(first.lock, FileLeaderLock)
    try:
        assert first.run_once().leader and len(huey) == 1
        report = second.run_once()
        assert not report.leader and report.captures == [] and len(huey) == 1
        first.lock.release()  # the first one dies: the second takes over
        assert second.run_once().leader
    finally:
        first.lock.release()
        second.lock.release()
        huey.flush()


# -- SQLite (embedded) end to end: scheduler tick + consumer ---------------------------------


def test_sqlite_queue_end_to_end(tmp_path: Path, loopback: LoopbackServer) -> None:
    settings = job_settings(tmp_path)
    archive = Archive.open(settings)
    huey = make_huey(settings)
    assert type(huey).__name__ == "SqliteHuey"
    assert Path(huey.storage.filename) == tmp_path / "data" / "queue.db"
    base = "/pages/ChatGPT/Privacy Policy/source-0.html"
    loopback.route("/tos", Response(body=policy_page("Terms of Service")))
    ids = register(
        archive,
        {
            "Terms of Service": (loopback.url("/tos"), None),
            "Privacy Policy": (loopback.url(base), None),
        },
    )
    scheduler = Scheduler(archive, huey)
    try:
        now = utcnow()
        assert sorted(scheduler.run_once(now).captures) == sorted(ids.values())
        assert scheduler.run_once(now).captures == []  # pending: not enqueued twice
        tasks_of(huey).capture_document(ids["Terms of Service"], now.isoformat())  # a duplicate
        with BackgroundConsumer(huey, workers=2):
            wait_for(lambda: all(archive.versions(i) for i in ids.values()), what="versions")
            wait_for(lambda: settled(archive, huey), what="derive")
        assert len(loopback.requests_for("/tos")) == 1
        assert len(loopback.requests_for(base)) == 1
        assert scheduler.run_once(utcnow()).captures == []  # nothing due any more
    finally:
        scheduler.lock.release()
        huey.flush()
        tasks_of(huey).context.close()
        archive.close()


# -- Redis, for real ------------------------------------------------------------------------


def _redis_unreachable() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"Redis not reachable at {REDIS_URL}: {exc.__class__.__name__}: {exc}"
    return None


@pytest.fixture
def redis_settings(tmp_path: Path) -> Iterator[tuple[Settings, str]]:
    why = _redis_unreachable()
    if why:
        pytest.skip(why)
    import redis

    name = f"cwtest{uuid.uuid4().hex[:12]}"
    yield job_settings(tmp_path, queue_url=REDIS_URL), name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"*{name}*"))
    if keys:
        client.delete(*keys)
    client.close()


# Two real pages and a cookie policy on the loopback server (its one host)
THREE_PAGES = {
    "Terms of Service": "/pages/ChatGPT/Privacy Policy/source-1.html",
    "Privacy Policy": "/pages/ChatGPT/Privacy Policy/source-0.html",
    "Cookie Policy": "/cookie",
}


def three_documents(archive: Archive, loopback: LoopbackServer) -> dict[str, int]:
    """The documents of `THREE_PAGES`, registered: document type -> id."""
    loopback.route("/cookie", Response(body=policy_page("Cookie Policy")))
    return register(archive, {t: (loopback.url(p), None) for t, p in THREE_PAGES.items()})


def test_redis_queue_with_a_real_consumer(
    redis_settings: tuple[Settings, str], loopback: LoopbackServer
) -> None:
    settings, name = redis_settings
    archive = Archive.open(settings)
    huey = make_huey(settings, name=name)
    assert type(huey).__name__ == "RedisExpireHuey"
    ids = three_documents(archive, loopback)
    first, second = Scheduler(archive, huey), Scheduler(archive, huey)
    assert isinstance(first.lock, RedisLeaderLock)
    try:
        now = utcnow()
        assert sorted(first.run_once(now).captures) == sorted(ids.values())
        assert second.run_once(now).leader is False, "one scheduler enqueues"
        assert first.run_once(now).captures == []
        for doc in ids.values():  # every message twice: still one fetch each
            tasks_of(huey).capture_document(doc, now.isoformat())
        assert len(huey) == 6
        with BackgroundConsumer(huey, workers=2):
            wait_for(lambda: all(archive.versions(i) for i in ids.values()), what="versions")
            wait_for(lambda: settled(archive, huey), what="derive")
        for path in THREE_PAGES.values():
            assert len(loopback.requests_for(path)) == 1, path
        assert first.run_once(utcnow()).captures == []
        first.lock.release()
        assert second.run_once(utcnow()).leader, "the second scheduler takes over"
        with archive.sessions() as session:
            assert verify_archive(session, archive.store).ok
    finally:
        first.lock.release()
        second.lock.release()
        tasks_of(huey).context.close()
        archive.close()


def test_redis_document_lock_expires_and_is_exclusive(redis_settings: tuple[Settings, str]) -> None:
    from huey.exceptions import TaskLockedException

    from clausewatch.jobs.engine import lock

    settings, name = redis_settings
    huey = make_huey(settings, name=name)
    held = lock(huey, "doc:1", ttl=1)
    held.acquire()
    with pytest.raises(TaskLockedException):
        lock(huey, "doc:1", ttl=1).acquire()
    time.sleep(1.2)  # the holder "died": the key expired
    again = lock(huey, "doc:1", ttl=30)
    assert again.acquire()
    held.release()  # a stale holder cannot release the new holder's lock
    assert huey.is_locked("doc:1")
    again.release()
    assert not huey.is_locked("doc:1")


def test_sqlite_stale_lock_is_broken(tmp_path: Path) -> None:
    from huey.exceptions import TaskLockedException

    from clausewatch.jobs.engine import lock

    huey = make_huey(job_settings(tmp_path), name="stale")
    dead = lock(huey, "doc:7", ttl=0.3)
    dead.acquire()
    with pytest.raises(TaskLockedException):
        lock(huey, "doc:7", ttl=10).acquire()
    time.sleep(0.4)
    assert lock(huey, "doc:7", ttl=10).acquire()


def _lease_outlives_its_ttl(huey: Any) -> None:
    """A renewed lock held three times its ttl is still exclusive; once its holder stops
    renewing (dies), the name frees itself after the ttl."""
    from huey.exceptions import TaskLockedException

    from clausewatch.jobs.engine import lock

    held = lock(huey, "host:example.org", ttl=1, renew=True)
    held.acquire()
    time.sleep(3)
    with pytest.raises(TaskLockedException):
        lock(huey, "host:example.org", ttl=1).acquire()
    held._stop_renewing()  # the holder dies: nothing renews it any more
    time.sleep(1.3)
    taker = lock(huey, "host:example.org", ttl=30)
    assert taker.acquire()
    held.release()  # the dead holder's late release leaves the new holder's lock alone
    assert huey.is_locked("host:example.org")
    taker.release()


def test_sqlite_lease_is_renewed_while_held(tmp_path: Path) -> None:
    _lease_outlives_its_ttl(make_huey(job_settings(tmp_path), name="lease"))


def test_redis_lease_is_renewed_while_held(redis_settings: tuple[Settings, str]) -> None:
    settings, name = redis_settings
    _lease_outlives_its_ttl(make_huey(settings, name=name))


# -- `clausewatch up`: one process group, stopped cleanly by SIGTERM -----------------------------


def test_up_runs_scheduler_and_workers_and_stops_on_sigterm(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    loopback.route("/up", Response(body=policy_page("Terms of Service")))
    registry = registry_file(tmp_path, "daily", url=loopback.url("/up"))
    settings = job_settings(tmp_path)
    env = {
        **os.environ,
        "CLAUSEWATCH_CAPTURE_TIME": settings.capture_time,
        "CLAUSEWATCH_PER_HOST_DELAY": "0",
        "CLAUSEWATCH_CONFIRM_DELAY": "0",
        "CLAUSEWATCH_BROWSER_FALLBACK": "false",
        "CLAUSEWATCH_CONFIG": str(tmp_path / "none.toml"),
    }
    data = tmp_path / "data"
    command = [sys.executable, "-m", "clausewatch", "up", "--no-web", "--workers", "1"]
    proc = subprocess.Popen(
        [*command, "--data-dir", str(data), "--registry", str(registry)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        archive = Archive.open(Settings(data_dir=data))
        try:
            wait_for(
                lambda: proc.poll() is not None or archive.counts()["versions"] == 1,
                timeout=90,  # the whole suite beside it on 2 cores: one CI run took over 45 s
                what="a version captured by `up`",
            )
        finally:
            archive.close()
        if proc.poll() is not None:  # say why `up` stopped, not only that nothing came
            _, err = proc.communicate()
            raise AssertionError(f"`up` exited {proc.returncode}: {err.decode()[-2000:]}")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=45)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert b"received SIGTERM" in err
        assert len(loopback.requests_for("/up")) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
