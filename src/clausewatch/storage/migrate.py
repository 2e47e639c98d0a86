"""Schema migrations (Alembic), shipped in the package and run by `clausewatch db upgrade`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"

# The full-text index lives outside the models (migration 0004): SQLite's FTS5 table and its
# shadow tables, PostgreSQL's generated tsvector column and its GIN index.
SEARCH_INDEX_TABLE = "search_fts"
SEARCH_INDEX_OBJECTS = frozenset({"search_vector", "ix_search_entries_search_vector"})
# Indexes on an expression (migration 0011), which Alembic cannot compare: SQLite's are not
# reflected, PostgreSQL's come back in its own wording. tests/test_compact_captures.py checks
# that they exist and serve the ORM's queries.
EXPRESSION_INDEXES = frozenset({"ix_captures_import_ref"})


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's autogenerate filter: leave the search index objects and the indexes on
    expressions out of the comparison."""
    if name is None:
        return True
    if type_ == "table" and name.startswith(SEARCH_INDEX_TABLE):
        return False
    return name not in SEARCH_INDEX_OBJECTS and name not in EXPRESSION_INDEXES


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the schema down to ``revision`` (tests of a migration; an operator's way back)."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
