"""Records as table rows and back: the one place the ledger's column names are spelled.

Every driver writes what these functions return and reads through them, so a row written
by the psycopg pipeline, by raw sqlite3 or by SQLAlchemy Core is the same row. The
``ON CONFLICT`` clauses are shared too: PostgreSQL and SQLite (3.35+) speak the same
``INSERT … ON CONFLICT … RETURNING``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from consumers.points.domain import Anchor, EventFacts, PaymentFacts, Points, as_utc
from consumers.points.store.records import Entry, EntryKind, PaymentRecord, StoredEvent
from consumers.points.tables import ledger_payments
from schemas.events import Brand, EventType

Row = dict[str, Any]

FACT_COLUMNS: Final = (
    "account_id",
    "brand",
    "authorized",
    "reversed",
    "cleared",
    "refunded",
    "final",
    "expired",
    "anchor_occurred_at",
    "anchor_event_id",
    "anchor_mcc",
    "latest_authorized_at",
    "event_count",
    "confirmed",
    "provisional",
    "updated_at",
)
PAYMENT_COLUMNS: Final = tuple(c.name for c in ledger_payments.columns)

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
    f'"{name}" = excluded."{name}"' for name in FACT_COLUMNS
)
INBOX_CONFLICT: Final = 'ON CONFLICT ("event_id") DO NOTHING'


def event_row(event: StoredEvent, now: datetime) -> Row:
    facts = event.facts
    return {
        "event_id": facts.event_id,
        "content_hash": event.content_hash,
        "payment_id": facts.payment_id,
        "account_id": facts.account_id,
        "brand": str(facts.brand),
        "event_type": str(facts.event_type),
        "occurred_at": facts.occurred_at,
        "amount": facts.amount,
        "mcc": facts.mcc,
        "approved": facts.approved,
        "final": facts.final,
        "body": event.body,
        "received_at": now,
    }


def event_from_row(row: Mapping[Any, Any]) -> StoredEvent:
    facts = EventFacts(
        event_id=row["event_id"],
        event_type=EventType(row["event_type"]),
        payment_id=row["payment_id"],
        account_id=row["account_id"],
        brand=Brand(row["brand"]),
        occurred_at=as_utc(row["occurred_at"]),
        amount=row["amount"],
        mcc=row["mcc"],
        approved=bool(row["approved"]),
        final=bool(row["final"]),
    )
    return StoredEvent(facts, row["content_hash"], row["body"])


def payment_row(record: PaymentRecord, now: datetime) -> Row:
    facts, anchor = record.facts, record.facts.anchor
    return {
        "payment_id": facts.payment_id,
        "account_id": facts.account_id,
        "brand": str(facts.brand),
        "authorized": facts.authorized,
        "reversed": facts.reversed,
        "cleared": facts.cleared,
        "refunded": facts.refunded,
        "final": facts.final,
        "expired": facts.expired,
        "anchor_occurred_at": None if anchor is None else anchor.occurred_at,
        "anchor_event_id": None if anchor is None else anchor.event_id,
        "anchor_mcc": None if anchor is None else anchor.mcc,
        "latest_authorized_at": facts.latest_authorized_at,
        "event_count": facts.event_count,
        "confirmed": record.earned.confirmed,
        "provisional": record.earned.provisional,
        "updated_at": now,
    }


def placeholder_rows(payments: list[PaymentFacts], now: datetime) -> list[Row]:
    """Rows that lock (or create as ``event_count = 0``) payments, in ``payment_id`` order:
    concurrent batches lock in one global order and cannot deadlock on payments."""
    unique = {facts.payment_id: facts for facts in reversed(payments)}
    return [payment_row(PaymentRecord(unique[p], Points()), now) for p in sorted(unique)]


def facts_from_row(row: Mapping[Any, Any]) -> PaymentFacts:
    anchor = None
    if row["anchor_event_id"] is not None:
        anchor = Anchor(
            as_utc(row["anchor_occurred_at"]), row["anchor_event_id"], row["anchor_mcc"]
        )
    latest = row["latest_authorized_at"]
    return PaymentFacts(
        payment_id=row["payment_id"],
        account_id=row["account_id"],
        brand=Brand(row["brand"]),
        authorized=row["authorized"],
        reversed=row["reversed"],
        cleared=row["cleared"],
        refunded=row["refunded"],
        final=bool(row["final"]),
        expired=bool(row["expired"]),
        anchor=anchor,
        latest_authorized_at=None if latest is None else as_utc(latest),
        event_count=row["event_count"],
    )


def record_from_row(row: Mapping[Any, Any]) -> PaymentRecord:
    return PaymentRecord(facts_from_row(row), Points(row["confirmed"], row["provisional"]))


def entry_row(entry: Entry, now: datetime) -> Row:
    return {
        "kind": str(entry.kind),
        "event_id": entry.event_id,
        "payment_id": entry.payment_id,
        "account_id": entry.account_id,
        "provisional_delta": entry.delta.provisional,
        "confirmed_delta": entry.delta.confirmed,
        "recorded_at": now,
    }


def entry_from_row(row: Mapping[Any, Any]) -> Entry:
    return Entry(
        kind=EntryKind(row["kind"]),
        payment_id=row["payment_id"],
        account_id=row["account_id"],
        delta=Points(row["confirmed_delta"], row["provisional_delta"]),
        event_id=row["event_id"],
    )


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
