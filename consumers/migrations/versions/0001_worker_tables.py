"""Worker tables: the failure journal and rendered notifications.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "failures",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("event_id", sa.String(128)),
        sa.Column("event_type", sa.String(40)),
        sa.Column("payment_id", sa.String(128)),
        sa.Column("error_type", sa.String(80), nullable=False),
        sa.Column("error_message", sa.String(1000), nullable=False),
        sa.Column("permanent", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_failures"),
    )
    op.create_index("ix_failures_message_id", "failures", ["message_id"])
    op.create_index("ix_failures_event_id", "failures", ["event_id"])
    op.create_table(
        "notifications",
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("payment_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_notifications"),
    )
    op.create_index("ix_notifications_account_id", "notifications", ["account_id"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("failures")
