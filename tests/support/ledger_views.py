"""The ledger property tests' one body, for every store: deliver a story (any order,
duplication, batching), then compare the ledger's end state with the reference model's
(``reference_v2``) in one shape, and have ``verify`` find nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from hypothesis import strategies as st

from consumers.handler import Result
from consumers.points.amounts import Points
from consumers.points.earning import MonthRef
from consumers.points.expiry import Expired
from consumers.points.store import LedgerStore
from consumers.points.store.records import MonthRecord
from consumers.points.verify import VerifyReport
from schemas.envelope import parse_event
from schemas.events import Event
from tests.support import reference_v2 as reference
from tests.support.stories import batches
from tests.support.stories_v2 import deliveries

#: Long after every story: every payment still open is expirable.
LATER: Final = datetime(2030, 1, 1, tzinfo=UTC)


class LedgerServices(Protocol):
    """What the properties use of a ledger: ``consumers.bootstrap.Ledger`` on a database,
    ``tests.support.memory_store.MemoryLedger`` in memory."""

    @property
    def store(self) -> LedgerStore: ...

    def handle_batch(self, events: Sequence[Event]) -> list[Result]: ...

    def expire(self, *, now: datetime) -> list[Expired]: ...

    def verify(self) -> VerifyReport: ...


def months(ledger: LedgerServices, account: str = "acct-1") -> dict[MonthRef, MonthRecord]:
    """Non-zero account-month rows of ``account``."""
    found = ledger.store.accounts_snapshot([account]).months
    return {m.ref: m for m in found if m != MonthRecord(m.ref)}


def balance(ledger: LedgerServices, account: str = "acct-1") -> Points:
    [found] = ledger.store.balances(account)
    return Points(found.confirmed, found.provisional)


def assert_verified(ledger: LedgerServices) -> None:
    report = ledger.verify()
    assert report.clean, report.drifts


def deliver(ledger: LedgerServices, data: st.DataObject, events: list[dict[str, Any]]) -> None:
    """``events`` with random duplicates, in a random order, cut into random batches: none
    rejected."""
    for batch in data.draw(batches(data.draw(deliveries(events)))):
        results = ledger.handle_batch([parse_event(document) for document in batch])
        assert not [r for r in results if r.error is not None], results


def assert_reference_state(
    ledger: LedgerServices,
    document: Mapping[str, Any],
    events: list[dict[str, Any]],
    expired: set[str] | None = None,
) -> None:
    """The ledger holds the reference's state of ``events`` (``expired`` payments expired),
    and ``verify`` agrees."""
    state = reference.ledger(events, document, expired=expired or set())
    assert ledger_view(ledger.store, accounts_of(events)) == reference_view(state)
    assert_verified(ledger)


def assert_expiry_matches_reference(
    ledger: LedgerServices, document: Mapping[str, Any], events: list[dict[str, Any]]
) -> None:
    """Expiring everything still open (after ``deliver``) releases the payments the
    reference has provisional points for, and re-settles the months as it says."""
    released = {e.payment_id for e in ledger.expire(now=LATER)}
    open_payments = {
        pid
        for pid, p in reference.ledger(events, document)["payments"].items()
        if p["provisional"] > 0
    }
    assert released == open_payments
    assert_reference_state(ledger, document, events, open_payments)


def ledger_view(store: LedgerStore, accounts: list[str]) -> dict[str, Any]:
    """Balances, non-zero account-months and payment earnings as the ledger stores them."""
    chunk = store.accounts_snapshot(accounts)
    return {
        "balances": {
            b.account_id: {"confirmed": b.confirmed, "provisional": b.provisional}
            for b in store.balances()
        },
        "months": {
            (m.ref.account_id, m.ref.month): (
                m.earned.confirmed,
                m.earned.provisional,
                m.credited.confirmed,
                m.credited.provisional,
            )
            for m in chunk.months
            if (m.earned.confirmed, m.earned.provisional) != (0, 0)
        },
        "payments": {
            p.facts.payment_id: (p.month, p.earned.confirmed, p.earned.provisional)
            for p in chunk.payments
        },
    }


def reference_view(state: Mapping[str, Any]) -> dict[str, Any]:
    """The same view of ``reference_v2.ledger``'s state."""
    return {
        "balances": state["balances"],
        "months": {
            key: (
                row["earned_confirmed"],
                row["earned_provisional"],
                row["credited_confirmed"],
                row["credited_provisional"],
            )
            for key, row in state["months"].items()
            if (row["earned_confirmed"], row["earned_provisional"]) != (0, 0)
        },
        "payments": {
            pid: (p["month"], p["confirmed"], p["provisional"])
            for pid, p in state["payments"].items()
        },
    }


def accounts_of(events: Iterable[Mapping[str, Any]]) -> list[str]:
    return sorted({e["account_id"] for e in events})
