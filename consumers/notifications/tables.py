"""Rendered user notifications, one per event (the event id makes rendering idempotent)."""

from __future__ import annotations

import sqlalchemy as sa

from consumers.db import metadata

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("event_id", sa.String(128), primary_key=True),
    sa.Column("account_id", sa.String(128), nullable=False, index=True),
    sa.Column("payment_id", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("text", sa.String(500), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
