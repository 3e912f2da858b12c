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
from typing import Final

from consumers.points.domain import Points, as_utc, is_expirable, points
from consumers.points.published import RulesSource, fixed
from consumers.points.rules import Rules
from consumers.points.store import LedgerStore
from consumers.points.store.records import Entry, EntryKind, PaymentRecord
from consumers.retries import DEFAULT_POLICY, RetryPolicy

DEFAULT_TTL: Final = timedelta(days=30)
CHUNK: Final = 500


@dataclass(frozen=True)
class Expired:
    """One released payment and the provisional points it gave back."""

    payment_id: str
    account_id: str
    released: int


def expire(
    store: LedgerStore,
    rules: Rules | RulesSource,
    *,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
    retry: RetryPolicy = DEFAULT_POLICY,
) -> list[Expired]:
    """Expire every eligible payment as of ``now``; returns what was released.

    ``now`` is the as-of instant that decides eligibility; the entries are recorded at the
    wall clock of their write, like every other entry.
    """
    source = fixed(rules) if isinstance(rules, Rules) else rules
    cutoff = as_utc(now) - ttl
    candidates = retry.call(_candidates, store, cutoff)
    released: list[Expired] = []
    for start in range(0, len(candidates), CHUNK):
        chunk = candidates[start : start + CHUNK]
        released += retry.call(_expire_chunk, store, source, chunk, cutoff)
    return released


def _candidates(store: LedgerStore, cutoff: datetime) -> list[str]:
    with store.unit_of_work() as uow:
        return uow.expiry_candidates(cutoff)


def _expire_chunk(
    store: LedgerStore, source: RulesSource, payment_ids: list[str], cutoff: datetime
) -> list[Expired]:
    released: list[Expired] = []
    entries: list[Entry] = []
    records: list[PaymentRecord] = []
    deltas: dict[str, Points] = {}
    with store.unit_of_work() as uow:
        rules = source(uow)  # the rules lock first, then the payments
        for facts in uow.lock_payments(payment_ids).values():
            if not is_expirable(facts, rules, cutoff):
                continue  # changed since it was a candidate: re-checked under the lock
            after_facts = replace(facts, expired=True)
            after = points(after_facts, rules)
            delta = after - points(facts, rules)
            entries.append(Entry(EntryKind.EXPIRY, facts.payment_id, facts.account_id, delta))
            records.append(PaymentRecord(after_facts, after))
            deltas[facts.account_id] = deltas.get(facts.account_id, Points()) + delta
            released.append(Expired(facts.payment_id, facts.account_id, -delta.provisional))
        uow.append(entries)
        uow.save_payments(records)
        uow.add_to_balances(deltas)
        uow.commit()
    return released
