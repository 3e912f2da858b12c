"""The ledger's end state as the property tests compare it: from a store, and from the
reference model (``reference_v2``), in the same shape."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from consumers.points.store import LedgerStore


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
