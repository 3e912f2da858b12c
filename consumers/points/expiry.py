"""The expiry job: release provisional points of payments that never completed.

A payment that is not final, still has provisional points and whose latest approved
authorization is older than the TTL becomes ``expired``: an append-only ``expiry`` entry
takes its provisional points back to 0. A later clearing still confirms (confirmed points
do not depend on ``expired``). Safe to run while workers apply events and safe to re-run:
each payment is locked in ``payment_id`` order and re-checked under the lock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.points.domain import Points, as_utc, is_expirable, points
from consumers.points.rules import Rules
from consumers.points.store import (
    add_to_balances,
    facts_from_row,
    row_from_facts,
    save_payments,
    with_retries,
)
from consumers.points.tables import KIND_EXPIRY, ledger_entries, ledger_payments

DEFAULT_TTL: Final = timedelta(days=30)
CHUNK: Final = 500


@dataclass(frozen=True)
class Expired:
    """One released payment and the provisional points it gave back."""

    payment_id: str
    account_id: str
    released: int


def expire(
    engine: Engine, rules: Rules, *, now: datetime, ttl: timedelta = DEFAULT_TTL
) -> list[Expired]:
    """Expire every eligible payment as of ``now``; returns what was released."""
    cutoff = as_utc(now) - ttl
    candidates = _candidates(engine, cutoff)
    released: list[Expired] = []
    for start in range(0, len(candidates), CHUNK):
        chunk = candidates[start : start + CHUNK]
        released += with_retries(partial(_expire_chunk, engine, rules, chunk, cutoff, now))
    return released


def _candidates(engine: Engine, cutoff: datetime) -> list[str]:
    """Payments the projection says are eligible (re-checked under lock before expiring)."""
    p = ledger_payments.c
    query = (
        sa.select(p.payment_id)
        .where(
            p.final == sa.false(),
            p.expired == sa.false(),
            p.provisional > 0,
            p.latest_authorized_at < cutoff,
        )
        .order_by(p.payment_id)
    )
    with engine.connect() as connection:
        return list(connection.execute(query).scalars())


def _expire_chunk(
    engine: Engine, rules: Rules, payment_ids: list[str], cutoff: datetime, now: datetime
) -> list[Expired]:
    query = (
        sa.select(ledger_payments)
        .where(ledger_payments.c.payment_id.in_(payment_ids))
        .order_by(ledger_payments.c.payment_id)
        .with_for_update()
    )
    released: list[Expired] = []
    entries: list[dict[str, object]] = []
    rows: list[dict[str, object]] = []
    deltas: dict[str, Points] = {}
    with engine.begin() as connection:
        for row in connection.execute(query).mappings():
            facts = facts_from_row(row)
            if not is_expirable(facts, rules, cutoff):
                continue
            before = points(facts, rules)
            after_facts = replace(facts, expired=True)
            after = points(after_facts, rules)
            delta = after - before
            entries.append(
                {
                    "kind": KIND_EXPIRY,
                    "event_id": None,
                    "payment_id": facts.payment_id,
                    "account_id": facts.account_id,
                    "provisional_delta": delta.provisional,
                    "confirmed_delta": delta.confirmed,
                    "recorded_at": now,
                }
            )
            rows.append(row_from_facts(after_facts, after, now))
            old = deltas.get(facts.account_id, Points())
            deltas[facts.account_id] = Points(
                old.confirmed + delta.confirmed, old.provisional + delta.provisional
            )
            released.append(Expired(facts.payment_id, facts.account_id, -delta.provisional))
        if entries:
            connection.execute(ledger_entries.insert(), entries)
            save_payments(connection, rows)
            add_to_balances(connection, deltas, now)
    return released
