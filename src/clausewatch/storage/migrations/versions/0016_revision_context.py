"""provision revisions: where the segment context was read

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 07:00:00.000000

``provision_revisions.context_start`` / ``context_end``: the span of the version text that a
list item's lead-in ("We may share your personal information with:") or a table row's header
row was read from (``Segment.context_span``). The classifier reads that context with the
provision; the provision page now quotes it, an exact slice of the archived text like the
provision's own. NULL for a provision without one, and for revisions built before this
migration (rebuilding their versions fills them in).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN: a batch copy of the table would drop it, and others reference it
    op.add_column("provision_revisions", sa.Column("context_start", sa.Integer(), nullable=True))
    op.add_column("provision_revisions", sa.Column("context_end", sa.Integer(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE DROP COLUMN (SQLite >= 3.35) for the same reason
    op.drop_column("provision_revisions", "context_end")
    op.drop_column("provision_revisions", "context_start")
