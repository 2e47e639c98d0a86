"""archive state: a second counter for capture checks

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 04:00:00.000000

``archive_state.checks`` (with ``checked_at``) goes up in a write transaction that only records
capture checks (captures, their links to versions, the hash chain's head, a document's
last-checked time and validators); ``generation`` keeps counting every other change. A capture
cycle that finds its documents unchanged no longer moves ``generation``, so what depends only on
the archive's content (per-state figures, rendered pages beyond the checks' own bounded delay)
survives it (docs/web.md#http-caching, issue #13).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import clausewatch.storage.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("archive_state") as batch:
        batch.add_column(sa.Column("checks", sa.BigInteger(), server_default="0", nullable=False))
        batch.add_column(
            sa.Column(
                "checked_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("archive_state") as batch:
        batch.drop_column("checked_at")
        batch.drop_column("checks")
