"""Ledger tables (SQLAlchemy Core) on the shared ``consumers.db.metadata``.

- ``ledger_events``: the inbox, which doubles as the event store. One row per distinct
  applied ``event_id`` with the content hash of its canonical form and the canonical body;
  its primary key is the idempotency record, committed with the ledger change.
  A ``points_grant`` is stored here too, as an event without a payment (``payment_id``,
  ``brand``, ``mcc`` and ``amount`` NULL; ``points``, ``reason`` and ``source`` set).
- ``ledger_entries``: append-only deltas, one per applied event (``kind = 'event'``), one
  per expiry (``kind = 'expiry'``) and per rules correction (``kind = 'rules'``), with the
  account-month they were credited in (NULL for grants). Never updated or deleted.
- ``ledger_payments``, ``ledger_months`` and ``ledger_balances``: projections, recomputable
  by ``verify`` from the events and the rules (DESIGN §4.7).
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

from consumers.db import metadata

ID_TYPE: Final = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
KIND_EVENT: Final = "event"
KIND_EXPIRY: Final = "expiry"
KIND_RULES: Final = "rules"

ledger_events = sa.Table(
    "ledger_events",
    metadata,
    sa.Column("event_id", sa.String(128), primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("payment_id", sa.String(128), index=True),
    sa.Column("account_id", sa.String(128), nullable=False),
    sa.Column("brand", sa.String(16)),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("amount", sa.BigInteger()),
    sa.Column("mcc", sa.String(4)),
    sa.Column("approved", sa.Boolean(), nullable=False),
    sa.Column("final", sa.Boolean(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("country", sa.String(2)),
    sa.Column("points", sa.BigInteger()),
    sa.Column("reason", sa.String(16)),
    sa.Column("source", sa.String(64)),
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("id", ID_TYPE, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    # Unique: an event can be entered once; other entries have none (NULLs never clash).
    sa.Column("event_id", sa.String(128), unique=True),
    sa.Column("payment_id", sa.String(128), index=True),
    sa.Column("account_id", sa.String(128), nullable=False, index=True),
    sa.Column("provisional_delta", sa.BigInteger(), nullable=False),
    sa.Column("confirmed_delta", sa.BigInteger(), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("month", sa.String(7)),
    # An account's grants (and rules corrections) without visiting its payment entries
    # (migration 0007; ``explain --month``).
    sa.Index(
        "ix_ledger_entries_account_id_grants",
        "account_id",
        postgresql_where=sa.text("payment_id IS NULL"),
        sqlite_where=sa.text("payment_id IS NULL"),
    ),
)

ledger_payments = sa.Table(
    "ledger_payments",
    metadata,
    sa.Column("payment_id", sa.String(128), primary_key=True),
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
    sa.Column("latest_authorized_at", sa.DateTime(timezone=True), index=True),
    # 0 only for the placeholder a batch creates to lock a new payment; never committed.
    sa.Column("event_count", sa.Integer(), nullable=False),
    # Earned (uncapped) points of the payment; the cap applies per account-month.
    sa.Column("confirmed", sa.BigInteger(), nullable=False),
    sa.Column("provisional", sa.BigInteger(), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("refund_reversed", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("charged_back", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("chargeback_reversed", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("anchor_country", sa.String(2)),
    # The JST account-month of the anchor, the rate and the campaigns applied (comma-
    # separated ids) as last computed; rate NULL = last written by the v1 ledger.
    sa.Column("month", sa.String(7)),
    sa.Column("rate_bp", sa.Integer()),
    sa.Column("campaigns", sa.Text()),
    # The payments an account-month counts; serves every lookup by account (migration 0007).
    sa.Index("ix_ledger_payments_account_id_month", "account_id", "month"),
)

ledger_months = sa.Table(
    "ledger_months",
    metadata,
    sa.Column("account_id", sa.String(128), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("earned_confirmed", sa.BigInteger(), nullable=False),
    sa.Column("earned_provisional", sa.BigInteger(), nullable=False),
    sa.Column("credited_confirmed", sa.BigInteger(), nullable=False),
    sa.Column("credited_provisional", sa.BigInteger(), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

ledger_balances = sa.Table(
    "ledger_balances",
    metadata,
    sa.Column("account_id", sa.String(128), primary_key=True),
    sa.Column("confirmed", sa.BigInteger(), nullable=False),
    sa.Column("provisional", sa.BigInteger(), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
