"""``points ledger verify``: recompute the projections from the stored events and the rules.

Checks, each reported as a ``Drift``:

- every stored event's body still hashes to its ``content_hash``;
- every stored event has exactly one ``event`` entry and every such entry an event;
- each payment projection equals the facts folded from its stored events (``expired``
  from its ``expiry`` entries), and its account-month, rate and earned points those the
  rules give (DESIGN §4.1–4.2; a rate of NULL, last written by the v1 ledger, is not
  compared);
- each account-month row equals the earned sums of its payments and the credited points
  its cap gives (§4.3); a row of zeros and no row are the same;
- each account's balance equals the sum of its entries, and Σ credited of its months
  plus Σ its grants (§4.4).

It streams: accounts in keyset order, each chunk read in one consistent snapshot (its
balances, entries, payments and their events), checked, then dropped. A chunk is at most
``chunk_size`` accounts and at most ``chunk_entries`` entries (the store cuts it from the
accounts' entry counts), so memory is bounded by the chunk, not the ledger, however the
accounts' sizes are skewed — except that a chunk always holds at least one account and
never splits one: an account with more entries than the budget comes alone, and then
memory is bounded by the largest account. Every check above stays inside one account (a
payment's events, months and entries all belong to its account), so chunks need not be
read at one instant. A whole-ledger run ends with the events no account reaches
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

from consumers.points.amounts import Points
from consumers.points.earning import MonthRef, account_months, balance, earning
from consumers.points.facts import EventFacts, Grant, PaymentFacts, fold
from consumers.points.rules import Rules
from consumers.points.store import LedgerStore
from consumers.points.store.records import EntryKind, MonthRecord, PaymentRecord, Snapshot

#: Accounts per chunk: a few MB of rows at the ledger's usual tens of events per account.
DEFAULT_CHUNK_SIZE: Final = 1000
#: Entries per chunk (an applied event has one entry; its event and payment rows come with
#: it). Measured on PostgreSQL with the scale workload (#16): a snapshot holds ~1.9 KB per
#: entry (2.3 KB at its peak while read: the event's body, rows, records), and verify's
#: process grows ~3.5 KB per entry of its largest chunk over the ~80 MB of the CLI's
#: imports (derive's rows, the allocator's slack). 20,000 entries ≈ 70 MB: a peak of
#: ~150 MB, half the 300 MB target, whatever the ledger's size or skew.
DEFAULT_CHUNK_ENTRIES: Final = 20_000


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
    """What a chunk's stored projections must be, from its events, entries and the rules."""

    #: payment_id → the record its events fold to (payments with at least one event).
    payments: dict[str, PaymentRecord] = field(default_factory=dict)
    #: (account, month) → earned sums and credited points (months with a payment).
    months: dict[MonthRef, MonthRecord] = field(default_factory=dict)
    #: account_id → Σ its months' credited points + Σ its grants (§4.4).
    balances: dict[str, Points] = field(default_factory=dict)
    #: account_id → Σ its entries (must equal the balance row too).
    entries: dict[str, Points] = field(default_factory=dict)


def verify(
    store: LedgerStore,
    rules: Rules,
    scope: Scope = WHOLE_LEDGER,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_entries: int = DEFAULT_CHUNK_ENTRIES,
) -> VerifyReport:
    """Recompute the projections of ``scope`` chunk by chunk; ``report.clean`` is the verdict."""
    report = VerifyReport()
    after: str | None = None
    while accounts := store.account_ids(
        chunk_size, after=after, first=scope.first, last=scope.last, max_entries=chunk_entries
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
    """The projection rows a chunk's events and entries imply under ``rules`` (DESIGN §4)."""
    derived = Derived()
    expired: set[str] = set()
    for entry in chunk.entries:
        account = entry.account_id
        derived.entries[account] = derived.entries.get(account, Points()) + entry.delta
        match entry.kind:
            case EntryKind.EVENT | EntryKind.RULES:
                pass
            case EntryKind.EXPIRY:
                expired.add(entry.payment_id or "")
            case _:
                assert_never(entry.kind)
    events: dict[str, list[EventFacts]] = {}
    grants: dict[str, list[Grant]] = {}
    for event in chunk.events:
        facts = event.facts
        match facts:
            case EventFacts():
                events.setdefault(facts.payment_id, []).append(facts)
            case Grant():
                grants.setdefault(facts.account_id, []).append(facts)
            case _:
                assert_never(facts)
    for payment_id, payment_events in events.items():
        expected = fold(payment_id, payment_events, expired=payment_id in expired)
        derived.payments[payment_id] = PaymentRecord.of(expected, earning(expected, rules))
    months_of: dict[str, list[MonthRecord]] = {}
    for ref, totals in account_months((r.facts for r in derived.payments.values()), rules).items():
        derived.months[ref] = MonthRecord(ref, totals.earned, totals.credited)
        months_of.setdefault(ref.account_id, []).append(derived.months[ref])
    for account in sorted(set(months_of) | set(grants)):
        credited = sum((m.credited for m in months_of.get(account, [])), Points())
        derived.balances[account] = credited + balance([], grants.get(account, []))
    return derived


def compare(chunk: Snapshot, derived: Derived) -> list[Drift]:
    """The stored projections of ``chunk`` against what ``derive`` made of it."""
    return (
        _compare_payments(chunk, derived)
        + _compare_months(chunk, derived)
        + _compare_balances(chunk, derived)
    )


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
        elif found is None:
            drifts.append(Drift("payment_missing", payment_id, f"expected {expected.facts}"))
        elif found.facts != expected.facts:
            drifts.append(Drift("payment_facts", payment_id, _diff(expected.facts, found.facts)))
        elif _earning_of(found) != _earning_of(expected, found.rate is None):
            detail = f"{_earning_of(found)} != {_earning_of(expected, found.rate is None)}"
            drifts.append(Drift("payment_points", payment_id, detail))
    return drifts


def _earning_of(record: PaymentRecord, without_rate: bool = False) -> str:
    rate = "" if without_rate or record.rate is None else f" at {record.rate}"
    return f"{record.earned} in {record.month}{rate}"


def _compare_months(chunk: Snapshot, derived: Derived) -> list[Drift]:
    """Month rows against the months recomputed from the payments (zeros = no row)."""
    drifts = []
    stored = {record.ref: record for record in chunk.months}
    for ref in sorted(set(derived.months) | set(stored)):
        zero = MonthRecord(ref)
        found, expected = stored.get(ref, zero), derived.months.get(ref, zero)
        if found != expected:
            detail = (
                f"stored earned {found.earned} credited {found.credited}, "
                f"events say earned {expected.earned} credited {expected.credited}"
            )
            drifts.append(Drift("month", f"{ref.account_id} {ref.month}", detail))
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
    for account_id in sorted(set(derived.entries) | set(stored) | set(derived.balances)):
        entered, found = derived.entries.get(account_id), stored.get(account_id)
        expected = derived.balances.get(account_id, Points())
        if entered != found:
            drifts.append(Drift("balance", account_id, f"stored {found}, entries {entered}"))
        elif (found or Points()) != expected:
            drifts.append(Drift("balance", account_id, f"stored {found}, events say {expected}"))
    return drifts
