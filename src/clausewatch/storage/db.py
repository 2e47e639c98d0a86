"""Engine and session set-up for both backends: SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    TypeDecorator,
    bindparam,
    create_engine,
    event,
    exc,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import Session, sessionmaker

JSONType = JSON().with_variant(JSONB(), "postgresql")
T = TypeVar("T")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC on both backends (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: clausewatch stores UTC only")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    kwargs.setdefault("json_serializer", _compact_json)  # layouts and redlines are large
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
    else:
        if parsed.drivername in ("postgresql", "postgres"):
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        engine = create_engine(url, **kwargs)
        _ping_when_idle(engine)
    _track_writes(engine)
    return engine


# A pooled PostgreSQL connection is pinged before use only when it has sat idle this long.
# `pool_pre_ping` pinged on every checkout: one more round trip per session, and a provision page
# opens about ten sessions (issue #13: that alone was a fifth of its time on PostgreSQL). A
# connection in steady use is known to be alive; one that idled (where a server restart or an
# idle timeout would have closed it) is still checked, and replaced when the ping fails.
PING_AFTER_IDLE_S = 10.0
_CHECKED_IN = "clausewatch_checked_in"


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return  # new (just connected) or in steady use
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as error:  # the pool discards it and connects again (SQLAlchemy's recipe)
            raise exc.DisconnectionError("the pooled connection was closed while idle") from error


# -- the archive state: one counter row bumped by every write that changes what the site shows --

# Tables whose writes do not change any public page or API read (accounts, sessions, watches,
# deliveries; the LLM narrative cache, written while a page renders the text it then serves).
STATE_EXEMPT = frozenset(
    {
        "archive_state",
        "alembic_version",
        "accounts",
        "auth_sessions",
        "api_keys",
        "password_resets",
        "login_attempts",
        "watches",
        "webhook_endpoints",
        "deliveries",
        "narrative_cache",
    }
)
# Writes that only record capture checks: an unchanged document's check writes its capture, the
# hash chain's head and the document's last-checked time and validators. They move the state's
# ``checks`` counter, not ``generation``: pages show them (capture counts, last checked, a
# version's captures), but nothing computed from the archive's content depends on them.
CHECK_WRITES = frozenset({"captures", "version_captures", "log_head", "documents#checks"})
CHECK_COLUMNS = frozenset({"last_checked_at", "last_verified_at", "validators"})
_WRITTEN = "clausewatch_written_tables"
_DML_TABLE = re.compile(
    r"^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+\"?(\w+)",
    re.IGNORECASE,
)
_SET_COLUMNS = re.compile(r"\bSET\s+(.*?)\s+WHERE\b", re.IGNORECASE | re.DOTALL)
_ASSIGNED = re.compile(r"\"?(\w+)\"?\s*=")


def written_table(statement: str) -> str | None:
    """The table an INSERT/UPDATE/DELETE writes, or None; ``documents#checks`` for an UPDATE
    of documents that sets only their check columns (:data:`CHECK_COLUMNS`)."""
    match = _DML_TABLE.match(statement)
    if match is None:
        return None
    table = match.group(1).lower()
    if table == "documents" and statement.lstrip()[:6].upper() == "UPDATE":
        assigned = _SET_COLUMNS.search(statement)
        columns = {c.lower() for c in _ASSIGNED.findall(assigned.group(1))} if assigned else set()
        if columns and columns <= CHECK_COLUMNS:
            return "documents#checks"
    return table


def _track_writes(engine: Engine) -> None:
    """Note, per connection, the tables that INSERT/UPDATE/DELETE statements write (Core, ORM
    and text alike), so that ``transaction`` knows whether to bump the archive state."""

    @event.listens_for(engine, "before_cursor_execute")
    def _note(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        written = conn.info.get(_WRITTEN)
        if written is not None:
            table = written_table(statement)
            if table is not None:
                written.add(table)


_BUMP = text(
    "UPDATE archive_state SET generation = generation + 1, changed_at = :now WHERE id = 1"
).bindparams(bindparam("now", type_=UTCDateTime()))
_BUMP_CHECKS = text(
    "UPDATE archive_state SET checks = checks + 1, checked_at = :now WHERE id = 1"
).bindparams(bindparam("now", type_=UTCDateTime()))
_FIRST = text(  # another process may be creating the row too: then it waits and does nothing
    "INSERT INTO archive_state (id, generation, changed_at, checks) VALUES (1, 0, :now, 0) "
    "ON CONFLICT (id) DO NOTHING"
).bindparams(bindparam("now", type_=UTCDateTime()))
_READ = text(
    "SELECT generation, changed_at, checks, checked_at FROM archive_state WHERE id = 1"
).columns(
    generation=BigInteger(), changed_at=UTCDateTime(), checks=BigInteger(), checked_at=UTCDateTime()
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class ArchiveStateRow(NamedTuple):
    """What ``archive_state`` holds: the content's generation and time, the checks' counter and
    time (``checked_at`` None before the first check-only write)."""

    generation: int
    changed_at: dt.datetime
    checks: int = 0
    checked_at: dt.datetime | None = None


def bump_state(session: Session, *, checks_only: bool = False) -> None:
    """Move the archive state on, inside the caller's transaction: ``generation``, or with
    ``checks_only`` the checks' counter."""
    now = utcnow()
    bump = _BUMP_CHECKS if checks_only else _BUMP
    if not session.execute(bump, {"now": now}).rowcount:  # type: ignore[attr-defined]
        session.execute(_FIRST, {"now": now})
        session.execute(bump, {"now": now})


