"""full-text search over current provisions

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:00:00.000000

The plain table ``search_entries`` is in the models; the index over it is not (see
``clausewatch.storage.migrate.include_object``, which keeps it out of autogenerate):

- SQLite: ``search_fts``, an FTS5 external-content table on ``search_entries`` kept in step by
  three triggers; tokenizer ``unicode61 remove_diacritics 2`` (any language, accents folded).
- PostgreSQL: a generated ``tsvector`` column ``search_vector`` with a GIN index; title weight
  A, text B, heading/document type/clause type C (in ``clausewatch_english``: the ``english``
  configuration with accents folded by ``unaccent`` where that extension is available, as FTS5's
  ``remove_diacritics`` does), platform name and severity D (``simple``: names are not English
  words).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FTS_COLUMNS = "title, heading, body, platform, document_type, primary_type, severity"


def _values(prefix: str) -> str:
    return ", ".join(f"{prefix}.{c.strip()}" for c in FTS_COLUMNS.split(","))


SQLITE = [
    f"""CREATE VIRTUAL TABLE search_fts USING fts5(
        {FTS_COLUMNS},
        content='search_entries', content_rowid='provision_id',
        tokenize='unicode61 remove_diacritics 2'
    )""",
    f"""CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN
        INSERT INTO search_fts(rowid, {FTS_COLUMNS})
        VALUES (new.provision_id, {_values("new")});
    END""",
    f"""CREATE TRIGGER search_entries_ad AFTER DELETE ON search_entries BEGIN
        INSERT INTO search_fts(search_fts, rowid, {FTS_COLUMNS})
        VALUES ('delete', old.provision_id, {_values("old")});
    END""",
    f"""CREATE TRIGGER search_entries_au AFTER UPDATE ON search_entries BEGIN
        INSERT INTO search_fts(search_fts, rowid, {FTS_COLUMNS})
        VALUES ('delete', old.provision_id, {_values("old")});
        INSERT INTO search_fts(rowid, {FTS_COLUMNS})
        VALUES (new.provision_id, {_values("new")});
    END""",
]

PG_CONFIG = "clausewatch_english"
POSTGRESQL = [
    """ALTER TABLE search_entries ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('clausewatch_english'::regconfig, coalesce(title, '')), 'A')
        || setweight(to_tsvector('clausewatch_english'::regconfig, coalesce(body, '')), 'B')
        || setweight(to_tsvector('clausewatch_english'::regconfig, coalesce(heading, '') || ' '
            || coalesce(document_type, '') || ' '
            || replace(coalesce(primary_type, ''), '-', ' ')), 'C')
        || setweight(to_tsvector('simple'::regconfig, coalesce(platform, '') || ' '
            || coalesce(severity, '')), 'D')
    ) STORED""",
    "CREATE INDEX ix_search_entries_search_vector ON search_entries USING gin (search_vector)",
]


def _text_search_configuration() -> None:
    """``clausewatch_english``: English stemming, with accents folded first when the (trusted,
    contrib) ``unaccent`` extension can be created; plain English otherwise."""
    bind = op.get_bind()
    op.execute(f"CREATE TEXT SEARCH CONFIGURATION {PG_CONFIG} (COPY = pg_catalog.english)")
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent'")
    ).first()
    if available is None:
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS unaccent"))
    except sa.exc.DBAPIError:  # no privilege to create it: accents stay significant
        return
    op.execute(
        f"ALTER TEXT SEARCH CONFIGURATION {PG_CONFIG} "
        "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem"
    )


def upgrade() -> None:
    op.create_table(
        "search_entries",
        sa.Column("provision_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("heading", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("platform", sa.String(length=200), nullable=False),
        sa.Column("document_type", sa.String(length=200), nullable=False),
        sa.Column("primary_type", sa.String(length=60), nullable=True),
        sa.Column("severity", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_search_entries_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_search_entries_platform_id_platforms")
        ),
        sa.ForeignKeyConstraint(
            ["provision_id"],
            ["provisions.id"],
            name=op.f("fk_search_entries_provision_id_provisions"),
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["provision_revisions.id"],
            name=op.f("fk_search_entries_revision_id_provision_revisions"),
        ),
        sa.PrimaryKeyConstraint("provision_id", name=op.f("pk_search_entries")),
    )
    with op.batch_alter_table("search_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_search_entries_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_search_entries_platform_id"), ["platform_id"], unique=False
        )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _text_search_configuration()
    for statement in {"sqlite": SQLITE, "postgresql": POSTGRESQL}.get(dialect, []):
        op.execute(statement)
    # Entries are written when analyse refreshes a document: make every document due again so
    # that an archive analysed before this migration gets its search entries on the next run.
    op.execute("DELETE FROM document_analyses")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE search_entries DROP COLUMN search_vector")
        op.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {PG_CONFIG}")
    if op.get_bind().dialect.name == "sqlite":
        for name in ("search_entries_au", "search_entries_ad", "search_entries_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    with op.batch_alter_table("search_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_entries_platform_id"))
        batch_op.drop_index(batch_op.f("ix_search_entries_document_id"))
    op.drop_table("search_entries")
