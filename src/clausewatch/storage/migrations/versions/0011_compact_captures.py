"""compact captures: binary SHA-256 digests, final URL and import key stored empty when they are
the capture's URL

Revision ID: 0011
Revises: 0010
Create Date: 2027-02-03 10:00:00.000000

What each step changes reads back as before, so nothing is lost and the hash chain verifies as
it did (it commits to the values as read):

- ``captures.snapshot_sha256``, ``text_sha256``, ``chain_prev`` and ``chain_hash`` hold the
  digest's 32 bytes instead of 64 hex characters (``storage.compressed.Sha256Digest``, as
  migration 0010 did for provisions; PostgreSQL: bytea; SQLite keeps the declared VARCHAR(64),
  a mere affinity, so no table is rebuilt). The index of ``snapshot_sha256`` and the unique
  index of ``chain_hash`` shrink with them. A value that is not a lower-case hex digest (none
  is ever written) stops the migration on PostgreSQL, whose bytea cannot hold it; SQLite keeps
  it as the text it was, and it reads as it did.
- ``captures.final_url`` and ``captures.import_ref`` equal to ``url`` (every imported record;
  every fetch that was not redirected) are stored as ``''``, which ``Capture.final_url`` and
  ``Capture.import_ref`` read as the url (``storage.models.SAME_AS_URL``). Not NULL: SQLite
  cannot drop ``final_url``'s NOT NULL without rebuilding ``captures`` (which others reference),
  and an empty text costs a SQLite record the same one header byte as NULL. An archive with a
  capture whose final URL or import key is already ``''`` while its url is not stops the
  migration (those would read as the url).
- ``ix_captures_import_ref`` stays unique, on the import key as read: ``CASE WHEN import_ref =
  '' THEN url ELSE import_ref END`` (NULL for live captures), so a record is still imported
  once however many imports run at once.

SQLite keeps the freed pages for later rows: ``VACUUM`` gives them back to the file system
(PostgreSQL: ``VACUUM`` for the dead rows of the updates). The downgrade restores every value.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_DIGESTS = ("snapshot_sha256", "text_sha256", "chain_prev", "chain_hash")
_HEX = re.compile(r"(?:[0-9a-f]{64})?")  # "" is a digest of no text yet (stored as no bytes)
_INDEX = "ix_captures_import_ref"
# Written exactly as storage.models renders it (the literal inline), so that the ORM's
# `Capture.import_ref == ...` / `.in_(...)` is the indexed expression.
_IMPORT_KEY = "CASE WHEN (import_ref = '') THEN url ELSE import_ref END"


def _refuse_empty_urls(bind: sa.Connection) -> None:
    ids = bind.execute(
        sa.text(
            "SELECT id FROM captures WHERE url <> '' AND (final_url = '' OR import_ref = '') "
            "ORDER BY id"
        )
    ).scalars()
    found = list(ids)
    if found:
        raise RuntimeError(
            f"{len(found)} captures have an empty final URL or import key while their URL is "
            f"not (first: {found[:5]}): not storing final URLs and import keys equal to the "
            "URL as empty texts, which would read as the URL"
        )


def _refuse_non_digests(bind: sa.Connection) -> None:
    """PostgreSQL only: bytea holds the digests' bytes, nothing else."""
    for column in _DIGESTS:
        ids = bind.execute(
            sa.text(f"SELECT id FROM captures WHERE {column} !~ '^([0-9a-f]{{64}})?$' ORDER BY id")
        ).scalars()
        found = list(ids)
        if found:
            raise RuntimeError(
                f"{len(found)} captures hold a {column} that is not a lower-case hex SHA-256 "
                f"(first: {found[:5]}): not converting captures.{column} to bytes"
            )


def _sqlite_digests(bind: sa.Connection, to_bytes: bool) -> None:
    """SQLite: the digest columns' values as bytes (upgrade) or hex (downgrade), one update per
    row that changes; anything else as it is."""

    def converted(stored: object) -> object:
        if to_bytes and isinstance(stored, str) and _HEX.fullmatch(stored):
            return bytes.fromhex(stored)
        if not to_bytes and isinstance(stored, bytes | memoryview):
            return bytes(stored).hex()
        return stored

    columns = ", ".join(_DIGESTS)
    update = sa.text(
        "UPDATE captures SET "
        + ", ".join(f"{column} = :{column}" for column in _DIGESTS)
        + " WHERE id = :id"
    )
    changed = []
    for row_id, *stored in bind.execute(sa.text(f"SELECT id, {columns} FROM captures")).all():
        values = [converted(value) for value in stored]
        if values != stored:
            changed.append({"id": row_id, **dict(zip(_DIGESTS, values, strict=True))})
    if changed:
        bind.execute(update, changed)


def _postgresql_digests(to_bytes: bool) -> None:
    """PostgreSQL: the four columns' type in one ALTER TABLE (one rewrite of the table and of
    its indexes, not four)."""
    clauses = (
        f"ALTER COLUMN {column} TYPE bytea USING decode({column}, 'hex')"
        if to_bytes
        else f"ALTER COLUMN {column} TYPE VARCHAR(64) USING encode({column}, 'hex')"
        for column in _DIGESTS
    )
    op.execute("ALTER TABLE captures " + ", ".join(clauses))


def upgrade() -> None:
    bind = op.get_bind()
    _refuse_empty_urls(bind)
    if bind.dialect.name == "sqlite":
        _sqlite_digests(bind, to_bytes=True)
    else:
        _refuse_non_digests(bind)
        _postgresql_digests(to_bytes=True)
    op.drop_index(_INDEX, table_name="captures")
    op.execute("UPDATE captures SET final_url = '' WHERE final_url = url")
    op.execute("UPDATE captures SET import_ref = '' WHERE import_ref = url")
    op.create_index(_INDEX, "captures", [sa.text(f"({_IMPORT_KEY})")], unique=True)


def downgrade() -> None:
    bind = op.get_bind()
    op.drop_index(_INDEX, table_name="captures")
    op.execute("UPDATE captures SET final_url = url WHERE final_url = ''")
    op.execute("UPDATE captures SET import_ref = url WHERE import_ref = ''")
    op.create_index(_INDEX, "captures", ["import_ref"], unique=True)
    if bind.dialect.name == "sqlite":
        _sqlite_digests(bind, to_bytes=False)
    else:
        _postgresql_digests(to_bytes=False)
