"""How many SQL statements a page sends, on SQLite and on PostgreSQL (issue #13): the read path
must not grow with the data (no N+1 queries), and PostgreSQL must not need more round trips
than SQLite for the same page. The bounds are the same for both backends (but search, where
SQLite's FTS5 takes one statement more than PostgreSQL); `bench/web_latency.py`
reports the same counts on ~100,000 provisions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from archive_fixtures import *  # noqa: F403
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from web_fixtures import SAMPLE

from clausewatch.analysis.service import analyse
from clausewatch.archive.service import Archive
from clausewatch.importers.parallel import import_source
from clausewatch.provisions.service import build
from clausewatch.storage.models import ProvisionAnalysis
from clausewatch.web import create_app

# Statements per request (transaction control such as SQLite's BEGIN not counted). The
# provision page and its API record are one provision_record, in one session: a fixed number of
# short queries (provision, revisions, change count, analysis, classifications, evidence, the
# archive state, read once per request) whatever the archive holds, 7 once the per-state figures
# of its document and clause type are kept, at most 15 when none is (issue #13).
PROVISION_BOUND = 15
LIST_BOUND = 3  # the archive state, the page's ids, their labels (the total once per state)
# the archive state, the total, the page: PostgreSQL ranks and counts in one statement; SQLite's
# FTS5 ranks the page's ids, then reads their rows and snippets (two in-process statements)
SEARCH_BOUND = {"postgresql": 3, "sqlite": 4}


class Statements:
    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT")):
            self.sql.append(statement)

    def take(self) -> list[str]:
        out, self.sql = self.sql, []
        return out


@pytest.fixture
def served(archive: Archive) -> Iterator[tuple[TestClient, Statements, list[int]]]:
    import_source(archive, SAMPLE, workers=1)
    build(archive)
    analyse(archive)
    with archive.sessions() as session:
        current = list(
            session.scalars(
                select(ProvisionAnalysis.provision_id)
                .where(ProvisionAnalysis.current.is_(True))
                .order_by(ProvisionAnalysis.provision_id)
            )
        )
    app = create_app(archive.settings)
    log = Statements()
    engine = app.state.archive.engine
    event.listen(engine, "before_cursor_execute", log)
    try:
        with TestClient(app) as client:
            yield client, log, current
    finally:
        event.remove(engine, "before_cursor_execute", log)


def _counts(client: TestClient, log: Statements, urls: list[str]) -> list[int]:
    counts = []
    for url in urls:
        log.take()
        response = client.get(url)
        assert response.status_code == 200, (url, response.text[:300])
        counts.append(len(log.take()))
    return counts


def test_a_provision_page_sends_a_bounded_number_of_queries(
    served: tuple[TestClient, Statements, list[int]],
) -> None:
    client, log, current = served
    assert len(current) >= 20
    chosen = current[:: max(1, len(current) // 8)][:8]
    _counts(client, log, [f"/provisions/P-{current[-1]:06d}"])  # per-state figures computed
    pages = _counts(client, log, [f"/provisions/P-{pid:06d}" for pid in chosen])
    records = _counts(client, log, [f"/api/v1/provisions/P-{pid:06d}" for pid in chosen])
    assert max(pages) <= PROVISION_BOUND, pages
    assert max(records) <= PROVISION_BOUND, records


def test_list_and_search_pages_send_a_bounded_number_of_queries(
    served: tuple[TestClient, Statements, list[int]],
) -> None:
    client, log, _ = served
    dialect = client.app.state.archive.engine.dialect.name  # type: ignore[attr-defined]
    _counts(client, log, ["/api/v1/provisions?limit=50&offset=0", "/search?q=data"])
    lists = _counts(client, log, [f"/api/v1/provisions?limit=50&offset={o}" for o in (5, 20)])
    searches = _counts(client, log, ["/search?q=account", "/search?q=content+data"])
    assert max(lists) <= LIST_BOUND, lists
    assert max(searches) <= SEARCH_BOUND[dialect], searches


@pytest.mark.postgres
def test_a_pooled_connection_closed_while_idle_is_replaced(
    pg_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pool_pre_ping` is gone (a round trip per session): a connection that idled is pinged
    before use, and one the server closed meanwhile is replaced, not handed to the caller."""
    from sqlalchemy import text

    from clausewatch.storage import db

    engine = db.make_engine(pg_server_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            pid = conn.scalar(text("SELECT pg_backend_pid()"))
        admin = db.make_engine(pg_server_url)
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()
        monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # it counts as idle now
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        engine.dispose()
