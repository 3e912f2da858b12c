"""Points v2 (DESIGN §4): account-months, grants in the inbox, the facts v2 needs.

- ``ledger_events`` (the event store) also holds ``points_grant`` events: an event without
  a payment (``payment_id``, ``brand``, ``amount``, ``mcc`` become nullable; ``points``,
  ``reason``, ``source`` are new). ``country`` (the merchant's) is new and filled from each
  stored body, since campaigns match on the anchor's country.
- ``ledger_payments`` gains the returned breakdown (``refund_reversed``, ``charged_back``,
  ``chargeback_reversed``: 0 for v1 payments, which had none), ``anchor_country``, the
  account-``month`` (JST month of the anchor), and ``rate_bp``/``campaigns`` as computed
  (NULL for v1 rows: the v1 rules file is not known here; the next change writes them).
- ``ledger_months`` (new): per account and month the earned and credited points. v1 had
  no cap, so credited = earned = Σ of the month's payments' points, and every balance
  (Σ entries = Σ payment points in v1) equals Σ credited of its months: balances are kept.
- ``ledger_entries``: ``payment_id`` nullable (grant entries), ``month`` new (filled with
  the payment's month for v1 entries).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: Fill the merchant country from each stored body, per dialect (whole statements: no
#: SQL is ever built from formatted strings).
_FILL_COUNTRY = {
    "postgresql": ("UPDATE ledger_events SET country = (body::json -> 'merchant' ->> 'country')"),
    "sqlite": "UPDATE ledger_events SET country = json_extract(body, '$.merchant.country')",
}
_ANCHOR_COUNTRY = (
    "anchor_country = (SELECT e.country FROM ledger_events e "
    "WHERE e.event_id = ledger_payments.anchor_event_id) "
    "WHERE anchor_event_id IS NOT NULL"
)
#: The JST month of the anchor and its merchant country, per dialect.
_FILL_PAYMENTS = {
    "postgresql": (
        "UPDATE ledger_payments SET "
        "month = to_char(anchor_occurred_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM'), "
        + _ANCHOR_COUNTRY
    ),
    "sqlite": (
        "UPDATE ledger_payments SET "
        "month = strftime('%Y-%m', anchor_occurred_at, '+9 hours'), " + _ANCHOR_COUNTRY
    ),
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("ledger_events") as events:
        for name in ("payment_id", "brand", "amount", "mcc"):
            events.alter_column(name, existing_type=_type_of(name), nullable=True)
        events.add_column(sa.Column("country", sa.String(2)))
        events.add_column(sa.Column("points", sa.BigInteger()))
        events.add_column(sa.Column("reason", sa.String(16)))
        events.add_column(sa.Column("source", sa.String(64)))
    op.execute(_FILL_COUNTRY[dialect])
    with op.batch_alter_table("ledger_payments") as payments:
        for name in ("refund_reversed", "charged_back", "chargeback_reversed"):
            payments.add_column(
                sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")
            )
        payments.add_column(sa.Column("anchor_country", sa.String(2)))
        payments.add_column(sa.Column("month", sa.String(7)))
        payments.add_column(sa.Column("rate_bp", sa.Integer()))
        payments.add_column(sa.Column("campaigns", sa.Text()))
    op.execute(_FILL_PAYMENTS[dialect])
    with op.batch_alter_table("ledger_entries") as entries:
        entries.alter_column("payment_id", existing_type=sa.String(128), nullable=True)
        entries.add_column(sa.Column("month", sa.String(7)))
    op.execute(
        "UPDATE ledger_entries SET month = (SELECT p.month FROM ledger_payments p "
        "WHERE p.payment_id = ledger_entries.payment_id)"
    )
    op.create_table(
        "ledger_months",
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("earned_confirmed", sa.BigInteger(), nullable=False),
        sa.Column("earned_provisional", sa.BigInteger(), nullable=False),
        sa.Column("credited_confirmed", sa.BigInteger(), nullable=False),
        sa.Column("credited_provisional", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "month", name="pk_ledger_months"),
    )
    op.execute(
        "INSERT INTO ledger_months (account_id, month, earned_confirmed, earned_provisional, "
        "credited_confirmed, credited_provisional, updated_at) "
        "SELECT account_id, month, SUM(confirmed), SUM(provisional), SUM(confirmed), "
        "SUM(provisional), CURRENT_TIMESTAMP FROM ledger_payments "
        "WHERE month IS NOT NULL GROUP BY account_id, month"
    )


def _type_of(name: str) -> sa.types.TypeEngine[Any]:
    types: dict[str, sa.types.TypeEngine[Any]] = {
        "payment_id": sa.String(128),
        "brand": sa.String(16),
        "amount": sa.BigInteger(),
        "mcc": sa.String(4),
    }
    return types[name]


def downgrade() -> None:
    """Back to v1; refused by the database (NOT NULL) while grants are stored."""
    op.drop_table("ledger_months")
    with op.batch_alter_table("ledger_entries") as entries:
        entries.drop_column("month")
        entries.alter_column("payment_id", existing_type=sa.String(128), nullable=False)
    with op.batch_alter_table("ledger_payments") as payments:
        for name in (
            "campaigns",
            "rate_bp",
            "month",
            "anchor_country",
            "chargeback_reversed",
            "charged_back",
            "refund_reversed",
        ):
            payments.drop_column(name)
    with op.batch_alter_table("ledger_events") as events:
        for name in ("source", "reason", "points", "country"):
            events.drop_column(name)
        for name in ("payment_id", "brand", "amount", "mcc"):
            events.alter_column(name, existing_type=_type_of(name), nullable=False)