def read_state(bind: Engine | Session) -> ArchiveStateRow:
    """The archive state: one primary-key read, no write lock. Pass the caller's session when
    it holds one, so no second pooled connection is taken."""
    if isinstance(bind, Session):
        row = bind.execute(_READ).first()
    else:
        with bind.connect() as conn:
            row = conn.execute(_READ).first()
    if row is None:
        return ArchiveStateRow(0, _EPOCH)
    return ArchiveStateRow(int(row[0]), row[1], int(row[2] or 0), row[3])


def _configure_sqlite(engine: Engine) -> None:
    # The SQLAlchemy recipe: take pysqlite's transaction handling away so that writers start
    # with BEGIN IMMEDIATE and never hit "database is locked" on lock upgrade.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front; readers stay deferred so that WAL lets them
        # run beside a writer.
        write = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


WRITE_OPTION = "clausewatch_write"


def database_bytes(engine: Engine) -> int | None:
    """The SQLite database's size, its pages in use and free (None on PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        return None
    with engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
        return int(pages) * int(conn.exec_driver_sql("PRAGMA page_size").scalar_one())


def compact_after_bulk_write(engine: Engine, size_before: int | None) -> tuple[int, int] | None:
    """``VACUUM`` a SQLite database that a bulk write (an import) grew by a quarter or more:
    rows and index entries written out of key order leave pages part-filled (the pga history's
    27.7 MB database is 26.3 MB rebuilt), and rebuilding is cheap next to the write. Returns
    the sizes before and after, or None when nothing was done (PostgreSQL, grown less, or the
    database busy with another process)."""
    if size_before is None:
        return None
    grown = database_bytes(engine)
    if grown is None or grown < size_before * 1.25:
        return None
    return vacuum(engine)


def vacuum(engine: Engine) -> tuple[int, int] | None:
    """Rebuild a SQLite database (``VACUUM``): the sizes before and after, or None on
    PostgreSQL or when another process holds the database."""
    before = database_bytes(engine)
    if before is None:
        return None
    raw = engine.raw_connection()  # outside a transaction (the "begin" hook would open one)
    try:
        raw.driver_connection.execute("VACUUM")  # type: ignore[union-attr]
    except sqlite3.OperationalError:
        return None  # another process holds it
    finally:
        raw.close()
    after = database_bytes(engine)
    assert after is not None
    return before, after


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One short write transaction: committed on success, rolled back on any error. When it
    wrote a table outside ``STATE_EXEMPT``, the archive state moves on in the same
    transaction, so the state a reader sees always matches the data it reads: its
    ``generation``, or only its ``checks`` when every write was a capture check's
    (:data:`CHECK_WRITES`)."""
    bumped = False
    with factory() as session, session.begin():
        conn = session.connection(execution_options={WRITE_OPTION: True})
        written: set[str] = set()
        conn.info[_WRITTEN] = written
        try:
            yield session
            session.flush()
            if written - STATE_EXEMPT - CHECK_WRITES:
                bump_state(session)
                bumped = True
            elif written & CHECK_WRITES:
                bump_state(session, checks_only=True)
        finally:
            conn.info.pop(_WRITTEN, None)
    if bumped:  # committed: readers in this process re-read the state at once
        with _COMMITS_LOCK:
            _COMMITS[0] += 1


