"""An in-memory ledger store: the fake of our own storage port for unit tests (#12 item 5).

It implements ``LedgerStore``/``LedgerUnitOfWork`` (``consumers.points.store.persistence``)
with the semantics the ledger relies on, stated once in
``tests/integration/test_store_contract.py`` and checked there against SQLite and
PostgreSQL too:

* a unit of work works on its own copy of the tables: what it claims, forgets or
  commits is invisible to the store's reads and to other units until ``commit()``, and
  leaving it without ``commit()`` (an exception included) discards the copy;
* ``claim`` inserts an event only if its ``event_id`` is not stored (the inbox's
  ``ON CONFLICT DO NOTHING``): ``recorded`` names the ids inserted, a stored id is left
  as it was, whatever its content — the ledger then judges it by ``stored_hashes``;
* payments get a placeholder (``event_count == 0``) when new, account-months a zero row;
* the deferred writes land at commit as the SQL drivers write them: entries numbered in
  append order (an event has one entry at most: ``DataRefused`` otherwise), payments and
  months replaced, balance deltas added;
* rules: ``append_publication`` writes at once (visible at commit), the revision is the
  last publication's id; ``lock_rules`` locks nothing (see below) and reads it.

Single-threaded: a unit of work locks nothing. Two units of work open at once are a
test's mistake (there is no waiting to model), so the second to commit raises
``RaceLost`` — the transient error a real driver's serialization failure becomes —
instead of silently overwriting the first one's rows.

It lives in ``tests/support``, not in ``consumers``: production always has SQLite (an
in-memory SQLite database where a file is not wanted), and a store only tests use must
not be one a process could be configured with.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Self

from consumers.db import DataRefused, RaceLost
from consumers.handler import Result
from consumers.points.amounts import Points, as_utc
from consumers.points.earning import MonthRef
from consumers.points.expiry import Expired, expire
from consumers.points.facts import Anchor, EventFacts, PaymentFacts
from consumers.points.ledger import PointsLedger
from consumers.points.months import MonthKey
from consumers.points.rules import (
    DEFAULT_RULES,
    Rules,
    canonical_version_json,
    version_digest,
)
from consumers.points.store import rows
from consumers.points.store.core import claimed_months
from consumers.points.store.persistence import (
    LedgerStore,
    LedgerUnitOfWork,
    Writes,
    within_budget,
)
from consumers.points.store.records import (
    Balance,
    Claim,
    Entry,
    EntryKind,
    HistoryEntry,
    MonthRecord,
    PaymentRecord,
    PaymentView,
    Snapshot,
    StoredEvent,
)
from consumers.points.store.rule_rows import NewPublication, PublishedVersion, version_from_json
from consumers.points.store.story_rows import AccountStory, MonthStory
from consumers.points.verify import VerifyReport, verify
from schemas.events import Event

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """A ledger entry as ``ledger_entries`` holds it: its id and when it was recorded."""

    entry_id: int
    recorded_at: datetime
    entry: Entry


@dataclass
class Tables:
    """The ledger tables: events by ``event_id``, payments by ``payment_id``, account-months
    by (account, month), balances by account, entries in ``entry_id`` order."""

    events: dict[str, StoredEvent] = field(default_factory=dict)
    payments: dict[str, PaymentRecord] = field(default_factory=dict)
    months: dict[MonthRef, MonthRecord] = field(default_factory=dict)
    balances: dict[str, Points] = field(default_factory=dict)
    entries: list[StoredEntry] = field(default_factory=list)
    #: Published rule versions in publication order; the revision is the last publication.
    versions: list[PublishedVersion] = field(default_factory=list)
    revision: int = 0
    #: Bumped by every commit: a unit of work that began before another's commit is stale.
    version: int = 0

    def copy(self) -> Tables:
        """A working copy (records are immutable: copying the mappings is enough)."""
        return Tables(
            dict(self.events),
            dict(self.payments),
            dict(self.months),
            dict(self.balances),
            list(self.entries),
            list(self.versions),
            self.revision,
            self.version,
        )


def _payment_of(event: StoredEvent) -> str | None:
    return event.facts.payment_id if isinstance(event.facts, EventFacts) else None


class MemoryUnitOfWork(LedgerUnitOfWork):
    """One transaction on a copy of the store's tables, published by ``commit()``."""

    def __init__(self, store: MemoryLedgerStore) -> None:
        super().__init__()
        self._store = store

    def __enter__(self) -> Self:
        self.now = self._store.clock()
        self._tables = self._store.tables.copy()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Nothing to roll back: an uncommitted copy is simply dropped."""

    def claim(
        self,
        payments: Sequence[PaymentFacts],
        events: Sequence[StoredEvent],
        months: Sequence[MonthRef] | None,
    ) -> Claim:
        locked: dict[str, PaymentRecord] = {}
        for facts in sorted(payments, key=lambda f: f.payment_id):
            if facts.payment_id not in locked:
                placeholder = PaymentRecord(
                    PaymentFacts.empty(facts.payment_id, facts.account_id, facts.brand)
                )
                stored = self._tables.payments.setdefault(facts.payment_id, placeholder)
                locked[facts.payment_id] = stored
        recorded: set[str] = set()
        for event in sorted(events, key=lambda e: e.facts.event_id):
            if event.facts.event_id not in self._tables.events:
                self._tables.events[event.facts.event_id] = event
                recorded.add(event.facts.event_id)
        return Claim(locked, self.lock_months(claimed_months(months, locked)), recorded)

    def stored_hashes(self, event_ids: Sequence[str]) -> dict[str, str]:
        events = self._tables.events
        return {i: events[i].content_hash for i in sorted(event_ids) if i in events}

    def forget_events(self, event_ids: Sequence[str]) -> None:
        for event_id in event_ids:
            self._tables.events.pop(event_id, None)

    def forget_placeholders(self, payment_ids: Sequence[str]) -> None:
        payments = self._tables.payments
        for payment_id in payment_ids:
            if payment_id in payments and payments[payment_id].facts.event_count == 0:
                del payments[payment_id]

    def expiry_candidates(self, cutoff: datetime) -> list[str]:
        return sorted(
            payment_id
            for payment_id, record in self._tables.payments.items()
            if not record.facts.final
            and not record.facts.expired
            and record.earned.provisional > 0
            and record.facts.latest_authorized_at is not None
            and record.facts.latest_authorized_at < as_utc(cutoff)
        )

    def lock_payments(self, payment_ids: Sequence[str]) -> dict[str, PaymentRecord]:
        payments = self._tables.payments
        return {p: payments[p] for p in sorted(set(payment_ids)) if p in payments}

    def lock_months(self, months: Sequence[MonthRef]) -> dict[MonthRef, MonthRecord]:
        stored = self._tables.months
        return {ref: stored.setdefault(ref, MonthRecord(ref)) for ref in sorted(set(months))}

    def lock_rules(self, *, exclusive: bool = False) -> int:
        """The revision: nothing to lock, a unit of work of the fake runs alone."""
        return self._tables.revision

    def published_versions(self) -> list[PublishedVersion]:
        return list(self._tables.versions)

    def append_publication(self, publication: NewPublication) -> int:
        """As ``rule_rows.append_publication``: versions stored as their canonical JSON
        reads back, the actor cut to the column's 512 characters."""
        tables = self._tables
        tables.revision += 1
        tables.versions = [
            *tables.versions,
            *(
                PublishedVersion(
                    version=version_from_json(canonical_version_json(version)),
                    digest=version_digest(version),
                    publication_id=tables.revision,
                    published_at=self.now,
                    actor=publication.actor[:512],
                    reason=publication.reason,
                    backdated=publication.backdated,
                )
                for version in publication.versions
            ),
        ]
        return tables.revision

    def anchored_between(self, start: datetime | None, end: datetime | None) -> list[str]:
        def within(anchor: Anchor | None) -> bool:
            if anchor is None:
                return start is None and end is None  # SQL: NULL passes no bound
            return (start is None or anchor.occurred_at >= start) and (
                end is None or anchor.occurred_at < end
            )

        return sorted(
            p
            for p, record in self._tables.payments.items()
            if record.facts.event_count > 0 and within(record.facts.anchor)
        )

    def months_between(self, first: MonthKey | None, last: MonthKey | None) -> list[MonthRef]:
        return sorted(
            ref
            for ref in self._tables.months
            if (first is None or ref.month >= first) and (last is None or ref.month <= last)
        )

    def _write_and_commit(self, writes: Writes) -> None:
        tables = self._tables
        named = [e.event_id for e in writes.entries if e.event_id is not None]
        stored = {s.entry.event_id for s in tables.entries}
        if len(set(named)) < len(named) or stored.intersection(named):
            raise DataRefused("an event has one entry at most (ledger_entries.event_id)")
        next_id = len(tables.entries) + 1
        tables.entries += [
            StoredEntry(next_id + i, self.now, entry) for i, entry in enumerate(writes.entries)
        ]
        tables.payments.update((p.facts.payment_id, p) for p in writes.payments)
        tables.months.update((m.ref, m) for m in writes.months)
        for ref, delta in writes.month_deltas.items():
            month = tables.months.get(ref, MonthRecord(ref))
            tables.months[ref] = MonthRecord(ref, month.earned + delta, month.credited + delta)
        for account, delta in writes.balances.items():
            tables.balances[account] = tables.balances.get(account, Points()) + delta
        self._store.publish(tables)
        self._tables = self._store.tables.copy()


