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

Both can be built beforehand without blocking writes: ``points db upgrade
--concurrent-indexes`` builds them with ``CREATE INDEX CONCURRENTLY`` and drops the replaced
index concurrently, and this migration then keeps the valid indexes it finds (an INVALID
leftover of an interrupted build is dropped and built again): ``consumers.migrations.indexes``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

from consumers.migrations.indexes import OnlineIndex, OnlineIndexes, create_in_migration

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PAYMENTS_BY_MONTH = OnlineIndex(
    "ix_ledger_payments_account_id_month", "ledger_payments", ("account_id", "month")
)
GRANTS = OnlineIndex(
    "ix_ledger_entries_account_id_grants",
    "ledger_entries",
    ("account_id",),
    where="payment_id IS NULL",
)
PAYMENTS_BY_ACCOUNT = OnlineIndex(
    "ix_ledger_payments_account_id", "ledger_payments", ("account_id",)
)
#: What ``points db upgrade --concurrent-indexes`` builds (and drops) before this runs.
ONLINE = OnlineIndexes(build=(PAYMENTS_BY_MONTH, GRANTS), replaces=(PAYMENTS_BY_ACCOUNT,))


def upgrade() -> None:
    create_in_migration(PAYMENTS_BY_MONTH)
    # Gone already when --concurrent-indexes dropped it (concurrently).
    op.drop_index(PAYMENTS_BY_ACCOUNT.name, table_name="ledger_payments", if_exists=True)
    create_in_migration(GRANTS)


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_account_id_grants", table_name="ledger_entries")
    op.create_index(
        "ix_ledger_payments_account_id", "ledger_payments", ["account_id"], unique=False
    )
    op.drop_index("ix_ledger_payments_account_id_month", table_name="ledger_payments")
