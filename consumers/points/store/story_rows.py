"""One account's story from the event store: what ``points ledger explain`` reads.

The account's applied events are found through its entries (``ledger_entries`` is indexed
on ``account_id``; every applied event has an entry naming it, grants included), its
expired payments through its ``expiry`` entries. Bodies are the canonical JSON the inbox
keeps, so the story does not depend on which projection columns a schema version has.

``month_story`` is what ``explain --month`` reads, bounded by the month instead of the
account's lifetime: the payments the ledger counts in that account-month (``ledger_payments``
by ``(account_id, month)``; a payment's stored month is its current anchor's, so a payment
whose anchor moved is read in the month it counts in now) and whether each expired (the
flag the expiry job writes with its ``expiry`` entry), every event of those payments by
``payment_id`` (a payment's events all belong to it, and a rejected event leaves the inbox
in its own transaction, so this is exact — and it touches a third of the pages that going
through their entries did: 1.8 k against 4.8 k buffers for the heaviest account-month of a
500 k-event ledger), the account's grants (few; through the partial index of entries
without a payment), and the credited points stored for its other months. Each step names
explicit ids, as ``reads.accounts_snapshot`` does, so PostgreSQL's planner never scans the
events table.

Both read the account's stored balance (``ledger_balances``) last, in the caller's
transaction: ``explain`` compares the explanation with it, and a balance read in a
transaction of its own would see a batch committed after the story was read, which
``explain`` would report as drift while workers run. The caller makes the transaction one
consistent read (REPEATABLE READ on PostgreSQL; SQLite's transaction is one already).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from consumers.points.amounts import Points
from consumers.points.months import MonthKey
from consumers.points.store.among import select_among
from consumers.points.tables import (
    KIND_EVENT,
    KIND_EXPIRY,
    ledger_balances,
    ledger_entries,
    ledger_events,
    ledger_months,
    ledger_payments,
)


@dataclass(frozen=True)
class AccountStory:
    """The canonical bodies of an account's applied events (each once, in entry order), the
    ids of its payments the expiry job released, and its stored balance as of the same
    read (``None``: the account has no balance row)."""

    bodies: list[str]
    expired: frozenset[str]
    balance: Points | None


def account_story(connection: sa.Connection, account_id: str) -> AccountStory:
    n, e = ledger_entries.c, ledger_events.c
    events = (
        sa.select(e.event_id, e.body)
        .select_from(ledger_entries.join(ledger_events, e.event_id == n.event_id))
        .where(n.account_id == account_id)
        .order_by(n.id)
    )
    expired = sa.select(n.payment_id).where(n.account_id == account_id, n.kind == KIND_EXPIRY)
    bodies: dict[str, str] = {}
    for row in connection.execute(events):
        bodies.setdefault(row.event_id, row.body)
    released = frozenset(str(p) for p in connection.execute(expired).scalars())
    return AccountStory(list(bodies.values()), released, stored_balance(connection, account_id))


def stored_balance(connection: sa.Connection, account_id: str) -> Points | None:
    """The account's ``ledger_balances`` row, in the caller's transaction."""
    b = ledger_balances.c
    query = sa.select(b.confirmed, b.provisional).where(b.account_id == account_id)
    row = connection.execute(query).one_or_none()
    return None if row is None else Points(row.confirmed, row.provisional)


@dataclass(frozen=True)
class MonthStory:
    """What ``explain --month`` reads: in ``events``, the bodies of the applied events of
    the payments counted in ``month`` and of every grant of the account, with the expired
    among those payments and the account's stored balance; and the credited points stored
    for each other month."""

    month: MonthKey
    events: AccountStory
    other_months: dict[MonthKey, Points]

    @property
    def balance(self) -> Points | None:
        """The account's stored balance, read with the rest (``None``: no balance row)."""
        return self.events.balance


def month_story(connection: sa.Connection, account_id: str, month: MonthKey) -> MonthStory:
    """The account's story bounded by ``month`` (one consistent read: the caller's
    transaction)."""
    p, n, e, m = ledger_payments.c, ledger_entries.c, ledger_events.c, ledger_months.c
    payments = sa.select(p.payment_id, p.expired).where(
        p.account_id == account_id, p.month == month
    )
    counted = connection.execute(payments).all()
    events = sa.select(e.body).where(e.account_id == account_id)
    payment_ids = sorted(r.payment_id for r in counted)
    bodies = [row.body for row in select_among(connection, events, e.payment_id, payment_ids)]
    grants = sa.select(n.event_id).where(
        n.account_id == account_id, n.payment_id.is_(None), n.kind == KIND_EVENT
    )
    grant_ids = sorted(str(i) for i in connection.execute(grants).scalars() if i is not None)
    bodies += [row.body for row in select_among(connection, events, e.event_id, grant_ids)]
    others = sa.select(m.month, m.credited_confirmed, m.credited_provisional).where(
        m.account_id == account_id, m.month != month
    )
    other_months = {
        row.month: Points(row.credited_confirmed, row.credited_provisional)
        for row in connection.execute(others)
    }
    released = frozenset(r.payment_id for r in counted if r.expired)
    balance = stored_balance(connection, account_id)
    return MonthStory(month, AccountStory(bodies, released, balance), other_months)
