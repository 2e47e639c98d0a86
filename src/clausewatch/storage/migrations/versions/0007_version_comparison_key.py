"""version comparison key: texts that differ only in noise are one version

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-20 10:00:00.000000

``versions.comparison_sha256`` is the SHA-256 of ``extract.normalise.comparison_key`` of the
version's text (spelling locale, image addresses, consent counters… hidden). A new text with the
current version's key is a variant of it, not a change. NULL for versions recorded before: the
archive computes and stores it the first time it compares against that version.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("versions", sa.Column("comparison_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("versions", "comparison_sha256")
