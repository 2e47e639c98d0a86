"""initial archive schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 08:05:35.814779
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import clausewatch.storage.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_capture_id", sa.Integer(), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_head")),
    )
    op.create_table(
        "platforms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column(
            "jurisdictions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("website", sa.String(length=2000), nullable=False),
        sa.Column("created_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platforms")),
        sa.UniqueConstraint("slug", name=op.f("uq_platforms_slug")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("doc_type", sa.String(length=200), nullable=False),
        sa.Column(
            "declaration",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("declaration_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("current_version_id", sa.Integer(), nullable=True),
        sa.Column(
            "last_checked_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "last_verified_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "validators",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_documents_platform_id_platforms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("platform_id", "doc_type", name=op.f("uq_documents_platform_id")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "pending_changes",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "first_seen_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "capture_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_pending_changes_document_id_documents")
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_pending_changes")),
    )
    op.create_table(
        "versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("predecessor_id", sa.Integer(), nullable=True),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("text_length", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("recorded_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("extractor_version", sa.String(length=20), nullable=False),
        sa.Column("declaration_fingerprint", sa.String(length=64), nullable=False),
        sa.Column(
            "origin",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_versions_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["predecessor_id"], ["versions.id"], name=op.f("fk_versions_predecessor_id_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_versions")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_versions_document_recorded", ["document_id", "recorded_at"], unique=False
        )

    op.create_table(
        "captures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.String(length=32), nullable=False),
        sa.Column("source_index", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("final_url", sa.Text(), nullable=False),
        sa.Column("fetcher", sa.String(length=20), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column(
            "headers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "redirect_chain",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "timings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("elapsed_ms", sa.Double(), nullable=False),
        sa.Column("snapshot_sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("text_sha256", sa.String(length=64), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("chain_prev", sa.String(length=64), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_captures_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_captures_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_captures")),
        sa.UniqueConstraint("chain_hash", name=op.f("uq_captures_chain_hash")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("captures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_captures_check_id"), ["check_id"], unique=False)
        batch_op.create_index(
            "ix_captures_document_started", ["document_id", "started_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_captures_snapshot_sha256"), ["snapshot_sha256"], unique=False
        )

    op.create_table(
        "variants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("created_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_variants_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_variants_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variants")),
        sa.UniqueConstraint("document_id", "text_sha256", name=op.f("uq_variants_document_id")),
    )
    op.create_table(
        "version_captures",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("capture_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["capture_id"], ["captures.id"], name=op.f("fk_version_captures_capture_id_captures")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_version_captures_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("version_id", "capture_id", name=op.f("pk_version_captures")),
    )
    # documents <-> versions reference each other: add this key once both tables exist.
    with op.batch_alter_table("documents") as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_documents_current_version_id_versions"),
            "versions",
            ["current_version_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch_op:
        batch_op.drop_constraint(
            op.f("fk_documents_current_version_id_versions"), type_="foreignkey"
        )
    op.drop_table("version_captures")
    op.drop_table("variants")
    with op.batch_alter_table("captures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_captures_snapshot_sha256"))
        batch_op.drop_index("ix_captures_document_started")
        batch_op.drop_index(batch_op.f("ix_captures_check_id"))

    op.drop_table("captures")
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.drop_index("ix_versions_document_recorded")

    op.drop_table("versions")
    op.drop_table("pending_changes")
    op.drop_table("documents")
    op.drop_table("platforms")
    op.drop_table("log_head")
