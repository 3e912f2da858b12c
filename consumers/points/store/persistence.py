"""The ledger's storage interface: one abstract store, one unit of work, typed records.

Modelled on eventsourcing's ``persistence.py`` (one abstract recorder, driver-named
implementations in ``sqlite.py``/``postgres.py``) and cosmicpython's unit of work (the
unit of work owns the commit; leaving it without ``commit()`` rolls back). Everything that
touches the ledger tables goes through here: the worker's batches (``ledger.py``), the
expiry job, ``verify`` and the ``points ledger`` queries.

Implementations: ``core.py`` (SQLAlchemy Core: every dialect, and the reads of all),
``sqlite.py`` (raw sqlite3 for the batch path) and ``postgres.py`` (psycopg pipeline mode:
the batch's writes and its COMMIT in one round trip). ``open_store`` picks by driver.

Writes (``append``, ``save_payments``, ``save_months``, ``add_to_balances``) are deferred
to ``commit()``: they are the transaction's last statements, so a driver may send them with
the COMMIT. Locks are always taken in one global order — payments by ``payment_id``, then
inbox rows by ``event_id``, then account-months by (``account_id``, ``month``), then
balances by ``account_id`` — whatever order callers pass, so concurrent units of work
cannot deadlock. Driver errors leave a unit of work already
classified (``consumers.db.classify_db_error``): ``DatabaseUnavailable`` (transient),
``DataRefused`` (permanent), ``DatabaseMisconfigured`` (configuration).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime

from consumers.points.amounts import Points
from consumers.points.earning import MonthRef
from consumers.points.facts import PaymentFacts
from consumers.points.months import MonthKey
from consumers.points.store.records import (
    Balance,
    Claim,
    Entry,
    HistoryEntry,
    MonthRecord,
    PaymentRecord,
    PaymentView,
    Snapshot,
    StoredEvent,
)
from consumers.points.store.rule_rows import NewPublication, PublishedVersion
from consumers.points.store.story_rows import AccountStory, MonthStory


@dataclass(frozen=True)
class Writes:
    """What a unit of work deferred to its commit, each list in lock order."""

    entries: list[Entry]
    payments: list[PaymentRecord]
    months: list[MonthRecord]
    balances: dict[str, Points]
    #: Earned = credited deltas added to account-months (rules without a cap), by month.
    month_deltas: dict[MonthRef, Points] = field(default_factory=dict)


class LedgerUnitOfWork(AbstractContextManager["LedgerUnitOfWork"], ABC):
    """One ledger transaction. Use as ``with store.unit_of_work() as uow: …; uow.commit()``."""

    #: The wall clock when the unit of work began; it stamps every row the unit writes.
    now: datetime

    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._payments: dict[str, PaymentRecord] = {}
        self._months: dict[MonthRef, MonthRecord] = {}
        self._balances: dict[str, Points] = {}
        self._month_deltas: dict[MonthRef, Points] = {}

    # __enter__ begins the transaction; __exit__ rolls back unless committed and re-raises
    # driver errors classified (contextlib.AbstractContextManager's two methods).

    # --- applying events ------------------------------------------------------------

    @abstractmethod
    def claim(
        self,
        payments: Sequence[PaymentFacts],
        events: Sequence[StoredEvent],
        months: Sequence[MonthRef] | None,
    ) -> Claim:
        """Lock the batch's payments and account-months; record its events in the inbox.

        First, unless this unit holds it already, the rules lock is taken shared and the
        revision read (``lock_rules``): the lock comes before every row lock, and a driver
        may send it in the claim's own round trip; ``lock_rules()`` then returns the
        revision read here.

        ``payments`` are the (empty) facts of each payment the batch touches: a payment
        never seen gets a placeholder row (``event_count == 0``) that ``forget_placeholders``
        removes again if none of its events applies. Events whose ``event_id`` is stored
        already (committed, or by a concurrent unit we waited for) are skipped; the claim
        names the ids this unit inserted and may return the content hash of those it
        found (``Claim.stored``; the ledger reads the rest with ``stored_hashes``). The
        account-months locked (created at zero when new) are ``months`` — the months the
        batch's events could move a payment's anchor to — and the stored month of every
        locked payment: every month the batch can change. ``months=None`` locks no
        account-month at all (a batch under rules without a cap adds to months instead:
        ``add_to_months``). One step because it is one in the algorithm, and a driver may
        send it all at once.
        """

    @abstractmethod
    def stored_hashes(self, event_ids: Sequence[str]) -> dict[str, str]:
        """``content_hash`` of the given events that are stored, by ``event_id``."""

    @abstractmethod
    def forget_events(self, event_ids: Sequence[str]) -> None:
        """Delete inbox rows this unit inserted for events it then rejected."""

    @abstractmethod
    def forget_placeholders(self, payment_ids: Sequence[str]) -> None:
        """Delete placeholders of payments none of whose events applied."""

    # --- the expiry job -------------------------------------------------------------

    @abstractmethod
    def expiry_candidates(self, cutoff: datetime) -> list[str]:
        """Payments the projection says may expire (re-checked under lock), sorted."""

    @abstractmethod
    def lock_payments(self, payment_ids: Sequence[str]) -> dict[str, PaymentRecord]:
        """Row-lock existing payments (``payment_id`` order) and return them."""

    @abstractmethod
    def lock_months(self, months: Sequence[MonthRef]) -> dict[MonthRef, MonthRecord]:
        """Row-lock account-months ((account, month) order), creating missing ones at 0."""

    # --- rules (DESIGN §4.6; see ``rule_rows``) ------------------------------------

    @abstractmethod
    def lock_rules(self, *, exclusive: bool = False) -> int:
        """Take the rules lock to the end of the transaction — shared to apply rules,
        exclusive to publish — then return the rules revision (0: nothing published).

        The first statement of any unit of work that computes points: the rules lock comes
        before every row lock (rules → payments → account-months → balances). Held already
        (shared, by this call or a ``claim``): the revision read then, with this unit's own
        publications — nothing commits a publication while the lock is held.
        """

    @abstractmethod
    def published_versions(self) -> list[PublishedVersion]:
        """Every published rule version, in publication order."""

    @abstractmethod
    def append_publication(self, publication: NewPublication) -> int:
        """Append a publication and its versions at once (not deferred); returns the new
        revision. Call with the rules lock held exclusive."""

    @abstractmethod
    def anchored_between(self, start: datetime | None, end: datetime | None) -> list[str]:
        """Payments anchored at or after ``start`` and before ``end`` (either open), sorted:
        what a backdated publication recomputes. Call with the rules lock exclusive."""

    @abstractmethod
    def months_between(self, first: MonthKey | None, last: MonthKey | None) -> list[MonthRef]:
        """Stored account-months from ``first`` to ``last`` (inclusive, either open)."""

    # --- writes, deferred to commit ---------------------------------------------------

    def append(self, entries: Sequence[Entry]) -> None:
        """Append ledger entries (in the order given: entry ids follow it)."""
        self._entries.extend(entries)

    def save_payments(self, payments: Sequence[PaymentRecord]) -> None:
        """Write payment projections (the rows exist: claimed or locked by this unit)."""
        for record in payments:
            self._payments[record.facts.payment_id] = record

    def save_months(self, months: Sequence[MonthRecord]) -> None:
        """Write account-month projections (locked by this unit)."""
        for record in months:
            self._months[record.ref] = record

    def add_to_balances(self, deltas: Mapping[str, Points]) -> None:
        """Add per-account deltas to the balance projection."""
        for account, delta in deltas.items():
            self._balances[account] = self._balances.get(account, Points()) + delta

    def add_to_months(self, deltas: Mapping[MonthRef, Points]) -> None:
        """Add to account-months' earned and credited points alike (created at zero when
        new), without locking them first: only under rules without a cap, where a month
        credits what it earns. Rows are written in (account, month) order."""
        for ref, delta in deltas.items():
            self._month_deltas[ref] = self._month_deltas.get(ref, Points()) + delta

    def commit(self) -> None:
        """Write what was deferred, then commit (a driver may send both in one go)."""
        payments = [self._payments[p] for p in sorted(self._payments)]
        months = [self._months[m] for m in sorted(self._months)]
        self._write_and_commit(
            Writes(self._entries, payments, months, self._balances, self._month_deltas)
        )
        self._entries, self._payments, self._months, self._balances = [], {}, {}, {}
        self._month_deltas = {}

    @abstractmethod
    def _write_and_commit(self, writes: Writes) -> None: ...


class LedgerStore(ABC):
    """The ledger database of a process: opens units of work and answers queries.

    Thread-safe (it holds a connection pool): one store serves every worker thread.
    """

    @abstractmethod
    def unit_of_work(self) -> LedgerUnitOfWork: ...

    @abstractmethod
    def balances(
        self, account_id: str | None = None, *, after: str | None = None, limit: int | None = None
    ) -> list[Balance]:
        """Balances sorted by ``account_id``: one account's, or the ``limit`` (default all)
        accounts after ``after`` (keyset paging)."""

    @abstractmethod
    def payment(self, payment_id: str) -> PaymentView | None:
        """A payment with at least one applied event, or ``None``."""

    @abstractmethod
    def history(
        self,
        account_id: str,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int | None = None,
    ) -> list[HistoryEntry]:
        """An account's entries in the order they were recorded (``entry_id``): the first
        ``limit`` after the entry ``after``, or the last ``limit`` before ``before``."""

    @abstractmethod
    def published_versions(self) -> list[PublishedVersion]:
        """Every published rule version, in publication order (``points rules list``)."""

    @abstractmethod
    def account_story(self, account_id: str) -> AccountStory:
        """The account's applied events, expired payments and stored balance, from one
        consistent read (``points ledger explain``: the balance it checks is the one these
        events made, whatever commits meanwhile)."""

    @abstractmethod
    def month_story(self, account_id: str, month: MonthKey) -> MonthStory:
        """What ``points ledger explain --month`` reads, from one consistent read: the
        applied events of the payments counted in ``month`` (their stored month), the
        expired among them, every grant of the account, the credited points stored for
        its other months, and its stored balance."""

    # --- verify's streaming reads -----------------------------------------------------

    @abstractmethod
    def account_ids(
        self,
        limit: int,
        *,
        after: str | None = None,
        first: str | None = None,
        last: str | None = None,
        max_entries: int | None = None,
    ) -> list[str]:
        """The next ``limit`` accounts (sorted) with a balance, payment, month or entry:
        after ``after``, within ``first``..``last`` (inclusive; either open); with
        ``max_entries``, cut as ``within_budget`` cuts them by their entry counts."""

    @abstractmethod
    def accounts_snapshot(self, account_ids: Sequence[str]) -> Snapshot:
        """The rows of these accounts from one consistent read: their balances, entries and
        payments, and the stored events of those payments."""

    @abstractmethod
    def orphan_events(self, limit: int, *, after: str | None = None) -> list[StoredEvent]:
        """The next ``limit`` events (by ``event_id``) that no payment row or entry names,
        which no account's snapshot holds."""

    @abstractmethod
    def close(self) -> None:
        """Release the connections (the process is done with the ledger)."""


def within_budget(counts: Iterable[tuple[str, int]], limit: int, max_entries: int) -> list[str]:
    """The accounts of ``counts`` (``(account_id, entries)`` in keyset order) that make one
    of ``verify``'s chunks: at most ``limit`` of them, their entries at most
    ``max_entries`` — but always the first one, however many it has (an account is never
    split). An account without entries (only a balance, payment or month row) costs 1."""
    chunk: list[str] = []
    total = 0
    for account, entries in counts:
        cost = max(entries, 1)
        if len(chunk) == limit or (chunk and total + cost > max_entries):
            break
        chunk.append(account)
        total += cost
    return chunk
