"""Rules are data: published rule versions and their publications (DESIGN §4.6), and the
indexes a backdated publication reads by (payments by anchor instant, months by month).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_rule_publications",
        sa.Column("id", _ID, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(512), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("backdated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_rule_publications"),
    )
    op.create_table(
        "ledger_rule_versions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True)),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("publication_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["ledger_rule_publications.id"],
            name="fk_ledger_rule_versions_publication_id_ledger_rule_publications",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_rule_versions"),
        sa.UniqueConstraint("effective_from", name="uq_ledger_rule_versions_effective_from"),
    )
    op.create_index(
        "ix_ledger_rule_versions_publication_id",
        "ledger_rule_versions",
        ["publication_id"],
        unique=False,
    )

    op.create_index(
        "ix_ledger_payments_anchor_occurred_at",
        "ledger_payments",
        ["anchor_occurred_at"],
        unique=False,
    )
    op.create_index("ix_ledger_months_month", "ledger_months", ["month"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ledger_months_month", table_name="ledger_months")
    op.drop_index("ix_ledger_payments_anchor_occurred_at", table_name="ledger_payments")
    op.drop_table("ledger_rule_versions")
    op.drop_table("ledger_rule_publications")
