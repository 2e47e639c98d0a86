"""classifications and analyses

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 10:30:36.282941
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import clausewatch.storage.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "narrative_cache",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("writer", sa.String(length=100), nullable=False),
        sa.Column(
            "sections",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "rejected",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_narrative_cache")),
    )
    op.create_table(
        "document_analyses",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("analyser", sa.String(length=40), nullable=False),
        sa.Column("analysed_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_analyses_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_document_analyses_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_document_analyses")),
    )
    op.create_table(
        "classifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("provision_id", sa.Integer(), nullable=False),
        sa.Column("type_id", sa.String(length=60), nullable=False),
        sa.Column("category", sa.String(length=30), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column(
            "severity_reasons",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("evidence_basis", sa.String(length=20), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("supporting_text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provision_id"],
            ["provisions.id"],
            name=op.f("fk_classifications_provision_id_provisions"),
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["provision_revisions.id"],
            name=op.f("fk_classifications_revision_id_provision_revisions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classifications")),
        sa.UniqueConstraint("revision_id", "type_id", name=op.f("uq_classifications_revision_id")),
    )
    with op.batch_alter_table("classifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_classifications_provision_id"), ["provision_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_classifications_revision_id"), ["revision_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_classifications_type_id"), ["type_id"], unique=False)

    op.create_table(
        "provision_analyses",
        sa.Column("provision_id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("primary_type", sa.String(length=60), nullable=True),
        sa.Column("severity", sa.String(length=10), nullable=True),
        sa.Column("confidence", sa.Double(), nullable=True),
        sa.Column("analyser", sa.String(length=40), nullable=False),
        sa.Column("analysed_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "similar",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("unique_wording", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_provision_analyses_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platforms.id"],
            name=op.f("fk_provision_analyses_platform_id_platforms"),
        ),
        sa.ForeignKeyConstraint(
            ["provision_id"],
            ["provisions.id"],
            name=op.f("fk_provision_analyses_provision_id_provisions"),
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["provision_revisions.id"],
            name=op.f("fk_provision_analyses_revision_id_provision_revisions"),
        ),
        sa.PrimaryKeyConstraint("provision_id", name=op.f("pk_provision_analyses")),
    )
    with op.batch_alter_table("provision_analyses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provision_analyses_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(
            "ix_provision_analyses_platform", ["platform_id", "current"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_provision_analyses_revision_id"), ["revision_id"], unique=False
        )
        batch_op.create_index(
            "ix_provision_analyses_type_current", ["primary_type", "current"], unique=False
        )

    op.create_table(
        "revision_analyses",
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("analyser", sa.String(length=40), nullable=False),
        sa.Column("analysed_at", clausewatch.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["provision_revisions.id"],
            name=op.f("fk_revision_analyses_revision_id_provision_revisions"),
        ),
        sa.PrimaryKeyConstraint("revision_id", name=op.f("pk_revision_analyses")),
    )
    with op.batch_alter_table("change_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "assessment",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'[]'"),
            )
        )

    with op.batch_alter_table("change_records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "assessment",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'[]'"),
            )
        )
        batch_op.add_column(sa.Column("analyser", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("change_records", schema=None) as batch_op:
        batch_op.drop_column("analyser")
        batch_op.drop_column("assessment")

    with op.batch_alter_table("change_items", schema=None) as batch_op:
        batch_op.drop_column("assessment")

    op.drop_table("revision_analyses")
    with op.batch_alter_table("provision_analyses", schema=None) as batch_op:
        batch_op.drop_index("ix_provision_analyses_type_current")
        batch_op.drop_index(batch_op.f("ix_provision_analyses_revision_id"))
        batch_op.drop_index("ix_provision_analyses_platform")
        batch_op.drop_index(batch_op.f("ix_provision_analyses_document_id"))

    op.drop_table("provision_analyses")
    with op.batch_alter_table("classifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_classifications_type_id"))
        batch_op.drop_index(batch_op.f("ix_classifications_revision_id"))
        batch_op.drop_index(batch_op.f("ix_classifications_provision_id"))

    op.drop_table("classifications")
    op.drop_table("document_analyses")
    op.drop_table("narrative_cache")
