"""Operator audit: who did what to the queues and the ledger, and each redriven message.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "operator_actions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("command", sa.String(80), nullable=False),
        sa.Column("actor", sa.String(512), nullable=False),
        sa.Column("os_user", sa.String(128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("arguments", sa.Text(), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_operator_actions"),
    )
    op.create_index(
        "ix_operator_actions_started_at", "operator_actions", ["started_at"], unique=False
    )
    op.create_table(
        "redrive_moves",
        sa.Column("id", _ID, nullable=False),
        sa.Column("action_id", _ID, nullable=False),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("dlq_message_id", sa.String(128), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("original_message_id", sa.String(128)),
        sa.Column("event_id", sa.String(128)),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["operator_actions.id"],
            name="fk_redrive_moves_action_id_operator_actions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_redrive_moves"),
    )
    op.create_index("ix_redrive_moves_action_id", "redrive_moves", ["action_id"], unique=False)
    op.create_index("ix_redrive_moves_message_id", "redrive_moves", ["message_id"], unique=False)


def downgrade() -> None:
    op.drop_table("redrive_moves")
    op.drop_table("operator_actions")
