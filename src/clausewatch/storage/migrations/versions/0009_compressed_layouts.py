"""version layouts stored zstd-compressed

Revision ID: 0009
Revises: 0008
Create Date: 2027-01-28 10:00:00.000000

``version_layouts.segments`` and ``heading_paths`` (JSON, about 14 KB per version, four fifths
of the pga history's database) become one zstd frame of the same JSON each (BLOB / bytea,
`storage.compressed.CompressedJSON`); existing rows are compressed in place. SQLite keeps the
freed pages for later rows: ``VACUUM`` gives them back to the file system.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from clausewatch.storage.compressed import ZSTD_MAGIC, compress_json_text, load_json

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_COLUMNS = ("segments", "heading_paths")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def _rows(bind: sa.Connection) -> list[tuple[int, bytes | str, bytes | str]]:
    query = sa.text("SELECT version_id, segments, heading_paths FROM version_layouts")
    return [(r[0], r[1], r[2]) for r in bind.execute(query)]


def upgrade() -> None:
    with op.batch_alter_table("version_layouts") as batch:
        for column in _COLUMNS:
            batch.alter_column(
                column,
                existing_type=_JSON,
                type_=sa.LargeBinary(),
                existing_nullable=False,
                postgresql_using=f"convert_to({column}::text, 'UTF8')",
            )
    bind = op.get_bind()
    update = sa.text(
        "UPDATE version_layouts SET segments = :s, heading_paths = :h WHERE version_id = :v"
    )
    for version_id, *cells in _rows(bind):
        stored = [c.encode() if isinstance(c, str) else bytes(c) for c in cells]
        if all(s[:4] == ZSTD_MAGIC for s in stored):
            continue
        s, h = (c if c[:4] == ZSTD_MAGIC else compress_json_text(c) for c in stored)
        bind.execute(update, {"s": s, "h": h, "v": version_id})


def downgrade() -> None:
    bind = op.get_bind()
    rows = [(v, *(json.dumps(load_json(c)) for c in cells)) for v, *cells in _rows(bind)]
    with op.batch_alter_table("version_layouts") as batch:
        for column in _COLUMNS:
            batch.alter_column(
                column,
                existing_type=sa.LargeBinary(),
                type_=sa.Text(),
                existing_nullable=False,
                postgresql_using="''",  # rewritten below from the rows read above
            )
    update = sa.text(
        "UPDATE version_layouts SET segments = :s, heading_paths = :h WHERE version_id = :v"
    )
    for version_id, s, h in rows:
        bind.execute(update, {"s": s, "h": h, "v": version_id})
    with op.batch_alter_table("version_layouts") as batch:
        for column in _COLUMNS:
            batch.alter_column(
                column,
                existing_type=sa.Text(),
                type_=_JSON,
                existing_nullable=False,
                postgresql_using=f"{column}::jsonb",
            )
