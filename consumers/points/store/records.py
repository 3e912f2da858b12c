"""Read models for the ``points ledger`` commands (DESIGN §6 shapes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.points.domain import as_utc
from consumers.points.tables import (
    ledger_balances,
    ledger_entries,
    ledger_events,
    ledger_payments,
)


@dataclass(frozen=True)
class Balance:
    account_id: str
    confirmed: int
    provisional: int


@dataclass(frozen=True)
class PaymentView:
    payment_id: str
    account_id: str
    brand: str
    authorized: int
    reversed: int
    cleared: int
    refunded: int
    final: bool
    expired: bool
    confirmed: int
    provisional: int


@dataclass(frozen=True)
class HistoryEntry:
    """One ledger entry of an account, with the event that caused it (none for expiry)."""

    entry_id: int
    recorded_at: datetime
    kind: str
    payment_id: str
    event_id: str | None
    event_type: str | None
    amount: int | None
    occurred_at: datetime | None
    confirmed_delta: int
    provisional_delta: int


def balances(engine: Engine) -> list[Balance]:
    """Every account's balance, sorted by ``account_id``."""
    b = ledger_balances.c
    query = sa.select(b.account_id, b.confirmed, b.provisional).order_by(b.account_id)
    with engine.connect() as connection:
        return [Balance(*row) for row in connection.execute(query)]


def payment(engine: Engine, payment_id: str) -> PaymentView | None:
    """One payment's facts and points, or ``None`` if no event of it was applied."""
    p = ledger_payments.c
    query = sa.select(
        p.payment_id,
        p.account_id,
        p.brand,
        p.authorized,
        p.reversed,
        p.cleared,
        p.refunded,
        p.final,
        p.expired,
        p.confirmed,
        p.provisional,
    ).where(p.payment_id == payment_id, p.event_count > 0)
    with engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    values = row._asdict()
    values["final"], values["expired"] = bool(values["final"]), bool(values["expired"])
    return PaymentView(**values)


def history(engine: Engine, account_id: str) -> list[HistoryEntry]:
    """An account's entries in the order they were recorded."""
    e, v = ledger_entries.c, ledger_events.c
    query = (
        sa.select(
            e.id,
            e.recorded_at,
            e.kind,
            e.payment_id,
            e.event_id,
            v.event_type,
            v.amount,
            v.occurred_at,
            e.confirmed_delta,
            e.provisional_delta,
        )
        .select_from(ledger_entries.outerjoin(ledger_events, e.event_id == v.event_id))
        .where(e.account_id == account_id)
        .order_by(e.id)
    )
    with engine.connect() as connection:
        return [
            HistoryEntry(
                entry_id=row.id,
                recorded_at=as_utc(row.recorded_at),
                kind=row.kind,
                payment_id=row.payment_id,
                event_id=row.event_id,
                event_type=row.event_type,
                amount=row.amount,
                occurred_at=None if row.occurred_at is None else as_utc(row.occurred_at),
                confirmed_delta=row.confirmed_delta,
                provisional_delta=row.provisional_delta,
            )
            for row in connection.execute(query)
        ]
