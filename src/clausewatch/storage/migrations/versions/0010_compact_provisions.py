"""compact provisions storage: no stored redlines or revision heading paths, layouts as
columns of differences, binary SHA-256 of provision texts

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-29 10:00:00.000000

What each step drops is derivable from what the archive keeps, so nothing is lost:

- ``change_items.redline`` (the word-level redline as JSON, two thirds of the table) is a pure
  function of the provision's text in the record's two versions (their texts in the snapshot
  store, their spans in ``version_layouts``): the read paths compute it when a change record is
  shown (``provisions.service.item_redlines``), as build did.
- ``provision_revisions.heading_path`` repeats the heading path that the revision's version's
  layout holds for the provision (``ProvisionRevision.heading_path`` reads it there). Checked
  for every revision before the column is dropped: a difference stops the migration.
- ``ix_provision_revisions_provision_id`` is dropped: the unique ``(provision_id,
  version_id)`` index serves every lookup by provision.
- ``version_layouts.segments`` are rewritten as columns of differences
  (``storage.compressed.encode_layout``): the same rows read back.
- ``provisions.text_sha256`` and ``provision_revisions.text_sha256`` hold the digest's 32 bytes
  instead of 64 hex characters (``storage.compressed.Sha256Digest``; PostgreSQL: bytea; SQLite
  keeps the declared VARCHAR(64), a mere affinity, so no table is rebuilt).

SQLite keeps the freed pages for later rows: ``VACUUM`` gives them back to the file system. The
downgrade restores every column; the redlines come back empty (``[]``): an older clausewatch
shows change records without them.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from clausewatch.storage.compressed import (
    compress_json_text,
    decode_layout,
    encode_layout,
    load_json,
)

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
_SHA_TABLES = ("provisions", "provision_revisions")


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _layouts(bind: sa.Connection) -> dict[int, tuple[list[list[Any]], list[list[str]]]]:
    rows = bind.execute(sa.text("SELECT version_id, segments, heading_paths FROM version_layouts"))
    return {v: (decode_layout(load_json(s)), load_json(h)) for v, s, h in rows}


def _paths(layout: tuple[list[list[Any]], list[list[str]]]) -> dict[int, list[str]]:
    segments, heading_paths = layout
    return {row[0]: list(heading_paths[row[5]]) for row in segments}


def _rewrite_layouts(bind: sa.Connection, encode: bool) -> None:
    update = sa.text("UPDATE version_layouts SET segments = :s WHERE version_id = :v")
    for version_id, (segments, _) in _layouts(bind).items():
        value = encode_layout(segments) if encode else segments
        bind.execute(update, {"s": compress_json_text(_dump(value)), "v": version_id})


def _check_heading_paths(bind: sa.Connection) -> None:
    layouts = _layouts(bind)
    paths: dict[int, dict[int, list[str]]] = {}
    query = sa.text("SELECT id, provision_id, version_id, heading_path FROM provision_revisions")
    differ = []
    for revision_id, provision_id, version_id, stored in bind.execute(query):
        if version_id not in paths:
            paths[version_id] = _paths(layouts[version_id]) if version_id in layouts else {}
        value = json.loads(stored) if isinstance(stored, str) else stored
        if paths[version_id].get(provision_id) != list(value or []):
            differ.append(revision_id)
    if differ:
        raise RuntimeError(
            f"{len(differ)} provision revisions have a heading path that their version's layout "
            f"does not hold (first: {differ[:5]}): not dropping provision_revisions.heading_path"
        )


def _digests(bind: sa.Connection, table: str, to_bytes: bool) -> None:
    rows = bind.execute(sa.text(f"SELECT id, text_sha256 FROM {table}")).all()
    update = sa.text(f"UPDATE {table} SET text_sha256 = :d WHERE id = :i")
    changed = []
    for row_id, stored in rows:
        if to_bytes and isinstance(stored, str):
            changed.append({"d": bytes.fromhex(stored), "i": row_id})
        elif not to_bytes and not isinstance(stored, str) and stored is not None:
            changed.append({"d": bytes(stored).hex(), "i": row_id})
    if changed:
        bind.execute(update, changed)


def upgrade() -> None:
    bind = op.get_bind()
    _check_heading_paths(bind)
    op.drop_column("provision_revisions", "heading_path")
    op.drop_column("change_items", "redline")
    # the unique (provision_id, version_id) index serves every lookup by provision
    op.drop_index("ix_provision_revisions_provision_id", table_name="provision_revisions")
    _rewrite_layouts(bind, encode=True)
    for table in _SHA_TABLES:
        if bind.dialect.name == "sqlite":
            _digests(bind, table, to_bytes=True)
        else:
            op.alter_column(
                table,
                "text_sha256",
                existing_type=sa.String(64),
                type_=sa.LargeBinary(),
                existing_nullable=False,
                postgresql_using="decode(text_sha256, 'hex')",
            )


def downgrade() -> None:
    bind = op.get_bind()
    for table in _SHA_TABLES:
        if bind.dialect.name == "sqlite":
            _digests(bind, table, to_bytes=False)
        else:
            op.alter_column(
                table,
                "text_sha256",
                existing_type=sa.LargeBinary(),
                type_=sa.String(64),
                existing_nullable=False,
                postgresql_using="encode(text_sha256, 'hex')",
            )
    _rewrite_layouts(bind, encode=False)
    op.create_index("ix_provision_revisions_provision_id", "provision_revisions", ["provision_id"])
    op.add_column("change_items", sa.Column("redline", _JSON, nullable=False, server_default="[]"))
    op.add_column(
        "provision_revisions",
        sa.Column("heading_path", _JSON, nullable=False, server_default="[]"),
    )
    layouts = _layouts(bind)
    update = sa.text("UPDATE provision_revisions SET heading_path = :h WHERE id = :i").bindparams(
        sa.bindparam("h", type_=_JSON)
    )
    rows = bind.execute(sa.text("SELECT id, provision_id, version_id FROM provision_revisions"))
    paths: dict[int, dict[int, list[str]]] = {}
    values = []
    for revision_id, provision_id, version_id in rows.all():
        if version_id not in paths:
            paths[version_id] = _paths(layouts[version_id]) if version_id in layouts else {}
        path = paths[version_id].get(provision_id, [])
        values.append({"h": path, "i": revision_id})
    if values:
        bind.execute(update, values)
    if bind.dialect.name != "sqlite":  # SQLite cannot drop a default without a rebuild
        for table, column in (("change_items", "redline"), ("provision_revisions", "heading_path")):
            op.alter_column(table, column, existing_type=_JSON, server_default=None)
