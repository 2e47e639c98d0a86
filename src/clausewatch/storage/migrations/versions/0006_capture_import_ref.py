"""capture import ref: one capture per imported record, enforced by the database

Revision ID: 0006
Revises: 0005
Create Date: 2027-01-10 10:00:00.000000

``captures.import_ref`` holds the reference of the imported record a capture records (its URL,
``ota:<collection>/<service>/<terms type>@<ref>``); NULL for live captures. A unique index makes
"already imported" a database rule, so two imports running at once cannot both record a record.
Existing imports are backfilled with the first capture of each reference; captures that earlier
concurrent imports duplicated keep NULL (and `verify` names them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("captures", sa.Column("import_ref", sa.Text(), nullable=True))
    op.execute(
        "UPDATE captures SET import_ref = url WHERE id IN "
        "(SELECT min(id) FROM captures WHERE fetcher = 'ota-import' GROUP BY url)"
    )
    op.create_index(op.f("ix_captures_import_ref"), "captures", ["import_ref"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_captures_import_ref"), table_name="captures")
    # a plain ALTER TABLE (SQLite 3.35+): a batch copy of captures would trip the foreign keys
    op.drop_column("captures", "import_ref")
