"""``points ledger verify``: recompute everything from the stored events and the rules.

Checks, each reported as a ``Drift``:

- every stored event's body still hashes to its ``content_hash``;
- every stored event has exactly one ``event`` entry and every such entry an event;
- each payment projection equals the facts folded from its stored events (``expired``
  from its ``expiry`` entries), and its month, rate and earned points those the rules give
  (a rate of NULL, last written by the v1 ledger, is not compared);
- each account-month row equals the earned sums of its payments and the credited points
  its cap gives (DESIGN §4.3); a row of zeros and no row are the same;
- each account's balance equals Σ credited of its months + Σ its grants (§4.4), and the
  sum of its entries.

It reads one consistent snapshot; the whole ledger is held in memory, which is fine for
the sizes this tool is meant for (millions of events would want a streaming variant).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import assert_never

from consumers.points.amounts import Points
from consumers.points.earning import (
    Earning,
    MonthRef,
    MonthTotals,
    account_months,
    balances,
    earning,
)
from consumers.points.facts import EventFacts, Grant, PaymentFacts, fold
from consumers.points.rules import Rules
from consumers.points.store import LedgerStore
from consumers.points.store.records import EntryKind, MonthRecord, PaymentRecord, Snapshot


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
class _Sums:
    """The snapshot regrouped: events by payment, grants, what the entries add up to."""

    events: dict[str, list[EventFacts]] = field(default_factory=lambda: defaultdict(list))
    grants: list[Grant] = field(default_factory=list)
    event_ids: set[str] = field(default_factory=set)
    account_sums: dict[str, Points] = field(default_factory=dict)
    entered_events: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    expired: set[str] = field(default_factory=set)


def verify(store: LedgerStore, rules: Rules) -> VerifyReport:
    """Recompute the projections and compare; ``report.clean`` is the verdict."""
    report = VerifyReport()
    ledger = store.snapshot()
    sums = _sums(ledger, report)
    report.entries = len(ledger.entries)
    report.payments = len(ledger.payments)
    report.accounts = len(ledger.balances)
    _check_entries_cover_events(sums, report)
    expected = _check_payments(sums, ledger.payments, rules, report)
    _check_months(account_months(expected, rules), ledger.months, report)
    _check_balances(sums, balances(expected, sums.grants, rules), ledger, report)
    return report


def _sums(ledger: Snapshot, report: VerifyReport) -> _Sums:
    sums = _Sums()
    for event in ledger.events:
        report.events += 1
        facts = event.facts
        sums.event_ids.add(facts.event_id)
        match facts:
            case EventFacts():
                sums.events[facts.payment_id].append(facts)
            case Grant():
                sums.grants.append(facts)
            case _:
                assert_never(facts)
        digest = hashlib.sha256(event.body.encode("utf-8")).hexdigest()
        if digest != event.content_hash:
            report.drifts.append(Drift("event_hash", facts.event_id, "body does not match hash"))
    for entry in ledger.entries:
        account = entry.account_id
        sums.account_sums[account] = sums.account_sums.get(account, Points()) + entry.delta
        match entry.kind:
            case EntryKind.EVENT:
                sums.entered_events[entry.event_id or ""] += 1
            case EntryKind.EXPIRY:
                sums.expired.add(entry.payment_id or "")
            case EntryKind.RULES:
                pass
            case _:
                assert_never(entry.kind)
    return sums


def _check_entries_cover_events(sums: _Sums, report: VerifyReport) -> None:
    for event_id in sorted(sums.event_ids | set(sums.entered_events)):
        count = sums.entered_events.get(event_id, 0)
        if event_id not in sums.event_ids:
            report.drifts.append(Drift("entry_without_event", event_id, f"{count} entries"))
        elif count != 1:
            report.drifts.append(Drift("event_entries", event_id, f"{count} entries, expected 1"))


def _check_payments(
    sums: _Sums, stored: Iterable[PaymentRecord], rules: Rules, report: VerifyReport
) -> list[PaymentFacts]:
    """Compare payment rows with their events; return the payments the events give."""
    rows = {record.facts.payment_id: record for record in stored}
    expected: list[PaymentFacts] = []
    for payment_id in sorted(set(sums.events) | set(rows)):
        events = sums.events.get(payment_id)
        record = rows.get(payment_id)
        if not events:
            report.drifts.append(Drift("payment_without_events", payment_id, "no stored events"))
            continue
        facts = fold(payment_id, events, expired=payment_id in sums.expired)
        expected.append(facts)
        if record is None:
            report.drifts.append(Drift("payment_missing", payment_id, f"expected {facts}"))
        elif record.facts != facts:
            report.drifts.append(Drift("payment_facts", payment_id, _diff(facts, record.facts)))
        else:
            _check_earning(record, earning(facts, rules), report)
    return expected


def _check_earning(record: PaymentRecord, want: Earning | None, report: VerifyReport) -> None:
    stored = record.earning
    key = record.facts.payment_id
    if want is None or stored is None:
        if want != stored:
            report.drifts.append(Drift("payment_points", key, f"{stored} != {want}"))
        return
    rate_differs = record.rate is not None and record.rate != want.rate
    if stored.ref != want.ref or stored.earned != want.earned or rate_differs:
        got = f"{stored.ref.month} {record.rate} {stored.earned}"
        report.drifts.append(
            Drift("payment_points", key, f"{got} != {want.ref.month} {want.rate} {want.earned}")
        )


def _diff(expected: PaymentFacts, stored: PaymentFacts) -> str:
    names = [
        name for name in PaymentFacts.__slots__ if getattr(expected, name) != getattr(stored, name)
    ]
    return ", ".join(
        f"{n}: stored {getattr(stored, n)!r}, events say {getattr(expected, n)!r}" for n in names
    )


def _check_months(
    expected: dict[MonthRef, MonthTotals], stored: Iterable[MonthRecord], report: VerifyReport
) -> None:
    """Month rows against the months recomputed from the payments (zeros = no row)."""
    want = {
        ref: MonthRecord(ref, totals.earned, totals.credited) for ref, totals in expected.items()
    }
    rows = {record.ref: record for record in stored}
    for ref in sorted(set(want) | set(rows)):
        zero = MonthRecord(ref)
        got, wanted = rows.get(ref, zero), want.get(ref, zero)
        if got != wanted:
            report.drifts.append(
                Drift(
                    "month",
                    f"{ref.account_id} {ref.month}",
                    f"stored earned {got.earned} credited {got.credited}, "
                    f"events say earned {wanted.earned} credited {wanted.credited}",
                )
            )


def _check_balances(
    sums: _Sums, expected: dict[str, Points], ledger: Snapshot, report: VerifyReport
) -> None:
    stored = {b.account_id: Points(b.confirmed, b.provisional) for b in ledger.balances}
    for account_id in sorted(set(sums.account_sums) | set(stored) | set(expected)):
        balance = stored.get(account_id)
        entered = sums.account_sums.get(account_id)
        want = expected.get(account_id, Points())
        if balance != entered:
            report.drifts.append(
                Drift("balance", account_id, f"stored {balance}, entries {entered}")
            )
        elif (balance or Points()) != want:
            report.drifts.append(
                Drift("balance", account_id, f"stored {balance}, events say {want}")
            )
