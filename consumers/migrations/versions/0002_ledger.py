"""Points ledger: inbox/event store, append-only entries, payment and balance projections.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_events",
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("payment_id", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("brand", sa.String(16), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("mcc", sa.String(4), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_ledger_events"),
    )
    op.create_index("ix_ledger_events_payment_id", "ledger_events", ["payment_id"])
    op.create_table(
        "ledger_entries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(128)),
        sa.Column("payment_id", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("provisional_delta", sa.BigInteger(), nullable=False),
        sa.Column("confirmed_delta", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_entries"),
        sa.UniqueConstraint("event_id", name="uq_ledger_entries_event_id"),
    )
    op.create_index("ix_ledger_entries_payment_id", "ledger_entries", ["payment_id"])
    op.create_index("ix_ledger_entries_account_id", "ledger_entries", ["account_id"])
    op.create_table(
        "ledger_payments",
        sa.Column("payment_id", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("brand", sa.String(16), nullable=False),
        sa.Column("authorized", sa.BigInteger(), nullable=False),
        sa.Column("reversed", sa.BigInteger(), nullable=False),
        sa.Column("cleared", sa.BigInteger(), nullable=False),
        sa.Column("refunded", sa.BigInteger(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("expired", sa.Boolean(), nullable=False),
        sa.Column("anchor_occurred_at", sa.DateTime(timezone=True)),
        sa.Column("anchor_event_id", sa.String(128)),
        sa.Column("anchor_mcc", sa.String(4)),
        sa.Column("latest_authorized_at", sa.DateTime(timezone=True)),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("confirmed", sa.BigInteger(), nullable=False),
        sa.Column("provisional", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("payment_id", name="pk_ledger_payments"),
    )
    op.create_index("ix_ledger_payments_account_id", "ledger_payments", ["account_id"])
    op.create_index(
        "ix_ledger_payments_latest_authorized_at", "ledger_payments", ["latest_authorized_at"]
    )
    op.create_table(
        "ledger_balances",
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("confirmed", sa.BigInteger(), nullable=False),
        sa.Column("provisional", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_ledger_balances"),
    )


def downgrade() -> None:
    op.drop_table("ledger_balances")
    op.drop_table("ledger_payments")
    op.drop_table("ledger_entries")
    op.drop_table("ledger_events")
