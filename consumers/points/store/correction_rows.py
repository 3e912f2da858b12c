"""What a backdated rules publication must recompute: payments anchored in a window and
the account-months in a range of months (DESIGN §4.6; ``consumers.points.backdate``).

Both are read under the exclusive rules lock, which no batch or expiry holds at the same
time, so no payment can be anchored into a window between this read and its row lock.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from consumers.points.amounts import as_utc
from consumers.points.earning import MonthRef
from consumers.points.months import MonthKey
from consumers.points.tables import ledger_months, ledger_payments


def anchored_between(
    connection: sa.Connection, start: datetime | None, end: datetime | None
) -> list[str]:
    """Ids of payments whose anchor is at or after ``start`` and before ``end``, sorted."""
    p = ledger_payments.c
    query = sa.select(p.payment_id).where(p.event_count > 0).order_by(p.payment_id)
    if start is not None:
        query = query.where(p.anchor_occurred_at >= as_utc(start))
    if end is not None:
        query = query.where(p.anchor_occurred_at < as_utc(end))
    return list(connection.execute(query).scalars())


def months_between(
    connection: sa.Connection, first: MonthKey | None, last: MonthKey | None
) -> list[MonthRef]:
    """Stored account-months from ``first`` to ``last`` (inclusive), in lock order."""
    m = ledger_months.c
    query = sa.select(m.account_id, m.month).order_by(m.account_id, m.month)
    if first is not None:
        query = query.where(m.month >= first)
    if last is not None:
        query = query.where(m.month <= last)
    return [MonthRef(row.account_id, row.month) for row in connection.execute(query)]
