"""HTTP caching (web/httpcache.py, docs/web.md#http-caching): ETags keyed on the archive state,
304s, the rendered-response cache, signed-in pages never shared, the archive state bumped by the
writes that change the site, and `clausewatch serve --workers 2`."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest
from archive_fixtures import *  # noqa: F403
from archive_fixtures import make_settings
from starlette.testclient import TestClient
from test_archive import BODY, T0, check, platform_decl
from typer.testing import CliRunner
from web_fixtures import get_json, populate

from clausewatch.accounts import service
from clausewatch.archive.decide import Outcome
from clausewatch.archive.service import Archive
from clausewatch.cli import app as cli
from clausewatch.config import Settings
from clausewatch.storage.db import read_state, state_memo, transaction, written_table
from clausewatch.storage.models import Platform
from clausewatch.web import create_app
from clausewatch.web.httpcache import ArchiveStateReader


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return populate(tmp_path_factory.mktemp("webcache") / "data")


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        yield client


@pytest.fixture(scope="module")
def pid(client: TestClient) -> str:
    return str(get_json(client, "/api/v1/provisions?limit=1")["items"][0]["id"])


def test_304_round_trip_on_pages_and_api(client: TestClient, pid: str) -> None:
    for url in (f"/provisions/{pid}", f"/api/v1/provisions/{pid}", "/", "/api/v1/provisions"):
        first = client.get(url)
        assert first.status_code == 200
        etag = first.headers["etag"]
        assert etag.startswith('W/"')
        assert first.headers["cache-control"] == "public, max-age=60"
        assert first.headers["last-modified"].endswith(" GMT")
        assert ("cookie" in first.headers.get("vary", "").lower()) == (not url.startswith("/api"))
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        since = client.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
        assert since.status_code == 304
        other = client.get(url, headers={"If-None-Match": 'W/"something-else"'})
        assert other.status_code == 200 and other.content == first.content
    # the URL is part of the tag
    a = client.get("/api/v1/provisions?limit=2").headers["etag"]
    b = client.get("/api/v1/provisions?limit=3").headers["etag"]
    assert a != b


def test_repeated_reads_come_from_the_response_cache(client: TestClient, pid: str) -> None:
    cache = client.app.state.response_cache  # type: ignore[attr-defined]
    url = f"/api/v1/provisions/{pid}/citation?format=bibtex"
    first = client.get(url)
    hits = cache.hits
    second = client.get(url)
    assert cache.hits == hits + 1
    assert second.content == first.content and second.headers == first.headers
    head = client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == first.headers["etag"]


def test_head_is_answered_like_get_without_the_body(client: TestClient, pid: str) -> None:
    """A HEAD that the response cache cannot answer (never asked, signed in, never cached) is
    the GET's answer without its body, not 405 (FastAPI's routes declare GET only)."""
    for url in (f"/provisions/{pid}", f"/api/v1/provisions/{pid}/citation", "/login"):
        head = client.head(url)
        assert head.status_code == 200 and head.content == b"", url
        get = client.get(url)
        assert head.headers["content-type"] == get.headers["content-type"], url
        assert head.headers.get("etag") == get.headers.get("etag"), url
    signed_in = client.head("/", headers={"Authorization": "Bearer nobody"})
    assert signed_in.status_code == 200 and signed_in.content == b""
    assert client.head("/api/v1/no-such-thing").status_code == 404


def test_etag_changes_when_the_archive_changes(client: TestClient, data_dir: Path) -> None:
    archive = Archive.open(Settings(data_dir=data_dir))
    try:
        before = read_state(archive.engine)
        tags = {u: client.get(u).headers["etag"] for u in ("/", "/api/v1/stats", "/platforms")}
        # a no-op analysis writes nothing: the state and the tags stay
        result = CliRunner().invoke(cli, ["analyse", "--data-dir", str(data_dir)])
        assert result.exit_code == 0, result.output
        assert read_state(archive.engine) == before
        assert {u: client.get(u).headers["etag"] for u in tags} == tags
        # a full re-analysis rewrites the analysis rows: new state, new tags, fresh pages
        result = CliRunner().invoke(cli, ["analyse", "--full", "--data-dir", str(data_dir)])
        assert result.exit_code == 0, result.output
        after = read_state(archive.engine)
        assert after[0] > before[0] and after[1] >= before[1]
        for url, old in tags.items():
            response = client.get(url, headers={"If-None-Match": old})
            assert response.status_code == 200 and response.headers["etag"] != old
        # a write to the archive (here a platform's name) is on the next page at once
        with transaction(archive.sessions) as session:
            platform = session.query(Platform).order_by(Platform.id).first()
            assert platform is not None
            slug, name = platform.slug, platform.name
            platform.name = "Renamed Platform"
        assert read_state(archive.engine)[0] == after[0] + 1
        assert "Renamed Platform" in client.get(f"/platforms/{slug}").text
        with transaction(archive.sessions) as session:
            platform = session.query(Platform).filter_by(slug=slug).one()
            platform.name = name
        assert "Renamed Platform" not in client.get(f"/platforms/{slug}").text
        # account writes do not move the archive state
        state = read_state(archive.engine)
        service.sign_up(archive, "state@example.org", "a long enough password 1")
        assert read_state(archive.engine) == state
    finally:
        archive.close()


def test_signed_in_pages_are_never_cached_or_shared(
    client: TestClient, data_dir: Path, pid: str
) -> None:
    archive = Archive.open(Settings(data_dir=data_dir))
    try:
        account = service.sign_up(archive, "reader@example.org", "a long enough password 2")
        token, _ = service.start_session(archive, account)
    finally:
        archive.close()
    url = f"/provisions/{pid}"
    anonymous = client.get(url)
    assert "Log in" in anonymous.text and anonymous.headers["cache-control"].startswith("public")
    client.cookies.set("cw_session", token)
    try:
        signed = client.get(url, headers={"If-None-Match": anonymous.headers["etag"]})
        assert signed.status_code == 200  # never a 304 from the anonymous tag
        assert signed.headers["cache-control"] == "private, no-store"
        assert "etag" not in signed.headers
        assert "Watch this provision" in signed.text and "Account" in signed.text
        account_page = client.get("/account")
        assert account_page.status_code == 200
        assert "public" not in account_page.headers["cache-control"]
        assert "etag" not in account_page.headers
    finally:
        client.cookies.clear()
    again = client.get(url)  # the signed-in rendering was not kept for anonymous visitors
    assert "Watch this provision" not in again.text and "Log in" in again.text
    # an API key is a credential too
    keyed = client.get(f"/api/v1/provisions/{pid}", headers={"Authorization": "Bearer cw_x"})
    assert keyed.headers["cache-control"] == "private, no-store" and "etag" not in keyed.headers
    # a page that sets a cookie (the anonymous form token) is not public
    login = client.get("/login")
    assert "set-cookie" in login.headers and login.headers["cache-control"] == "no-store"
    assert "etag" not in login.headers


def test_errors_are_not_cached(client: TestClient) -> None:
    missing = client.get("/provisions/P-999999")
    assert missing.status_code == 404 and "etag" not in missing.headers
    assert "public" not in missing.headers.get("cache-control", "")


def test_serve_with_two_workers(data_dir: Path, pid: str) -> None:
    env = os.environ | {"CLAUSEWATCH_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "clausewatch", "serve", "--port", "0", "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        while "serving" not in line:
            assert line, "serve exited"
            line = process.stdout.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while time.monotonic() < deadline and len(workers) < 2:
            workers = {
                int(p)
                for p in Path(f"/proc/{process.pid}/task/{process.pid}/children")
                .read_text()
                .split()
            } - {_resource_tracker(process.pid)}
            time.sleep(0.2)
        assert len(workers) == 2

        def fetch(url: str) -> Any:
            for _ in range(100):  # the workers may still be starting
                try:
                    return httpx2.get(base + url, timeout=30)
                except httpx2.TransportError:
                    time.sleep(0.2)
            raise AssertionError(url)

        urls = [f"/provisions/{pid}", f"/api/v1/provisions/{pid}", "/", "/api/v1/provisions"] * 6
        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(fetch, urls))
        assert all(r.status_code == 200 for r in responses)
        tags = {r.headers["etag"] for r in responses if r.url.path == f"/provisions/{pid}"}
        assert len(tags) == 1  # both workers give one page one tag
        # a commit by another process reaches both workers' tags
        archive = Archive.open(Settings(data_dir=data_dir))
        try:
            with transaction(archive.sessions) as session:
                platform = session.query(Platform).order_by(Platform.id).first()
                assert platform is not None
                platform.name = platform.name  # a write: UPDATE, state bumped
                session.execute(
                    Platform.__table__.update()
                    .where(Platform.id == platform.id)
                    .values(name=platform.name)
                )
        finally:
            archive.close()
        time.sleep(0.5)
        with ThreadPoolExecutor(4) as pool:
            fresh = list(pool.map(fetch, [f"/provisions/{pid}"] * 8))
        assert {r.headers["etag"] for r in fresh}.isdisjoint(tags)
        assert len({r.headers["etag"] for r in fresh}) == 1
    finally:
        process.terminate()
        process.wait(30)


def _resource_tracker(parent: int) -> int:
    """The multiprocessing resource tracker (a child of the parent too), or -1."""
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"resource_tracker" in cmdline:
            return int(child)
    return -1


# -- capture checks move their own counter (issue #13: unchanged documents keep pages warm) ----


def _check(archive: Archive, document_id: int, body: str, at: dt.datetime) -> Outcome:
    """A check of the document that found ``body`` (real snapshot and text in the store)."""
    return check(archive, document_id, body, at).outcome


@pytest.fixture
def checked(backend: str | None, tmp_path: Path) -> Iterator[tuple[Archive, int]]:
    """An archive (SQLite, PostgreSQL) with one document and its first version."""
    archive = Archive.open(make_settings(tmp_path, backend))
    archive.sync_registry([platform_decl()])
    document_id = archive.documents()[0].id
    assert _check(archive, document_id, BODY, T0) == Outcome.FIRST_VERSION
    yield archive, document_id
    archive.close()


def _captures_shown(page: str) -> int:
    found = re.search(r"<dt>Captures</dt><dd>(\d+)</dd>", page)
    assert found, "the document page shows its capture count"
    return int(found.group(1))


CHECKS = "documents#checks"


@pytest.mark.parametrize(
    ("statement", "table"),
    [
        ("UPDATE documents SET last_checked_at=?, validators=? WHERE documents.id = ?", CHECKS),
        ('UPDATE "documents" SET "last_verified_at"=%(a)s WHERE id = %(b)s', CHECKS),
        ("UPDATE documents SET current_version_id=?, last_checked_at=? WHERE id = ?", "documents"),
        ("UPDATE documents SET active=? WHERE documents.id = ?", "documents"),
        ("INSERT INTO documents (platform_id, doc_type) VALUES (?, ?)", "documents"),
        ("DELETE FROM documents WHERE documents.id = ?", "documents"),
        ("INSERT INTO captures (document_id) VALUES (?)", "captures"),
        ("SELECT * FROM documents", None),
    ],
)  # fmt: skip
def test_written_table_tells_a_check_write_of_documents_from_others(
    statement: str, table: str | None
) -> None:
    assert written_table(statement) == table


def test_a_verified_check_moves_the_checks_counter_not_the_generation(
    checked: tuple[Archive, int],
) -> None:
    archive, document_id = checked
    before = read_state(archive.engine)
    computed: list[str] = []

    def memo(name: str, checks: bool = False) -> str:
        def compute() -> str:
            computed.append(name)
            return name

        return state_memo(archive.engine, (name,), compute, checks=checks)

    memo("content"), memo("with-checks", checks=True)
    verified = _check(archive, document_id, BODY, T0 + dt.timedelta(days=1))
    assert verified == Outcome.VERIFIED
    after = read_state(archive.engine)
    assert after.generation == before.generation
    assert after.checks == before.checks + 1 and after.checked_at is not None
    memo("content"), memo("with-checks", checks=True)
    # the content figure was kept; the one that shows checks was computed again
    assert computed == ["content", "with-checks", "with-checks"]
    # a new version is a change of content: the generation moves
    changed = BODY + " Clause 31: disputes go to binding arbitration."
    assert _check(archive, document_id, changed, T0 + dt.timedelta(days=2)) in (
        Outcome.CHANGE_DETECTED,
        Outcome.NEW_VERSION,
    )
    assert read_state(archive.engine).generation > after.generation


def test_the_reader_takes_checks_in_at_most_once_per_interval(
    checked: tuple[Archive, int],
) -> None:
    archive, document_id = checked
    reader = ArchiveStateReader(archive.engine, interval=0.0, checks_interval=3600.0)
    try:
        first, _ = reader.get()
        at = T0 + dt.timedelta(days=1)
        # after a quiet interval (here: since start) a check shows at once
        assert _check(archive, document_id, BODY, at) == Outcome.VERIFIED
        second, modified = reader.get()
        assert second != first and modified >= at
        # more checks within the interval: the token (ETag, cache key) stays
        for hours in (1, 2, 3):
            _check(archive, document_id, BODY, at + dt.timedelta(hours=hours))
        assert reader.get()[0] == second
        # a change of content renews it at once, with every check so far
        with transaction(archive.sessions) as session:
            platform = session.query(Platform).one()
            platform.name = "Example Renamed"
        state = read_state(archive.engine)
        assert reader.get()[0] == f"{state.generation}.{state.checks}" != second
        # with no interval, every check renews it
        reader.checks_interval = 0.0
        _check(archive, document_id, BODY, at + dt.timedelta(hours=4))
        state = read_state(archive.engine)
        assert reader.get()[0] == f"{state.generation}.{state.checks}"
    finally:
        reader.close()


def test_document_page_shows_a_check_within_the_cache_interval(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", confirm_delay=0.0, http_cache_seconds=1)
    archive = Archive.open(settings)
    try:
        archive.sync_registry([platform_decl()])
        document_id = archive.documents()[0].id
        assert _check(archive, document_id, BODY, T0) == Outcome.FIRST_VERSION
        with TestClient(create_app(settings)) as client:
            url = f"/documents/D-{document_id:06d}"
            assert _captures_shown(client.get(url).text) == 1
            _check(archive, document_id, BODY, T0 + dt.timedelta(days=1))
            time.sleep(0.25)  # the reader's interval
            page = client.get(url)  # the first check after a quiet second: shown at once
            assert _captures_shown(page.text) == 2
            _check(archive, document_id, BODY, T0 + dt.timedelta(days=2))
            time.sleep(0.25)
            again = client.get(url)  # within the second: the same representation
            assert again.headers["etag"] == page.headers["etag"]
            assert _captures_shown(again.text) == 2
            time.sleep(1.0)
            assert _captures_shown(client.get(url).text) == 3
    finally:
        archive.close()
