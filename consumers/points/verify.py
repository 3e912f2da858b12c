"""``points ledger verify``: recompute the projections from the stored events and entries.

Checks, each reported as a ``Drift``:

- every stored event's body still hashes to its ``content_hash``;
- every stored event has exactly one ``event`` entry and every such entry an event;
- each payment projection equals the facts and points folded from its stored events
  (``expired`` from its ``expiry`` entries) under the current rules;
- each payment's entries sum to its points;
- each account's balance equals the sum of its entries.

It streams: accounts in keyset order, ``chunk_size`` at a time, each chunk read in one
consistent snapshot (its balances, entries, payments and their events), checked, then
dropped — memory is bounded by the chunk, not the ledger. Every check above stays inside
one account (a payment's events and entries all belong to its account), so chunks need
not be read at one instant. A whole-ledger run ends with the events no account reaches
(no payment row, no entry), checked the same way.

Three parts, kept apart so the ledger's next version extends one: ``derive`` (a chunk's
events and entries → the projection rows they imply), ``compare`` (stored rows against
them) and ``verify`` (chunking, counting, reporting).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Final, assert_never

from consumers.points.domain import EventFacts, PaymentFacts, Points, fold, points
from consumers.points.rules import Rules
from consumers.points.store import LedgerStore
from consumers.points.store.records import EntryKind, PaymentRecord, Snapshot

#: Accounts per chunk: a few MB of rows at the ledger's usual tens of events per account.
DEFAULT_CHUNK_SIZE: Final = 1000


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


@dataclass(frozen=True)
class Scope:
    """Which accounts to verify: ``first``..``last`` inclusive, either end open."""

    first: str | None = None
    last: str | None = None

    @classmethod
    def account(cls, account_id: str) -> Scope:
        return cls(account_id, account_id)

    @property
    def whole(self) -> bool:
        return self.first is None and self.last is None


WHOLE_LEDGER: Final = Scope()


@dataclass
class Derived:
    """What a chunk's stored projections must be, from its events and entries alone."""

    #: payment_id → the record its events fold to (payments with at least one event).
    payments: dict[str, PaymentRecord] = field(default_factory=dict)
    #: payment_id → Σ its entries (must equal the payment's points).
    payment_entries: dict[str, Points] = field(default_factory=dict)
    #: account_id → Σ its entries (must equal the balance row).
    balances: dict[str, Points] = field(default_factory=dict)


def verify(
    store: LedgerStore,
    rules: Rules,
    scope: Scope = WHOLE_LEDGER,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> VerifyReport:
    """Recompute the projections of ``scope`` chunk by chunk; ``report.clean`` is the verdict."""
    report = VerifyReport()
    after: str | None = None
    while accounts := store.account_ids(
        chunk_size, after=after, first=scope.first, last=scope.last
    ):
        _check_chunk(store.accounts_snapshot(accounts), rules, report)
        after = accounts[-1]
    if scope.whole:
        last_event: str | None = None
        while orphans := store.orphan_events(chunk_size, after=last_event):
            _check_chunk(Snapshot(events=orphans), rules, report)
            last_event = orphans[-1].facts.event_id
    return report


def _check_chunk(chunk: Snapshot, rules: Rules, report: VerifyReport) -> None:
    report.events += len(chunk.events)
    report.entries += len(chunk.entries)
    report.payments += len(chunk.payments)
    report.accounts += len(chunk.balances)
    report.drifts.extend(_check_events(chunk))
    report.drifts.extend(compare(chunk, derive(chunk, rules)))


def derive(chunk: Snapshot, rules: Rules) -> Derived:
    """The projection rows a chunk's events and entries imply (the v1 ledger's semantics)."""
    derived = Derived()
    expired: set[str] = set()
    for entry in chunk.entries:
        payment, account = entry.payment_id, entry.account_id
        derived.payment_entries[payment] = (
            derived.payment_entries.get(payment, Points()) + entry.delta
        )
        derived.balances[account] = derived.balances.get(account, Points()) + entry.delta
        match entry.kind:
            case EntryKind.EVENT:
                pass
            case EntryKind.EXPIRY:
                expired.add(payment)
            case _:
                assert_never(entry.kind)
    events: dict[str, list[EventFacts]] = {}
    for event in chunk.events:
        events.setdefault(event.facts.payment_id, []).append(event.facts)
    for payment_id, facts in events.items():
        expected = fold(payment_id, facts, expired=payment_id in expired)
        derived.payments[payment_id] = PaymentRecord(expected, points(expected, rules))
    return derived


def compare(chunk: Snapshot, derived: Derived) -> list[Drift]:
    """The stored projections of ``chunk`` against what ``derive`` made of it."""
    return _compare_payments(chunk, derived) + _compare_balances(chunk, derived)


def _check_events(chunk: Snapshot) -> list[Drift]:
    """Each event's body matches its hash and has exactly one entry; no entry lacks one."""
    drifts = []
    entered = Counter(e.event_id or "" for e in chunk.entries if e.kind == EntryKind.EVENT)
    event_ids = set()
    for event in chunk.events:
        event_ids.add(event.facts.event_id)
        digest = hashlib.sha256(event.body.encode("utf-8")).hexdigest()
        if digest != event.content_hash:
            drifts.append(Drift("event_hash", event.facts.event_id, "body does not match hash"))
    for event_id in sorted(event_ids | set(entered)):
        count = entered.get(event_id, 0)
        if event_id not in event_ids:
            drifts.append(Drift("entry_without_event", event_id, f"{count} entries"))
        elif count != 1:
            drifts.append(Drift("event_entries", event_id, f"{count} entries, expected 1"))
    return drifts


def _compare_payments(chunk: Snapshot, derived: Derived) -> list[Drift]:
    drifts = []
    stored = {record.facts.payment_id: record for record in chunk.payments}
    for payment_id in sorted(set(derived.payments) | set(stored)):
        expected, found = derived.payments.get(payment_id), stored.get(payment_id)
        if expected is None:
            drifts.append(Drift("payment_without_events", payment_id, "no stored events"))
            continue
        if found is None:
            drifts.append(Drift("payment_missing", payment_id, f"expected {expected.facts}"))
        elif found.facts != expected.facts:
            drifts.append(Drift("payment_facts", payment_id, _diff(expected.facts, found.facts)))
        elif found.earned != expected.earned:
            detail = f"{found.earned} != {expected.earned}"
            drifts.append(Drift("payment_points", payment_id, detail))
        entered = derived.payment_entries.get(payment_id, Points())
        if entered != expected.earned:
            detail = f"{entered} != {expected.earned}"
            drifts.append(Drift("payment_entries", payment_id, detail))
    return drifts


def _diff(expected: PaymentFacts, stored: PaymentFacts) -> str:
    names = [
        name for name in PaymentFacts.__slots__ if getattr(expected, name) != getattr(stored, name)
    ]
    return ", ".join(
        f"{n}: stored {getattr(stored, n)!r}, events say {getattr(expected, n)!r}" for n in names
    )


def _compare_balances(chunk: Snapshot, derived: Derived) -> list[Drift]:
    drifts = []
    stored = {b.account_id: Points(b.confirmed, b.provisional) for b in chunk.balances}
    for account_id in sorted(set(derived.balances) | set(stored)):
        entered, found = derived.balances.get(account_id), stored.get(account_id)
        if entered != found:
            drifts.append(Drift("balance", account_id, f"stored {found}, entries {entered}"))
    return drifts
