"""Records as table rows and back: the one place the ledger's column names are spelled.

Every driver writes what these functions return and reads through them, so a row written
by the psycopg pipeline, by raw sqlite3 or by SQLAlchemy Core is the same row. The
``ON CONFLICT`` clauses are shared too: PostgreSQL and SQLite (3.35+) speak the same
``INSERT … ON CONFLICT … RETURNING``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, assert_never

from consumers.points.amounts import Points, as_utc
from consumers.points.earning import MonthRef
from consumers.points.facts import (
    BRANDS,
    Anchor,
    EventFacts,
    Grant,
    PaymentEventType,
    PaymentFacts,
)
from consumers.points.rules import Rate
from consumers.points.store.records import (
    Entry,
    EntryKind,
    MonthRecord,
    PaymentRecord,
    StoredEvent,
)
from consumers.points.tables import ledger_months, ledger_payments
from schemas.events import Brand, GrantReason

Row = dict[str, Any]

#: Columns a save writes (all but the key): the lock placeholder's values never survive.
_SAVED: Final = tuple(c.name for c in ledger_payments.columns if c.name != "payment_id")
PAYMENT_COLUMNS: Final = tuple(c.name for c in ledger_payments.columns)
MONTH_COLUMNS: Final = tuple(c.name for c in ledger_months.columns)
#: What a month lock returns: the month's state, without ``updated_at`` (nobody reads it).
MONTH_STATE_COLUMNS: Final = tuple(c for c in MONTH_COLUMNS if c != "updated_at")

BALANCE_CONFLICT: Final = (
    'ON CONFLICT ("account_id") DO UPDATE SET '
    '"confirmed" = ledger_balances."confirmed" + excluded."confirmed", '
    '"provisional" = ledger_balances."provisional" + excluded."provisional", '
    '"updated_at" = excluded."updated_at"'
)
#: Creates a placeholder for a new payment, row-locks an existing one, returns its state.
PAYMENT_LOCK_CONFLICT: Final = (
    'ON CONFLICT ("payment_id") DO UPDATE SET "event_count" = ledger_payments."event_count"'
)
PAYMENT_SAVE_CONFLICT: Final = 'ON CONFLICT ("payment_id") DO UPDATE SET ' + ", ".join(
    f'"{name}" = excluded."{name}"' for name in _SAVED
)
#: Creates an account-month at zero or row-locks the existing one, returns its state.
MONTH_LOCK_CONFLICT: Final = (
    'ON CONFLICT ("account_id", "month") DO UPDATE SET "month" = ledger_months."month"'
)
#: Month rows are locked by this unit before they are saved: the values are the new state.
MONTH_SAVE_CONFLICT: Final = 'ON CONFLICT ("account_id", "month") DO UPDATE SET ' + ", ".join(
    f'"{name}" = excluded."{name}"' for name in MONTH_COLUMNS[2:]
)
INBOX_CONFLICT: Final = 'ON CONFLICT ("event_id") DO NOTHING'
#: Adds to an account-month's earned and credited points (rules without a cap).
MONTH_ADD_CONFLICT: Final = 'ON CONFLICT ("account_id", "month") DO UPDATE SET ' + ", ".join(
    [f'"{name}" = ledger_months."{name}" + excluded."{name}"' for name in MONTH_COLUMNS[2:6]]
    + ['"updated_at" = excluded."updated_at"']
)


def event_row(event: StoredEvent, now: datetime) -> Row:
    """An inbox row; a grant fills ``points``/``reason``/``source`` and no payment columns."""
    facts = event.facts
    row: Row = {
        "event_id": facts.event_id,
        "content_hash": event.content_hash,
        "payment_id": None,
        "account_id": facts.account_id,
        "brand": None,
        "event_type": "points_grant",
        "occurred_at": facts.occurred_at,
        "amount": None,
        "mcc": None,
        "country": None,
        "points": None,
        "reason": None,
        "source": None,
        "approved": False,
        "final": False,
        "body": event.body,
        "received_at": now,
    }
    match facts:
        case EventFacts():
            row.update(
                payment_id=facts.payment_id,
                brand=str(facts.brand),
                event_type=str(facts.event_type),
                amount=facts.amount,
                mcc=facts.mcc,
                country=facts.country,
                approved=facts.approved,
                final=facts.final,
            )
        case Grant():
            row.update(points=facts.points, reason=str(facts.reason), source=facts.source)
        case _:
            assert_never(facts)
    return row


def event_from_row(row: Mapping[Any, Any]) -> StoredEvent:
    facts: EventFacts | Grant
    if row["payment_id"] is None:
        facts = Grant(
            event_id=row["event_id"],
            account_id=row["account_id"],
            occurred_at=as_utc(row["occurred_at"]),
            points=row["points"],
            reason=GrantReason(row["reason"]),
            source=row["source"],
        )
    else:
        facts = EventFacts(
            event_id=row["event_id"],
            event_type=PaymentEventType(row["event_type"]),
            payment_id=row["payment_id"],
            account_id=row["account_id"],
            brand=Brand(row["brand"]),
            occurred_at=as_utc(row["occurred_at"]),
            amount=row["amount"],
            mcc=row["mcc"],
            country=row["country"],
            approved=bool(row["approved"]),
            final=bool(row["final"]),
        )
    return StoredEvent(facts, row["content_hash"], row["body"])


def payment_row(record: PaymentRecord, now: datetime) -> Row:
    facts, anchor, rate = record.facts, record.facts.anchor, record.rate
    return {
        "payment_id": facts.payment_id,
        "account_id": facts.account_id,
        "brand": str(facts.brand),
        "authorized": facts.authorized,
        "reversed": facts.reversed,
        "cleared": facts.cleared,
        "refunded": facts.refunded,
        "refund_reversed": facts.refund_reversed,
        "charged_back": facts.charged_back,
        "chargeback_reversed": facts.chargeback_reversed,
        "final": facts.final,
        "expired": facts.expired,
        "anchor_occurred_at": None if anchor is None else anchor.occurred_at,
        "anchor_event_id": None if anchor is None else anchor.event_id,
        "anchor_mcc": None if anchor is None else anchor.mcc,
        "anchor_country": None if anchor is None else anchor.country,
        "month": record.month,
        "rate_bp": None if rate is None else rate.rate_bp,
        "campaigns": None if rate is None else ",".join(rate.campaigns),
        "latest_authorized_at": facts.latest_authorized_at,
        "event_count": facts.event_count,
        "confirmed": record.earned.confirmed,
        "provisional": record.earned.provisional,
        "updated_at": now,
    }


def placeholder_rows(payments: Iterable[PaymentFacts], now: datetime) -> list[Row]:
    """Rows that lock (or create as ``event_count = 0``) payments, in ``payment_id`` order:
    concurrent batches lock in one global order and cannot deadlock on payments. Only the
    columns without a default are sent (the row is never committed as it is)."""
    unique = {facts.payment_id: facts for facts in reversed(list(payments))}
    return [
        {
            "payment_id": p,
            "account_id": unique[p].account_id,
            "brand": str(unique[p].brand),
            "authorized": 0,
            "reversed": 0,
            "cleared": 0,
            "refunded": 0,
            "final": False,
            "expired": False,
            "event_count": 0,
            "confirmed": 0,
            "provisional": 0,
            "updated_at": now,
        }
        for p in sorted(unique)
    ]


def facts_from_row(row: Mapping[Any, Any]) -> PaymentFacts:
    anchor = None
    if row["anchor_event_id"] is not None:
        anchor = Anchor(
            as_utc(row["anchor_occurred_at"]),
            row["anchor_event_id"],
            row["anchor_mcc"],
            row["anchor_country"],
        )
    latest = row["latest_authorized_at"]
    return PaymentFacts(  # positional, and the brand by lookup: a batch reads one per payment
        row["payment_id"],
        row["account_id"],
        BRANDS[row["brand"]],
        row["authorized"],
        row["reversed"],
        row["cleared"],
        row["refunded"],
        row["refund_reversed"],
        row["charged_back"],
        row["chargeback_reversed"],
        bool(row["final"]),
        bool(row["expired"]),
        anchor,
        None if latest is None else as_utc(latest),
        row["event_count"],
    )


def record_from_row(row: Mapping[Any, Any]) -> PaymentRecord:
    rate = None
    if row["rate_bp"] is not None:
        campaigns = row["campaigns"]
        rate = Rate(row["rate_bp"], tuple(campaigns.split(",")) if campaigns else ())
    earned = Points(row["confirmed"], row["provisional"])
    return PaymentRecord(facts_from_row(row), row["month"], rate, earned)


def month_row(record: MonthRecord, now: datetime) -> Row:
    return {
        "account_id": record.ref.account_id,
        "month": record.ref.month,
        "earned_confirmed": record.earned.confirmed,
        "earned_provisional": record.earned.provisional,
        "credited_confirmed": record.credited.confirmed,
        "credited_provisional": record.credited.provisional,
        "updated_at": now,
    }


def month_rows(refs: Iterable[MonthRef], now: datetime) -> list[Row]:
    """Zero rows that lock (or create) account-months, in (account, month) order."""
    return [month_row(MonthRecord(ref), now) for ref in sorted(set(refs))]


#: Where ``month_from_values`` finds each value (in ``MONTH_STATE_COLUMNS`` order).
_ACCOUNT, _MONTH, _EARNED_C, _EARNED_P, _CREDITED_C, _CREDITED_P = (
    MONTH_STATE_COLUMNS.index(name)
    for name in (
        "account_id",
        "month",
        "earned_confirmed",
        "earned_provisional",
        "credited_confirmed",
        "credited_provisional",
    )
)


def month_from_values(values: Sequence[Any]) -> MonthRecord:
    """A month row as a driver returns it, values in ``MONTH_STATE_COLUMNS`` order (no dict
    per row: a batch reads one per account-month it locks)."""
    return MonthRecord(
        MonthRef(values[_ACCOUNT], values[_MONTH]),
        Points(values[_EARNED_C], values[_EARNED_P]),
        Points(values[_CREDITED_C], values[_CREDITED_P]),
    )


def month_from_row(row: Mapping[Any, Any]) -> MonthRecord:
    return MonthRecord(
        MonthRef(row["account_id"], row["month"]),
        Points(row["earned_confirmed"], row["earned_provisional"]),
        Points(row["credited_confirmed"], row["credited_provisional"]),
    )


def entry_row(entry: Entry, now: datetime) -> Row:
    return {
        "kind": str(entry.kind),
        "event_id": entry.event_id,
        "payment_id": entry.payment_id,
        "account_id": entry.account_id,
        "month": entry.month,
        "provisional_delta": entry.delta.provisional,
        "confirmed_delta": entry.delta.confirmed,
        "recorded_at": now,
    }


def entry_from_row(row: Mapping[Any, Any]) -> Entry:
    return Entry(
        kind=EntryKind(row["kind"]),
        account_id=row["account_id"],
        delta=Points(row["confirmed_delta"], row["provisional_delta"]),
        payment_id=row["payment_id"],
        event_id=row["event_id"],
        month=row["month"],
    )


def month_delta_rows(deltas: Mapping[MonthRef, Points], now: datetime) -> list[Row]:
    """Per-month increments as upsert rows (earned and credited alike), in lock order."""
    return [month_row(MonthRecord(ref, delta, delta), now) for ref, delta in sorted(deltas.items())]


def balance_rows(deltas: Mapping[str, Points], now: datetime) -> list[Row]:
    """Per-account increments as upsert rows, in ``account_id`` (lock) order."""
    return [
        {
            "account_id": account,
            "confirmed": delta.confirmed,
            "provisional": delta.provisional,
            "updated_at": now,
        }
        for account, delta in sorted(deltas.items())
    ]
