"""compact provision rows: first and last seen read from the versions, heading paths stored once,
the text hash read from the latest revision

Revision ID: 0012
Revises: 0011
Create Date: 2027-02-06 10:00:00.000000

What each step drops is held elsewhere in the archive, and ``storage.models.Provision`` reads it
there under the same names (``column_property``), so readers, exports and pages see the same
values:

- ``provisions.first_seen_at`` and ``last_seen_at`` are the ``recorded_at`` of
  ``first_version_id`` and ``last_version_id`` (the build wrote them so).
- ``provisions.text_sha256`` is the ``text_sha256`` of the provision's latest revision (a
  revision is written whenever the text changes; the unique ``(provision_id, version_id)``
  index finds the latest).
- ``provisions.heading_path`` (JSON text on every row; neighbouring provisions share theirs) is
  stored once per distinct path in a new table ``heading_paths`` (``id``, ``key``: the first 8
  bytes of the SHA-256 of the path's compact JSON, indexed, for the build's lookup; ``path``:
  that JSON), and ``provisions.heading_path_id`` points at it (NULL: no heading).

Each of the three equalities is checked on every row before anything changes: a difference
stops the migration and names the rows. SQLite keeps the freed pages for later rows: ``VACUUM``
gives them back to the file system (PostgreSQL: ``VACUUM`` for the dead rows of the update).
The downgrade restores every column and value (SQLite: with the server defaults that a NOT
NULL column added to a filled table needs; SQLite cannot drop them without a rebuild).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from clausewatch.storage.compressed import heading_path_json, heading_path_key
from clausewatch.storage.db import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
_SEEN = ("first_seen_at", "last_seen_at")
_LATEST_SHA = (
    "(SELECT r.text_sha256 FROM provision_revisions r WHERE r.provision_id = provisions.id "
    "ORDER BY r.version_id DESC LIMIT 1)"
)


def _seen_at(column: str) -> str:
    version = column.replace("_seen_at", "_version_id")
    return f"(SELECT v.recorded_at FROM versions v WHERE v.id = provisions.{version})"


def _refuse_differences(bind: sa.Connection) -> None:
    """Every dropped value must be the one the model will read in its place."""
    differs = "IS NOT" if bind.dialect.name == "sqlite" else "IS DISTINCT FROM"
    checks = {
        **{column: f"{column} {differs} {_seen_at(column)}" for column in _SEEN},
        "text_sha256": f"text_sha256 {differs} {_LATEST_SHA}",
    }
    for column, condition in checks.items():
        found = list(
            bind.execute(
                sa.text(f"SELECT id FROM provisions WHERE {condition} ORDER BY id")
            ).scalars()
        )
        if found:
            source = "its latest revision's" if column == "text_sha256" else "its version's"
            raise RuntimeError(
                f"{len(found)} provisions have a {column} other than {source} (first: "
                f"{found[:5]}): not dropping provisions.{column}"
            )


def _fill_heading_paths(bind: sa.Connection) -> None:
    """One ``heading_paths`` row per distinct non-empty path, in order of first use; every
    provision pointed at its path's row."""
    rows = bind.execute(sa.text("SELECT id, heading_path FROM provisions ORDER BY id")).all()
    by_path: dict[str, list[int]] = {}
    for provision_id, stored in rows:
        value = json.loads(stored) if isinstance(stored, str) else stored
        if value:
            by_path.setdefault(heading_path_json(value), []).append(provision_id)
    if not by_path:
        return
    table = sa.table(
        "heading_paths", sa.column("id", sa.Integer), sa.column("key"), sa.column("path")
    )
    bind.execute(
        table.insert(),
        [
            {"id": n, "key": heading_path_key(text), "path": text}
            for n, text in enumerate(by_path, start=1)
        ],
    )
    if bind.dialect.name == "postgresql":  # the serial's next value after the explicit ids
        bind.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('heading_paths', 'id'), "
                "(SELECT max(id) FROM heading_paths))"
            )
        )
    update = sa.text("UPDATE provisions SET heading_path_id = :h WHERE id = :i")
    bind.execute(
        update,
        [
            {"h": n, "i": provision_id}
            for n, ids in enumerate(by_path.values(), start=1)
            for provision_id in ids
        ],
    )


def upgrade() -> None:
    bind = op.get_bind()
    _refuse_differences(bind)
    op.create_table(
        "heading_paths",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_heading_paths")),
    )
    op.create_index("ix_heading_paths_key", "heading_paths", ["key"])
    op.add_column("provisions", sa.Column("heading_path_id", sa.Integer(), nullable=True))
    _fill_heading_paths(bind)
    for column in (*_SEEN, "heading_path", "text_sha256"):
        op.drop_column("provisions", column)


def _add_not_null(bind: sa.Connection, column: str, type_: Any, sqlite_default: str) -> None:
    """A NOT NULL column added to a filled table: SQLite needs a default, PostgreSQL gets its
    NOT NULL once the column is filled (:func:`downgrade`)."""
    if bind.dialect.name == "sqlite":
        op.add_column(
            "provisions",
            sa.Column(column, type_, nullable=False, server_default=sa.text(sqlite_default)),
        )
    else:
        op.add_column("provisions", sa.Column(column, type_, nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    sha_type: sa.types.TypeEngine[Any] = (
        sa.String(64) if bind.dialect.name == "sqlite" else sa.LargeBinary()
    )
    for column in _SEEN:
        _add_not_null(bind, column, UTCDateTime(timezone=True), "'1970-01-01 00:00:00.000000'")
    _add_not_null(bind, "heading_path", _JSON, "'[]'")
    _add_not_null(bind, "text_sha256", sha_type, "''")
    op.execute(
        "UPDATE provisions SET "
        + ", ".join(f"{column} = {_seen_at(column)}" for column in _SEEN)
        + f", text_sha256 = {_LATEST_SHA}"
    )
    paths = {
        path_id: json.loads(text)
        for path_id, text in bind.execute(sa.text("SELECT id, path FROM heading_paths"))
    }
    rows = bind.execute(sa.text("SELECT id, heading_path_id FROM provisions")).all()
    update = sa.text("UPDATE provisions SET heading_path = :h WHERE id = :i").bindparams(
        sa.bindparam("h", type_=_JSON)
    )
    values = [{"h": paths.get(path_id, []), "i": provision_id} for provision_id, path_id in rows]
    if values:
        bind.execute(update, values)
    op.drop_column("provisions", "heading_path_id")
    op.drop_index("ix_heading_paths_key", table_name="heading_paths")
    op.drop_table("heading_paths")
    if bind.dialect.name != "sqlite":
        restored: list[tuple[str, sa.types.TypeEngine[Any]]] = [
            *((c, UTCDateTime(timezone=True)) for c in _SEEN),
            ("heading_path", _JSON),
            ("text_sha256", sha_type),
        ]
        for column, type_ in restored:
            op.alter_column("provisions", column, existing_type=type_, nullable=False)
