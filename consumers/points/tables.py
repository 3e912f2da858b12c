"""Ledger tables (SQLAlchemy Core) on the shared ``consumers.db.metadata``.

- ``ledger_events``: the inbox, which doubles as the event store. One row per distinct
  applied ``event_id`` with the content hash of its canonical form and the canonical body;
  its primary key is the idempotency record, committed with the ledger change.
- ``ledger_entries``: append-only deltas, one per applied event (``kind = 'event'``) and one
  per expiry (``kind = 'expiry'``). Never updated or deleted.
- ``ledger_payments`` and ``ledger_balances``: projections, recomputable by ``verify``.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

from consumers.db import metadata

ID_TYPE: Final = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
KIND_EVENT: Final = "event"
KIND_EXPIRY: Final = "expiry"

ledger_events = sa.Table(
    "ledger_events",
    metadata,
    sa.Column("event_id", sa.String(128), primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("payment_id", sa.String(128), nullable=False, index=True),
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
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("id", ID_TYPE, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    # Unique: an event can be entered once; expiry entries have none (NULLs never clash).
    sa.Column("event_id", sa.String(128), unique=True),
    sa.Column("payment_id", sa.String(128), nullable=False, index=True),
    sa.Column("account_id", sa.String(128), nullable=False, index=True),
    sa.Column("provisional_delta", sa.BigInteger(), nullable=False),
    sa.Column("confirmed_delta", sa.BigInteger(), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

ledger_payments = sa.Table(
    "ledger_payments",
    metadata,
    sa.Column("payment_id", sa.String(128), primary_key=True),
    sa.Column("account_id", sa.String(128), nullable=False, index=True),
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
    sa.Column("confirmed", sa.BigInteger(), nullable=False),
    sa.Column("provisional", sa.BigInteger(), nullable=False),
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