class MemoryLedgerStore(LedgerStore):
    """The ledger's tables in memory; ``clock`` stamps each unit of work (``now``)."""

    def __init__(self, clock: Clock = wall_clock) -> None:
        self.clock = clock
        self.tables = Tables()

    def unit_of_work(self) -> LedgerUnitOfWork:
        return MemoryUnitOfWork(self)

    def publish(self, tables: Tables) -> None:
        """Make a unit of work's tables the committed ones, unless another committed first."""
        if tables.version != self.tables.version:
            raise RaceLost("another unit of work committed since this one began")
        self.tables = replace(tables, version=tables.version + 1)

    def balances(
        self, account_id: str | None = None, *, after: str | None = None, limit: int | None = None
    ) -> list[Balance]:
        found = [
            Balance(account, points.confirmed, points.provisional)
            for account, points in sorted(self.tables.balances.items())
            if (account_id is None or account == account_id) and (after is None or account > after)
        ]
        return found[:limit]

    def payment(self, payment_id: str) -> PaymentView | None:
        record = self.tables.payments.get(payment_id)
        if record is None or record.facts.event_count == 0:
            return None
        return PaymentView.of(record)

    def history(
        self,
        account_id: str,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int | None = None,
    ) -> list[HistoryEntry]:
        found = [
            stored
            for stored in self.tables.entries
            if stored.entry.account_id == account_id
            and (after is None or stored.entry_id > after)
            and (before is None or stored.entry_id < before)
        ]
        if before is not None and limit is not None:
            found = found[max(len(found) - limit, 0) :]
        else:
            found = found[:limit]
        return [self._history_entry(stored) for stored in found]

    def _history_entry(self, stored: StoredEntry) -> HistoryEntry:
        entry = stored.entry
        event = self.tables.events.get(entry.event_id) if entry.event_id else None
        row = rows.event_row(event, stored.recorded_at) if event is not None else None
        return HistoryEntry(
            entry_id=stored.entry_id,
            recorded_at=stored.recorded_at,
            kind=str(entry.kind),
            payment_id=entry.payment_id,
            event_id=entry.event_id,
            event_type=None if row is None else row["event_type"],
            amount=None if row is None else row["amount"],
            occurred_at=None if row is None else row["occurred_at"],
            confirmed_delta=entry.delta.confirmed,
            provisional_delta=entry.delta.provisional,
        )

    def published_versions(self) -> list[PublishedVersion]:
        return list(self.tables.versions)

    def account_story(self, account_id: str) -> AccountStory:
        """As ``story_rows.account_story``: bodies of the events the account's entries name
        (each once, in entry order), the payments of its expiry entries, and its balance —
        all from the one committed ``Tables`` (a consistent read, as the drivers' is)."""
        tables = self.tables
        mine = [s.entry for s in tables.entries if s.entry.account_id == account_id]
        bodies = {
            e.event_id: tables.events[e.event_id].body
            for e in mine
            if e.event_id is not None and e.event_id in tables.events
        }
        expired = {e.payment_id for e in mine if e.kind is EntryKind.EXPIRY and e.payment_id}
        return AccountStory(
            list(bodies.values()), frozenset(expired), tables.balances.get(account_id)
        )

    def month_story(self, account_id: str, month: MonthKey) -> MonthStory:
        """As ``story_rows.month_story``: the events of the account's payments stored in
        ``month`` (by ``payment_id``) and of its grants (through their entries), the
        payments the stored rows say expired, and the credited points of the account's
        other stored months."""
        tables = self.tables
        counted = {
            p: record
            for p, record in tables.payments.items()
            if record.facts.account_id == account_id and record.month == month
        }
        grant_ids = {
            s.entry.event_id
            for s in tables.entries
            if s.entry.account_id == account_id
            and s.entry.payment_id is None
            and s.entry.kind is EntryKind.EVENT
        }
        bodies = [
            event.body
            for event_id, event in sorted(tables.events.items())
            if event.facts.account_id == account_id
            and (_payment_of(event) in counted or event_id in grant_ids)
        ]
        expired = frozenset(p for p, r in counted.items() if r.facts.expired)
        return MonthStory(
            month,
            AccountStory(bodies, expired, tables.balances.get(account_id)),
            {
                ref.month: record.credited
                for ref, record in tables.months.items()
                if ref.account_id == account_id and ref.month != month
            },
        )

    def account_ids(
        self,
        limit: int,
        *,
        after: str | None = None,
        first: str | None = None,
        last: str | None = None,
        max_entries: int | None = None,
    ) -> list[str]:
        tables = self.tables
        entries = Counter(stored.entry.account_id for stored in tables.entries)
        named = {
            *tables.balances,
            *(record.facts.account_id for record in tables.payments.values()),
            *(ref.account_id for ref in tables.months),
            *entries,
        }
        accounts = sorted(
            account
            for account in named
            if (after is None or account > after)
            and (first is None or account >= first)
            and (last is None or account <= last)
        )
        if max_entries is None:
            return accounts[:limit]
        return within_budget(((a, entries[a]) for a in accounts), limit, max_entries)

    def accounts_snapshot(self, account_ids: Sequence[str]) -> Snapshot:
        """As ``reads.accounts_snapshot``: events through the accounts' payments and entries
        (a grant through its entry)."""
        tables, wanted = self.tables, set(account_ids)
        entries = [s.entry for s in tables.entries if s.entry.account_id in wanted]
        payments = [r for r in tables.payments.values() if r.facts.account_id in wanted]
        payment_ids = {e.payment_id for e in entries if e.payment_id is not None}
        payment_ids |= {r.facts.payment_id for r in payments}
        grant_ids = {e.event_id for e in entries if e.payment_id is None and e.event_id}
        events = [e for e in tables.events.values() if _payment_of(e) in payment_ids]
        events += [tables.events[i] for i in sorted(grant_ids) if i in tables.events]
        return Snapshot(
            events=events,
            entries=entries,
            payments=payments,
            months=[m for ref, m in tables.months.items() if ref.account_id in wanted],
            balances=self._balances_of(sorted(wanted)),
        )

    def _balances_of(self, accounts: Iterable[str]) -> list[Balance]:
        stored = self.tables.balances
        return [
            Balance(a, stored[a].confirmed, stored[a].provisional) for a in accounts if a in stored
        ]

    def orphan_events(self, limit: int, *, after: str | None = None) -> list[StoredEvent]:
        tables = self.tables
        reached_payments = set(tables.payments)
        reached_payments |= {s.entry.payment_id for s in tables.entries if s.entry.payment_id}
        reached_events = {s.entry.event_id for s in tables.entries if s.entry.event_id}
        return [
            tables.events[event_id]
            for event_id in sorted(tables.events)
            if (after is None or event_id > after)
            and _payment_of(tables.events[event_id]) not in reached_payments
            and event_id not in reached_events
        ][:limit]

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class MemoryLedger:
    """The ledger's services on a ``MemoryLedgerStore``: what ``consumers.bootstrap.Ledger``
    composes on a database (batches, expiry, verify), without its engine or retries."""

    rules: Rules = DEFAULT_RULES
    store: MemoryLedgerStore = field(default_factory=MemoryLedgerStore)
    handler: PointsLedger = field(init=False)

    def __post_init__(self) -> None:
        self.handler = PointsLedger(self.store, self.rules)

    def handle_batch(self, events: Sequence[Event]) -> list[Result]:
        return self.handler.handle_batch(events)

    def expire(self, *, now: datetime) -> list[Expired]:
        return expire(self.store, self.rules, now=now)

    def verify(self) -> VerifyReport:
        return verify(self.store, self.rules)