_COMMITS_LOCK = threading.Lock()
_COMMITS = [0]


def local_commits() -> int:
    """How many transactions that moved the archive's ``generation`` this process has
    committed (``transaction``): a reader that saw another number re-reads the state at once."""
    return _COMMITS[0]


_MEMO: dict[str, tuple[int, dict[Any, Any]]] = {}
_MEMO_ENTRIES = 20_000


def state_memo(
    bind: Engine | Session, key: Any, compute: Callable[[], T], *, checks: bool = False
) -> T:
    """``compute()``, computed once per archive state (per process) for ``key``: for figures
    that depend only on what the archive holds (home figures, a document's other risks, list
    totals). Kept per ``generation``; with ``checks``, per checks counter too, for figures that
    show capture checks (capture counts, last checked). The state is read first, so a value is
    never older than the state it is kept under. Pass the caller's open session, if any (a
    second pooled connection per request can exhaust the pool under load). Treat the result
    as read-only."""
    state = _state_of(bind)
    if checks:
        key = (key, state.checks)
    engine = bind.get_bind().engine if isinstance(bind, Session) else bind
    where = engine.url.render_as_string()
    slot = _MEMO.get(where)
    if slot is None or slot[0] != state.generation:
        slot = (state.generation, {})
        _MEMO[where] = slot
    values = slot[1]
    if key not in values:
        if len(values) >= _MEMO_ENTRIES:
            values.clear()
        values[key] = compute()
    return cast(T, values[key])


_STATE_SEEN = "clausewatch_state_seen"


def state_generation(bind: Engine | Session) -> int:
    """The archive generation, read once per transaction of a session: a page's several
    memoised parts (a state read each was a quarter of a cold page's statements, issue #13)
    are kept under one state. Each part is computed after that read, so a kept value is never
    older than the state it is kept under (on PostgreSQL, whose statements each see the latest
    commits, it may be newer, as it could before: the next state recomputes it)."""
    return _state_of(bind).generation


def _state_of(bind: Engine | Session) -> ArchiveStateRow:
    if not isinstance(bind, Session):
        return read_state(bind)
    transaction = bind.get_transaction()
    seen = bind.info.get(_STATE_SEEN)
    if transaction is None or seen is None or seen[0] is not transaction:
        state = read_state(bind)  # begins the transaction if none had begun
        seen = bind.info[_STATE_SEEN] = (bind.get_transaction(), state)
    return cast(ArchiveStateRow, seen[1])


# -- lists of the read paths: {"total", "limit", "offset", "items"} -------------------------------


def count_rows(session: Any, query: Any) -> int:
    """How many rows ``query`` selects (its ORDER BY dropped)."""
    return int(session.scalar(select(func.count()).select_from(query.order_by(None).subquery())))


def list_page(total: int, items: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    """One page of a list, as the API returns it."""
    return {"total": total, "limit": limit, "offset": offset, "items": items}
