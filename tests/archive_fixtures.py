"""Storage fixtures: every archive test runs on SQLite and on the local PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from clausewatch.archive.service import Archive
from clausewatch.config import Settings

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PG_ADMIN_URL = os.environ.get(
    "CLAUSEWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means: no server here
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A database of its own for this test process, dropped at the end."""
    why = _pg_reachable()
    if why:
        pytest.skip(why)
    name = (
        f"clausewatch_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:8]}"
    )
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _fresh_pg(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def make_settings(tmp_path: Path, database_url: str | None = None, **extra: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        confirm_delay=0.0,
        per_host_delay=0.0,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """The database URL for one backend (None = the embedded SQLite default)."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("pg_server_url")
    _fresh_pg(url)
    return url


@pytest.fixture
def archive(backend: str | None, tmp_path: Path) -> Iterator[Archive]:
    opened = Archive.open(make_settings(tmp_path, backend))
    yield opened
    opened.close()


@pytest.fixture
def sqlite_archive(tmp_path: Path) -> Iterator[Archive]:
    opened = Archive.open(make_settings(tmp_path))
    yield opened
    opened.close()
