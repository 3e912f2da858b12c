"""The expiry job: release provisional points of payments that never completed.

DESIGN §4.5: a payment that is not final, still earns provisional points and whose latest
*approved* authorization is older than the TTL becomes ``expired``. The clock starts at the
latest approved authorization (``PaymentFacts.latest_authorized_at``): a declined
authorization never restarts it, and neither do clearings or refunds. Expiring a payment
drops its earned provisional points to 0, so its account-month is re-settled under its
cap (§4.3) and an append-only ``expiry`` entry records what the balance moved by — which
may be less than the payment's earned points when the month was capped. A later clearing
still confirms (confirmed points do not depend on ``expired``). Safe to run while workers
apply events and safe to re-run: payments are locked in ``payment_id`` order, then their
months in (account, month) order (the ledger's global lock order), and re-checked under
the lock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from consumers.points.amounts import as_utc
from consumers.points.books import Books
from consumers.points.earning import is_expirable
from consumers.points.published import RulesSource, fixed
from consumers.points.rules import Rules
from consumers.points.store import LedgerStore
from consumers.points.store.records import Entry, EntryKind, stored_months
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
    with store.unit_of_work() as uow:
        rules = source(uow)  # the rules lock first, then the payments
        books = Books(rules)
        locked = uow.lock_payments(payment_ids)
        books.lock(locked, uow.lock_months(stored_months(locked)))
        for record in locked.values():
            facts = record.facts
            if not is_expirable(facts, rules, cutoff):
                continue  # changed since it was a candidate: re-checked under the lock
            change = books.change(replace(facts, expired=True))
            entries.append(
                Entry(
                    EntryKind.EXPIRY,
                    facts.account_id,
                    change.credited,
                    facts.payment_id,
                    month=change.month,
                )
            )
            released.append(
                Expired(facts.payment_id, facts.account_id, -change.credited.provisional)
            )
        payments, months = books.changed()
        uow.append(entries)
        uow.save_payments(payments)
        uow.save_months(months)
        uow.add_to_balances(books.balances)
        uow.commit()
    return released
