"""The ledger application service: applies events exactly once, in any order (DESIGN §4).

``PointsLedger`` implements the ``consumers.handler.Handler`` port. A batch is applied in
one transaction: the rules lock is taken shared (by its first claim, so on PostgreSQL in
that round trip; the rules in force are read after it), its payments and the account-months
they can change are locked (payments in ``payment_id`` order, months in (account, month)
order; months only under rules with a cap — without one a month credits what it earns and
is added to like a balance, ``Books.additive``), the inbox (event store) rows
are inserted with ``ON CONFLICT DO NOTHING`` in ``event_id`` order, and the append-only
entries and the payment, month and balance projections are written in the same
transaction, so the idempotency record and the ledger change commit or vanish together.

Each applied payment event folds into its payment's facts; the payment's earning before
and after (rate and month from its anchor, under the batch's ``Rules``) moves the earned
points of one or two account-months, whose credited points are re-settled under their cap
(``consumers.points.books``); the event's entry carries what the balance moved by. A
``points_grant`` is confirmed at once, never capped: its entry is its points.

Duplicates are detected at insert time (``ON CONFLICT DO NOTHING`` skips an ``event_id``
already stored, whether committed long ago or by a concurrent worker our insert waited
for) and always classified by content hash against what was *stored*: same content is a
duplicate, other content an ``IdempotencyConflict``. A copy is never judged against a
rejected copy of its id: when the first copy of an id in a batch is rejected (payment
conflict) and a later copy differs, that copy is claimed in a further round of the same
transaction, exactly as it would be in a batch of its own. Permanent rejections never
abort the batch; a database refusal of one event's data (e.g. PostgreSQL refusing a NUL
character) makes the batch fall back to one transaction per event so that the poison
event alone is rejected.

Everything goes through one ``LedgerUnitOfWork`` (``consumers.points.store``); nothing here
knows SQL, a driver or a retry: a lost race raises ``RaceLost`` and a database that is away
``DatabaseUnavailable`` (both transient), and the caller's ``RetryPolicy`` decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final, assert_never

from consumers.db import DataRefused, RaceLost
from consumers.handler import Result
from consumers.points.amounts import Points
from consumers.points.books import Books
from consumers.points.earning import MonthRef
from consumers.points.facts import EventFacts, Grant, PaymentFacts, apply_event
from consumers.points.intake import stored_event
from consumers.points.months import account_month
from consumers.points.published import RulesSource, fixed
from consumers.points.rules import DEFAULT_RULES, Rules
from consumers.points.store import LedgerStore, LedgerUnitOfWork
from consumers.points.store.records import Entry, EntryKind, StoredEvent, stored_months
from schemas.errors import IdempotencyConflict, PaymentConflict, PermanentError
from schemas.events import Event

#: Results are immutable: every applied event shares one.
_APPLIED: Final = Result.applied()


class UnapplicableEvent(PermanentError):
    """The database refused this one event for a reason retrying cannot fix."""

    code = "unapplicable_event"


class PointsLedger:
    """Applies batches of events to the points ledger (the ``Handler`` port).

    Thread-safe: it holds only the store (a connection pool) and where rules come from, so
    one instance may serve several worker threads. ``rules`` is a rule set or a provider
    asked once per transaction (the seam through which rules published in the database
    reach running workers).
    """

    def __init__(self, store: LedgerStore, rules: Rules | RulesSource = DEFAULT_RULES) -> None:
        self.store = store
        self.rules_source: RulesSource = fixed(rules) if isinstance(rules, Rules) else rules
        #: Whether the last batch's rules capped any month: the next batch locks its
        #: account-months in its claim only then (the rules are read in that very round
        #: trip, so a batch guesses; a wrong guess costs one more round trip, never a
        #: wrong month). A plain attribute: threads may race on it harmlessly.
        self.rules_had_cap = True

    def handle_batch(self, events: Sequence[Event]) -> list[Result]:
        """One ``Result`` per event in input order; ``TransientError`` if none decided."""
        if not events:
            return []
        incoming = [stored_event(event) for event in events]
        try:
            return self._apply(incoming)
        except DataRefused as exc:
            if len(incoming) == 1:
                return [Result.rejected(UnapplicableEvent(str(exc)))]
        return [self._apply_alone(item) for item in incoming]

    def _apply_alone(self, item: StoredEvent) -> Result:
        """Poison isolation: the event in a transaction of its own."""
        try:
            return self._apply([item])[0]
        except DataRefused as exc:
            return Result.rejected(UnapplicableEvent(str(exc)))

    def _apply(self, incoming: list[StoredEvent]) -> list[Result]:
        with self.store.unit_of_work() as uow:
            batch = _Batch(uow, self.rules_source, incoming, self.rules_had_cap)
            results = batch.run()
        self.rules_had_cap = batch.rules.has_cap
        return results


@dataclass
class _Batch:
    """One attempt at applying a batch inside one unit of work (discarded on rollback)."""

    uow: LedgerUnitOfWork
    rules_source: RulesSource
    incoming: list[StoredEvent]
    #: Claim the account-months the batch can change (rules with a cap), or none: under
    #: rules without a cap months are added to, like balances (``Books.additive``).
    lock_months: bool
    #: Made at the first claim, which takes the rules lock (``_books``).
    books: Books | None = field(init=False, default=None)
    results: list[Result | None] = field(init=False)
    #: Content hash of every event id known to be stored (found, or inserted by us).
    stored: dict[str, str] = field(init=False, default_factory=dict)
    #: Rejections of copies that were never stored, by (event id, content hash).
    refused: dict[tuple[str, str], Result] = field(init=False, default_factory=dict)
    entries: list[Entry] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.results = [None] * len(self.incoming)

    def run(self) -> list[Result]:
        pending = list(range(len(self.incoming)))
        while pending:
            firsts, later = self._first_copies(pending)
            self._claim(firsts)
            pending = self._judge_copies(later)
        books = self._books()
        placeholders = [p for p, r in books.payments.items() if r.facts.event_count == 0]
        self.uow.forget_placeholders(placeholders)
        if self.entries:
            payments, months = books.changed()
            self.uow.append(self.entries)
            self.uow.save_payments(payments)
            self.uow.save_months(months)
            self.uow.add_to_months(books.month_deltas)
            self.uow.add_to_balances(books.balances)
        self.uow.commit()
        return [result for result in self.results if result is not None]

    @property
    def rules(self) -> Rules:
        """The rules this batch computed with."""
        return self._books().rules

    def _id(self, index: int) -> str:
        return self.incoming[index].facts.event_id

    def _first_copies(self, pending: list[int]) -> tuple[list[int], list[int]]:
        """First copy of each event id (claimed this round) and later copies, in order."""
        firsts: list[int] = []
        later: list[int] = []
        seen: set[str] = set()
        for index in pending:
            if self._id(index) in seen:
                later.append(index)
            else:
                seen.add(self._id(index))
                firsts.append(index)
        return firsts, later

    def _judge_copies(self, later: list[int]) -> list[int]:
        """Later copies: judged against the stored content, or share the verdict on a
        rejected copy of the same content; the rest are claimed in the next round."""
        pending: list[int] = []
        for index in later:
            item = self.incoming[index]
            stored_hash = self.stored.get(item.facts.event_id)
            refused = self.refused.get((item.facts.event_id, item.content_hash))
            if stored_hash is not None:
                self.results[index] = _by_hash(stored_hash, item)
            elif refused is not None:
                self.results[index] = refused
            else:
                pending.append(index)
        return pending

    def _claim(self, firsts: list[int]) -> None:
        """One round: lock, insert, classify known ids, apply the inserted events."""
        items = [self.incoming[i] for i in firsts]
        months = _anchor_months(items) if self.lock_months else None
        claim = self.uow.claim(self._placeholders(items), items, months)
        books = self._books()
        if books.rules.has_cap and not self.lock_months:
            # Guessed "no cap" and the rules just read have one: lock what the claim
            # would have (a publication between two batches; one more round trip).
            self.lock_months = True
            wanted = [*_anchor_months(items), *stored_months(claim.payments)]
            books.lock({}, self.uow.lock_months(wanted))
        books.lock(claim.payments, claim.months)
        known = [i for i in firsts if self._id(i) not in claim.recorded]
        if known:
            hashes = claim.stored
            unseen = [self._id(i) for i in known if self._id(i) not in hashes]
            if unseen:  # stored by a unit that committed while the claim ran
                hashes = hashes | self.uow.stored_hashes(unseen)
            for index in known:
                if self._id(index) not in hashes:
                    raise RaceLost(self._id(index))  # vanished between insert and read: replan
                self.stored[self._id(index)] = hashes[self._id(index)]
                self.results[index] = _by_hash(hashes[self._id(index)], self.incoming[index])
        self._apply_inserted([i for i in firsts if self._id(i) in claim.recorded])

    def _books(self) -> Books:
        """The batch's books under the rules in force, made after the first claim: the
        claim takes the rules lock before any row lock (on PostgreSQL in its own round
        trip), and the rules source then reads the revision it holds (DESIGN §4.6)."""
        if self.books is None:
            rules = self.rules_source(self.uow)
            self.books = Books(rules, additive=not rules.has_cap and not self.lock_months)
        return self.books

    def _placeholders(self, items: list[StoredEvent]) -> list[PaymentFacts]:
        """One per payment of the round, from its first event: locks it, creates a new one."""
        first: dict[str, PaymentFacts] = {}
        for item in items:
            facts = item.facts
            if isinstance(facts, EventFacts) and facts.payment_id not in first:
                first[facts.payment_id] = PaymentFacts.empty(
                    facts.payment_id, facts.account_id, facts.brand
                )
        return list(first.values())

    def _apply_inserted(self, inserted: list[int]) -> None:
        """Apply the events this round inserted, in batch order, but reject those whose
        account or brand differ from their payment's.

        A payment's identity is that of its stored events, or for a new payment that of
        its first applied event. Rejected events' inbox rows (inserted by this very
        transaction) are deleted again: a rejected event is never stored.
        """
        rejected: list[str] = []
        for index in inserted:
            item = self.incoming[index]
            facts = item.facts
            if isinstance(facts, EventFacts):
                theirs = self._identity(facts)
                if theirs != (facts.account_id, str(facts.brand)):
                    result = Result.rejected(_payment_conflict(facts, theirs))
                    self.results[index] = result
                    self.refused[(facts.event_id, item.content_hash)] = result
                    rejected.append(facts.event_id)
                    continue
            self.stored[facts.event_id] = item.content_hash
            self._apply_event(index)
        self.uow.forget_events(rejected)

    def _identity(self, facts: EventFacts) -> tuple[str, str]:
        payment = self._books().payments[facts.payment_id].facts
        if payment.event_count == 0:
            return (facts.account_id, str(facts.brand))  # the first event decides
        return (payment.account_id, str(payment.brand))

    def _apply_event(self, index: int) -> None:
        """Fold one applied event into the books; one entry of what it credited."""
        facts = self.incoming[index].facts
        books = self._books()
        match facts:
            case EventFacts():
                before = books.payments[facts.payment_id].facts
                identity = (facts.account_id, facts.brand)
                if before.event_count == 0 and (before.account_id, before.brand) != identity:
                    before = replace(before, account_id=facts.account_id, brand=facts.brand)
                change = books.change(apply_event(before, facts))
                entry = Entry(
                    EntryKind.EVENT,
                    facts.account_id,
                    change.credited,
                    facts.payment_id,
                    facts.event_id,
                    change.month,
                )
            case Grant():
                delta = Points(facts.points, 0)  # confirmed at once, never capped (§4.4)
                books.credit(facts.account_id, delta)
                entry = Entry(EntryKind.EVENT, facts.account_id, delta, event_id=facts.event_id)
            case _:
                assert_never(facts)
        self.entries.append(entry)
        self.results[index] = _APPLIED


def _anchor_months(items: list[StoredEvent]) -> list[MonthRef]:
    """The account-months the round's events could move their payments' anchors to.

    Events apply in batch order, so a payment's anchor passes through every event that is
    earlier than all its events before it in the round (a running minimum), not only the
    earliest: each such event's month may be credited on the way, and must be locked.
    """
    running: dict[str, tuple[datetime, str]] = {}  # payment id: its earliest anchor key
    months: set[tuple[str, str]] = set()
    for item in items:
        facts = item.facts
        if isinstance(facts, EventFacts):
            key = (facts.occurred_at, facts.event_id)
            known = running.get(facts.payment_id)
            if known is None or key < known:
                running[facts.payment_id] = key
                months.add((facts.account_id, account_month(facts.occurred_at)))
    return [MonthRef(account, month) for account, month in sorted(months)]


def _by_hash(stored_hash: str, item: StoredEvent) -> Result:
    """A known ``event_id``: the same content is a duplicate, other content a conflict."""
    if stored_hash == item.content_hash:
        return Result.duplicate()
    return Result.rejected(
        IdempotencyConflict(
            f"event_id {item.facts.event_id!r} was seen before with different content"
        )
    )


def _payment_conflict(facts: EventFacts, known: tuple[str, str]) -> PaymentConflict:
    account, brand = known
    fields = [
        name
        for name, ours, theirs in (
            ("account_id", facts.account_id, account),
            ("brand", str(facts.brand), brand),
        )
        if ours != theirs
    ]
    return PaymentConflict(
        f"event {facts.event_id!r}: {' and '.join(fields)} "
        f"{'differ' if len(fields) > 1 else 'differs'} from payment "
        f"{facts.payment_id!r}'s earlier events"
    )
