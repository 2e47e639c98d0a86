"""archive state counter; indexed severity order of the provision lists

Revision ID: 0008
Revises: 0007
Create Date: 2027-01-27 10:00:00.000000

``archive_state`` holds one row whose ``generation`` every write transaction that changes
what the site shows increments, in the same transaction (``storage.db.transaction``): the web
layer's response cache and ETags are keyed on it. ``provision_analyses.severity_order``
(0 High … 3 no severity) with the index ``(severity_order, provision_id, current)`` makes the
lists' default order (most severe first) a range scan instead of a sort of every current
provision; existing rows are filled from ``severity``.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

import clausewatch.storage.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    state = op.create_table(
        "archive_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_state")),
    )
    op.bulk_insert(state, [{"id": 1, "generation": 1, "changed_at": dt.datetime.now(dt.UTC)}])
    with op.batch_alter_table("provision_analyses") as batch:
        batch.add_column(
            sa.Column("severity_order", sa.Integer(), server_default="3", nullable=False)
        )
    op.execute(
        "UPDATE provision_analyses SET severity_order = CASE severity "
        "WHEN 'High' THEN 0 WHEN 'Medium' THEN 1 WHEN 'Low' THEN 2 ELSE 3 END"
    )
    op.create_index(
        "ix_provision_analyses_list",
        "provision_analyses",
        ["severity_order", "provision_id", "current"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_provision_analyses_list", table_name="provision_analyses")
    with op.batch_alter_table("provision_analyses") as batch:
        batch.drop_column("severity_order")
    op.drop_table("archive_state")
