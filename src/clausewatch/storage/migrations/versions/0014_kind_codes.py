"""segment and change kinds as one-letter codes (SQLite)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 21:10:00.000000

``provision_revisions.kind`` (``clause``, ``paragraph``, ``list_item``, ``table_row``) and
``change_items.kind`` (``added``, ``removed``, ``modified``, ``moved``, ``split``, ``merged``)
are stored by SQLite as one letter each (``storage.compressed.ShortCode``); the model reads the
words as before. On the pga history the two columns take 0.67 MB as words. PostgreSQL keeps the
words: nothing changes there. A word outside the set stays as it is. SQLite keeps the freed
pages: ``VACUUM`` gives them back.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clausewatch.storage.compressed import CHANGE_KIND_CODES, SEGMENT_KIND_CODES

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_COLUMNS = (("provision_revisions", SEGMENT_KIND_CODES), ("change_items", CHANGE_KIND_CODES))


def _recode(to_letters: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table, codes in _COLUMNS:
        for word, letter in codes:
            old, new = (word, letter) if to_letters else (letter, word)
            bind.execute(
                sa.text(f"UPDATE {table} SET kind = :new WHERE kind = :old"),
                {"new": new, "old": old},
            )


def upgrade() -> None:
    _recode(to_letters=True)


def downgrade() -> None:
    _recode(to_letters=False)
