"""The indexes ``points ledger explain --month`` reads by, so that its cost follows the
month asked about, not the account's lifetime:

- ``ix_ledger_payments_account_id_month`` on ``ledger_payments (account_id, month)``: the
  payments an account-month counts. It replaces ``ix_ledger_payments_account_id``, whose
  every lookup it serves (``account_id`` is its leading column), so a payment write still
  maintains as many indexes as before (``month`` changes only with the anchor, whose
  ``anchor_occurred_at`` is indexed already: no update that was HOT stops being so).
- ``ix_ledger_entries_account_id_grants``, on ``ledger_entries (account_id)`` for the
  entries without a payment (grants and rules corrections) only: an account's grants
  without visiting its every entry. Partial, so payment entries never touch it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_NO_PAYMENT = sa.text("payment_id IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_ledger_payments_account_id_month",
        "ledger_payments",
        ["account_id", "month"],
        unique=False,
    )
    op.drop_index("ix_ledger_payments_account_id", table_name="ledger_payments")
    op.create_index(
        "ix_ledger_entries_account_id_grants",
        "ledger_entries",
        ["account_id"],
        unique=False,
        postgresql_where=_NO_PAYMENT,
        sqlite_where=_NO_PAYMENT,
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_account_id_grants", table_name="ledger_entries")
    op.create_index(
        "ix_ledger_payments_account_id", "ledger_payments", ["account_id"], unique=False
    )
    op.drop_index("ix_ledger_payments_account_id_month", table_name="ledger_payments")
