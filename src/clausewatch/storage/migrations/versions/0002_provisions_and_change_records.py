"""provisions and change records

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 09:16:18.301796
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import clausewatch.storage.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("from_version_id", sa.Integer(), nullable=False),
        sa.Column("to_version_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "counts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("effective_date", sa.String(length=10), nullable=True),
        sa.Column("severity", sa.String(length=10), nullable=True),
        sa.Column("direction", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_change_records_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["from_version_id"],
            ["versions.id"],
            name=op.f("fk_change_records_from_version_id_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["to_version_id"],
            ["versions.id"],
            name=op.f("fk_change_records_to_version_id_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_records")),
        sa.UniqueConstraint("to_version_id", name=op.f("uq_change_records_to_version_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("change_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_change_records_document_id"), ["document_id"], unique=False
        )

    op.create_table(
        "provisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("first_version_id", sa.Integer(), nullable=False),
        sa.Column("last_version_id", sa.Integer(), nullable=False),
        sa.Column(
            "first_seen_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "last_seen_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("revisions", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column(
            "heading_path",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_provisions_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["first_version_id"],
            ["versions.id"],
            name=op.f("fk_provisions_first_version_id_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["last_version_id"],
            ["versions.id"],
            name=op.f("fk_provisions_last_version_id_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisions")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("provisions", schema=None) as batch_op:
        batch_op.create_index("ix_provisions_document", ["document_id"], unique=False)

    op.create_table(
        "version_layouts",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("segmenter_version", sa.String(length=20), nullable=False),
        sa.Column(
            "segments",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "heading_paths",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_version_layouts_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_version_layouts")),
    )
    op.create_table(
        "change_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("provision_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("substantive", sa.Boolean(), nullable=False),
        sa.Column("similarity", sa.Double(), nullable=True),
        sa.Column(
            "redline",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "sentences",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "parameter_changes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "related",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("severity", sa.String(length=10), nullable=True),
        sa.Column("direction", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["change_records.id"],
            name=op.f("fk_change_items_change_id_change_records"),
        ),
        sa.ForeignKeyConstraint(
            ["provision_id"],
            ["provisions.id"],
            name=op.f("fk_change_items_provision_id_provisions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_items")),
    )
    with op.batch_alter_table("change_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_items_change_id"), ["change_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_change_items_provision_id"), ["provision_id"], unique=False
        )

    op.create_table(
        "provision_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provision_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=50), nullable=True),
        sa.Column(
            "heading_path",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "parameters",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["provision_id"],
            ["provisions.id"],
            name=op.f("fk_provision_revisions_provision_id_provisions"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_provision_revisions_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provision_revisions")),
        sa.UniqueConstraint(
            "provision_id", "version_id", name=op.f("uq_provision_revisions_provision_id")
        ),
    )
    with op.batch_alter_table("provision_revisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provision_revisions_provision_id"), ["provision_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_provision_revisions_version_id"), ["version_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("provision_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provision_revisions_version_id"))
        batch_op.drop_index(batch_op.f("ix_provision_revisions_provision_id"))

    op.drop_table("provision_revisions")
    with op.batch_alter_table("change_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_items_provision_id"))
        batch_op.drop_index(batch_op.f("ix_change_items_change_id"))

    op.drop_table("change_items")
    op.drop_table("version_layouts")
    with op.batch_alter_table("provisions", schema=None) as batch_op:
        batch_op.drop_index("ix_provisions_document")

    op.drop_table("provisions")
    with op.batch_alter_table("change_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_records_document_id"))

    op.drop_table("change_records")
