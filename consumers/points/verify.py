"""``points ledger verify``: recompute everything from the stored events and entries.

Checks, each reported as a ``Drift``:

- every stored event's body still hashes to its ``content_hash``;
- every stored event has exactly one ``event`` entry and every such entry an event;
- each payment projection equals the facts and points folded from its stored events
  (``expired`` from its ``expiry`` entries) under the current rules;
- each payment's entries sum to its points;
- each account's balance equals the sum of its entries.

It reads one consistent snapshot; the whole ledger is held in memory, which is fine for
the sizes this tool is meant for (millions of events would want a streaming variant).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import assert_never

from consumers.points.domain import EventFacts, PaymentFacts, Points, fold, points
from consumers.points.rules import Rules
from consumers.points.store import LedgerStore
from consumers.points.store.records import EntryKind, Snapshot


@dataclass(frozen=True)
class Drift:
    """One disagreement: what kind, about which key, and the two sides."""

    check: str
    key: str
    detail: str


@dataclass
class VerifyReport:
    events: int = 0
    entries: int = 0
    payments: int = 0
    accounts: int = 0
    drifts: list[Drift] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.drifts


@dataclass
class _Snapshot:
    events: dict[str, list[EventFacts]] = field(default_factory=lambda: defaultdict(list))
    event_ids: set[str] = field(default_factory=set)
    entry_sums: dict[str, Points] = field(default_factory=dict)
    account_sums: dict[str, Points] = field(default_factory=dict)
    entered_events: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    expired: set[str] = field(default_factory=set)
    payments: dict[str, PaymentFacts] = field(default_factory=dict)
    payment_points: dict[str, Points] = field(default_factory=dict)
    balances: dict[str, Points] = field(default_factory=dict)


def verify(store: LedgerStore, rules: Rules) -> VerifyReport:
    """Recompute the projections and compare; ``report.clean`` is the verdict."""
    report = VerifyReport()
    snapshot = _sums(store.snapshot(), report)
    report.entries = sum(snapshot.entered_events.values()) + len(snapshot.expired)
    report.payments = len(snapshot.payments)
    report.accounts = len(snapshot.balances)
    _check_entries_cover_events(snapshot, report)
    _check_payments(snapshot, rules, report)
    _check_balances(snapshot, report)
    return report


def _sums(ledger: Snapshot, report: VerifyReport) -> _Snapshot:
    snapshot = _Snapshot()
    for event in ledger.events:
        report.events += 1
        snapshot.event_ids.add(event.facts.event_id)
        snapshot.events[event.facts.payment_id].append(event.facts)
        digest = hashlib.sha256(event.body.encode("utf-8")).hexdigest()
        if digest != event.content_hash:
            report.drifts.append(
                Drift("event_hash", event.facts.event_id, "body does not match hash")
            )
    for entry in ledger.entries:
        snapshot.entry_sums[entry.payment_id] = (
            snapshot.entry_sums.get(entry.payment_id, Points()) + entry.delta
        )
        snapshot.account_sums[entry.account_id] = (
            snapshot.account_sums.get(entry.account_id, Points()) + entry.delta
        )
        match entry.kind:
            case EntryKind.EVENT:
                snapshot.entered_events[entry.event_id or ""] += 1
            case EntryKind.EXPIRY:
                snapshot.expired.add(entry.payment_id)
            case _:
                assert_never(entry.kind)
    for record in ledger.payments:
        snapshot.payments[record.facts.payment_id] = record.facts
        snapshot.payment_points[record.facts.payment_id] = record.earned
    for balance in ledger.balances:
        snapshot.balances[balance.account_id] = Points(balance.confirmed, balance.provisional)
    return snapshot


def _check_entries_cover_events(snapshot: _Snapshot, report: VerifyReport) -> None:
    for event_id in sorted(snapshot.event_ids | set(snapshot.entered_events)):
        count = snapshot.entered_events.get(event_id, 0)
        if event_id not in snapshot.event_ids:
            report.drifts.append(Drift("entry_without_event", event_id, f"{count} entries"))
        elif count != 1:
            report.drifts.append(Drift("event_entries", event_id, f"{count} entries, expected 1"))


def _check_payments(snapshot: _Snapshot, rules: Rules, report: VerifyReport) -> None:
    for payment_id in sorted(set(snapshot.events) | set(snapshot.payments)):
        events = snapshot.events.get(payment_id)
        stored = snapshot.payments.get(payment_id)
        if not events:
            report.drifts.append(Drift("payment_without_events", payment_id, "no stored events"))
            continue
        expected = fold(payment_id, events, expired=payment_id in snapshot.expired)
        earned = points(expected, rules)
        if stored is None:
            report.drifts.append(Drift("payment_missing", payment_id, f"expected {expected}"))
        elif stored != expected:
            report.drifts.append(Drift("payment_facts", payment_id, _diff(expected, stored)))
        elif snapshot.payment_points[payment_id] != earned:
            got = snapshot.payment_points[payment_id]
            report.drifts.append(Drift("payment_points", payment_id, f"{got} != {earned}"))
        entered = snapshot.entry_sums.get(payment_id, Points())
        if entered != earned:
            report.drifts.append(Drift("payment_entries", payment_id, f"{entered} != {earned}"))


def _diff(expected: PaymentFacts, stored: PaymentFacts) -> str:
    names = [
        name for name in PaymentFacts.__slots__ if getattr(expected, name) != getattr(stored, name)
    ]
    return ", ".join(
        f"{n}: stored {getattr(stored, n)!r}, events say {getattr(expected, n)!r}" for n in names
    )


def _check_balances(snapshot: _Snapshot, report: VerifyReport) -> None:
    for account_id in sorted(set(snapshot.account_sums) | set(snapshot.balances)):
        entered = snapshot.account_sums.get(account_id)
        stored = snapshot.balances.get(account_id)
        if entered != stored:
            report.drifts.append(
                Drift("balance", account_id, f"stored {stored}, entries {entered}")
            )
