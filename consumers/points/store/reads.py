"""The store's keyset reads (SQLAlchemy Core, every dialect): pages of balances and of an
account's history, and the per-account chunks ``verify`` streams through.

Every page is a keyset (``WHERE key > :after ORDER BY key LIMIT :n``) on an indexed key —
``ledger_balances``' primary key, ``ledger_entries``' ``(account_id)`` index and primary
key, ``ledger_payments``' ``(account_id)`` index — so a page costs the same on page 1 and
page 1,000, and nothing reads a table whole except ``orphan_events`` (one anti-join scan
when the whole ledger is verified).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from consumers.points.amounts import as_utc
from consumers.points.store import rows
from consumers.points.store.among import select_among
from consumers.points.store.persistence import within_budget
from consumers.points.store.records import Balance, HistoryEntry, Snapshot
from consumers.points.tables import (
    ledger_balances,
    ledger_entries,
    ledger_events,
    ledger_months,
    ledger_payments,
)


def balances_query(account_id: str | None, after: str | None, limit: int | None) -> sa.Select[Any]:
    b = ledger_balances.c
    query = sa.select(b.account_id, b.confirmed, b.provisional).order_by(b.account_id)
    if account_id is not None:
        query = query.where(b.account_id == account_id)
    if after is not None:
        query = query.where(b.account_id > after)
    return query.limit(limit)


def balance_from_row(row: sa.RowMapping) -> Balance:
    return Balance(row["account_id"], row["confirmed"], row["provisional"])


def history_query(
    account_id: str, after: int | None, before: int | None, limit: int | None
) -> sa.Select[Any]:
    """An account's entries after ``after`` (ascending) or before ``before`` (descending,
    so the limit keeps the ones nearest the cursor; the caller turns them around)."""
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
    )
    if after is not None:
        query = query.where(e.id > after)
    if before is not None:
        return query.where(e.id < before).order_by(e.id.desc()).limit(limit)
    return query.order_by(e.id).limit(limit)


def history_entry(row: sa.RowMapping) -> HistoryEntry:
    return HistoryEntry(
        entry_id=row["id"],
        recorded_at=as_utc(row["recorded_at"]),
        kind=row["kind"],
        payment_id=row["payment_id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        amount=row["amount"],
        occurred_at=None if row["occurred_at"] is None else as_utc(row["occurred_at"]),
        confirmed_delta=row["confirmed_delta"],
        provisional_delta=row["provisional_delta"],
    )


def account_ids(
    connection: sa.Connection,
    limit: int,
    after: str | None,
    first: str | None,
    last: str | None,
    max_entries: int | None = None,
) -> list[str]:
    """The next ``limit`` accounts (sorted) that any projection or entry names, cut where
    their entries would pass ``max_entries`` (``persistence.within_budget``).

    An account is in the ledger if it has a balance, a payment, an account-month or an
    entry (a drift may leave one without the others, and verify must see it): the first
    ``limit`` of each table's keyset, merged, are the first ``limit`` of their union.
    """
    found: set[str] = set()
    for column in (
        ledger_balances.c.account_id,
        ledger_payments.c.account_id,
        ledger_months.c.account_id,
    ):
        found.update(connection.execute(_next_keys(column, limit, after, first, last)).scalars())
    if max_entries is None:
        entries = _next_keys(ledger_entries.c.account_id, limit, after, first, last).distinct()
        found.update(connection.execute(entries).scalars())
        return sorted(found)[:limit]
    counted = connection.execute(_entry_counts(max_entries + 1, after, first, last))
    counts: dict[str, int] = {account: n for account, n in counted}
    return within_budget(
        ((account, counts.get(account, 0)) for account in sorted(found | set(counts))),
        limit,
        max_entries,
    )


def _entry_counts(
    rows_read: int, after: str | None, first: str | None, last: str | None
) -> sa.Select[tuple[str, int]]:
    """Entries per account over the next ``rows_read`` entries in ``account_id`` order:
    an index-only scan of ``ix_ledger_entries_account_id`` that stops after that many
    rows, however heavy the accounts. Every account but the last it reaches is counted
    whole and the entries of accounts before the last are all read, so when the scan is cut
    short (``rows_read`` = budget + 1) the chunk ends before that last account, or is it
    alone; an account it never reaches lies past the cut."""
    head = _next_keys(ledger_entries.c.account_id, rows_read, after, first, last).subquery()
    return sa.select(head.c.account_id, sa.func.count()).group_by(head.c.account_id)


def _next_keys(
    column: sa.Column[str], limit: int, after: str | None, first: str | None, last: str | None
) -> sa.Select[tuple[str]]:
    query = sa.select(column).order_by(column).limit(limit)
    if after is not None:
        query = query.where(column > after)
    if first is not None:
        query = query.where(column >= first)
    if last is not None:
        query = query.where(column <= last)
    return query


def accounts_snapshot(connection: sa.Connection, accounts: Sequence[str]) -> Snapshot:
    """Balances, entries, payments and account-months of ``accounts``, every event of their
    payments and their grants.

    Events are found through their payments (``ledger_events`` has no account index, and a
    payment's events all belong to its account: the ledger rejects the others), grants
    through their entries (a grant without its entry is an orphan event), all by explicit
    ids: a join or ``IN (subquery)`` let PostgreSQL's planner pick a hash join over the
    whole events table, one full scan per chunk.
    """
    ids = sorted(accounts)
    entries = [
        rows.entry_from_row(row)
        for row in _rows_among(connection, ledger_entries, ledger_entries.c.account_id, ids)
    ]
    payments = [
        rows.record_from_row(row)
        for row in _rows_among(connection, ledger_payments, ledger_payments.c.account_id, ids)
    ]
    payment_ids = sorted(
        {e.payment_id for e in entries if e.payment_id is not None}
        | {r.facts.payment_id for r in payments}
    )
    grant_ids = sorted(
        e.event_id for e in entries if e.payment_id is None and e.event_id is not None
    )
    events = [
        rows.event_from_row(row)
        for column, values in (
            (ledger_events.c.payment_id, payment_ids),
            (ledger_events.c.event_id, grant_ids),
        )
        for row in _rows_among(connection, ledger_events, column, values)
    ]
    months = [
        rows.month_from_row(row)
        for row in _rows_among(connection, ledger_months, ledger_months.c.account_id, ids)
    ]
    balances = [
        balance_from_row(row)
        for row in _rows_among(connection, ledger_balances, ledger_balances.c.account_id, ids)
    ]
    return Snapshot(
        events=events, entries=entries, payments=payments, months=months, balances=balances
    )


def _rows_among(
    connection: sa.Connection, table: sa.Table, column: sa.Column[str], values: Sequence[str]
) -> Iterator[sa.RowMapping]:
    """Rows of ``table`` whose ``column`` is one of ``values`` (``among.select_among``)."""
    for row in select_among(connection, sa.select(table), column, values):
        yield row._mapping


def orphan_events_query(after: str | None, limit: int) -> sa.Select[Any]:
    """Events no payment row and no entry refer to (no account chunk reaches them); a
    grant is reached through its own entry only."""
    e, p, n = ledger_events.c, ledger_payments.c, ledger_entries.c
    query = (
        sa.select(ledger_events)
        .where(
            ~sa.exists().where(p.payment_id == e.payment_id),
            ~sa.exists().where(n.payment_id == e.payment_id),
            ~sa.exists().where(n.event_id == e.event_id),
        )
        .order_by(e.event_id)
        .limit(limit)
    )
    return query if after is None else query.where(e.event_id > after)
