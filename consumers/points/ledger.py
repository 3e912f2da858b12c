"""The ledger application service: applies payment events exactly once, in any order.

``PointsLedger`` implements the ``consumers.handler.Handler`` port. A batch is applied in
one transaction: payments are locked in ``payment_id`` order, the inbox (event store) rows
are inserted with ``ON CONFLICT DO NOTHING`` in ``event_id`` order, and the append-only
entries and both projections are written in the same transaction, so the idempotency
record and the ledger change commit or vanish together.

Duplicates are detected at insert time (``ON CONFLICT DO NOTHING`` skips an ``event_id``
already stored, whether committed long ago or by a concurrent worker our insert waited
for) and always classified by content hash: same content is a duplicate, other content an
``IdempotencyConflict`` (the content check peers forgot on exactly this path). Permanent
rejections never abort the batch; a database refusal of one event's data (e.g. PostgreSQL
refusing a NUL character) makes the batch fall back to one transaction per event so that
the poison event alone is rejected.

Everything goes through one ``LedgerUnitOfWork`` (``consumers.points.store``); nothing here
knows SQL, a driver or a retry: a lost race raises ``RaceLost`` and a database that is away
``DatabaseUnavailable`` (both transient), and the caller's ``RetryPolicy`` decides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import assert_never

from consumers.db import DataRefused, RaceLost
from consumers.handler import Result
from consumers.points.domain import EventFacts, PaymentFacts, Points, apply_event, points
from consumers.points.rules import DEFAULT_RULES, Rules
from consumers.points.store import LedgerStore, LedgerUnitOfWork
from consumers.points.store.records import Entry, EntryKind, PaymentRecord, StoredEvent
from schemas.canonical import canonical_json
from schemas.errors import IdempotencyConflict, PaymentConflict, PermanentError
from schemas.events import (
    Authorization,
    AuthorizationReversal,
    Chargeback,
    ChargebackReversal,
    Clearing,
    Event,
    PointsGrant,
    Refund,
    RefundReversal,
)

# ---- Issue #13 phase A (v2schemas): the contract carries the v2 event types before this
# ledger applies them; they are dead-lettered with a clear reason. v2ledger replaces this
# block (``V1PaymentEvent``, ``NotApplied``, ``_v1_payment``, the split in ``handle_batch``).
V1PaymentEvent = Authorization | AuthorizationReversal | Clearing | Refund


class NotApplied(PermanentError):
    """An event type of the contract that this ledger version does not apply yet."""

    code = "event_type_not_applied"


def _v1_payment(event: Event) -> V1PaymentEvent | None:
    match event:
        case Authorization() | AuthorizationReversal() | Clearing() | Refund():
            return event
        case RefundReversal() | Chargeback() | ChargebackReversal() | PointsGrant():
            return None
        case _:
            assert_never(event)


def _not_applied(event: Event) -> Result:
    return Result.rejected(
        NotApplied(f"event type {event.event_type.value} is not applied by this ledger version")
    )


# ---- end of the issue #13 phase A block


class UnapplicableEvent(PermanentError):
    """The database refused this one event for a reason retrying cannot fix."""

    code = "unapplicable_event"


def stored_event(event: V1PaymentEvent) -> StoredEvent:
    """A validated event with its canonical body and content hash, computed once."""
    body = canonical_json(event)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return StoredEvent(EventFacts.of(event), digest, body)


class PointsLedger:
    """Applies batches of v1 payment events to the points ledger (the ``Handler`` port).

    Thread-safe: it holds only the store (a connection pool) and immutable rules, so one
    instance may serve several worker threads.
    """

    def __init__(self, store: LedgerStore, rules: Rules = DEFAULT_RULES) -> None:
        self.store = store
        self.rules = rules

    def handle_batch(self, events: Sequence[Event]) -> list[Result]:
        """One ``Result`` per event in input order; ``TransientError`` if none decided."""
        v1 = [_v1_payment(event) for event in events]  # issue #13 phase A block
        applied = iter(self._handle_v1([event for event in v1 if event is not None]))
        return [
            _not_applied(event) if known is None else next(applied)
            for event, known in zip(events, v1, strict=True)
        ]

    def _handle_v1(self, events: Sequence[V1PaymentEvent]) -> list[Result]:
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
            return _Batch(uow, self.rules, incoming).run()


@dataclass
class _Batch:
    """One attempt at applying a batch inside one unit of work (discarded on rollback)."""

    uow: LedgerUnitOfWork
    rules: Rules
    incoming: list[StoredEvent]
    results: list[Result | None] = field(init=False)
    payments: dict[str, PaymentFacts] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.results = [None] * len(self.incoming)

    def run(self) -> list[Result]:
        primaries, echoes = self._split_copies()
        claim = self.uow.claim(self._placeholders(), [self.incoming[i] for i in primaries])
        self.payments = claim.payments
        stored = self._settle_known(primaries, claim.recorded)
        applied = self._check_payments([i for i in primaries if self._id(i) in claim.recorded])
        self._apply_events(applied)
        self._settle_echoes(echoes, stored)
        self.uow.commit()
        return [result for result in self.results if result is not None]

    def _id(self, index: int) -> str:
        return self.incoming[index].facts.event_id

    def _placeholders(self) -> list[PaymentFacts]:
        """One per payment of the batch, from its first event: locks it, creates a new one."""
        first: dict[str, PaymentFacts] = {}
        for item in self.incoming:
            facts = item.facts
            if facts.payment_id not in first:
                first[facts.payment_id] = PaymentFacts.empty(
                    facts.payment_id, facts.account_id, facts.brand
                )
        return list(first.values())

    def _split_copies(self) -> tuple[list[int], list[int]]:
        """First copy of each event id (primaries) and later copies (echoes), in order."""
        primaries: list[int] = []
        echoes: list[int] = []
        seen: set[str] = set()
        for index, item in enumerate(self.incoming):
            if item.facts.event_id in seen:
                echoes.append(index)
            else:
                seen.add(item.facts.event_id)
                primaries.append(index)
        return primaries, echoes

    def _settle_known(self, primaries: list[int], inserted: set[str]) -> dict[str, str]:
        """Events already stored: same content is a duplicate, other content a conflict.

        This is the one place duplicates are classified, whether the row was committed
        long ago or by a concurrent worker while our insert waited: never assumed equal.
        """
        known = [i for i in primaries if self._id(i) not in inserted]
        if not known:
            return {}
        stored = self.uow.stored_hashes([self._id(i) for i in known])
        for index in known:
            if self._id(index) not in stored:
                raise RaceLost(self._id(index))  # vanished between insert and read: replan
            self.results[index] = _by_hash(stored[self._id(index)], self.incoming[index])
        return stored

    def _check_payments(self, inserted: list[int]) -> list[int]:
        """Reject events whose account or brand differ from their payment's; keep the rest.

        A payment's identity is that of its stored events, or for a new payment that of
        its first event in this batch. Rejected events' inbox rows (inserted by this very
        transaction) are deleted again: a rejected event is never stored.
        """
        identity = {
            pid: (f.account_id, str(f.brand)) for pid, f in self.payments.items() if f.event_count
        }
        accepted: list[int] = []
        rejected: list[str] = []
        for index in inserted:
            facts = self.incoming[index].facts
            ours = (facts.account_id, str(facts.brand))
            theirs = identity.setdefault(facts.payment_id, ours)
            if theirs == ours:
                accepted.append(index)
            else:
                self.results[index] = Result.rejected(_payment_conflict(facts, theirs))
                rejected.append(facts.event_id)
        self.uow.forget_events(rejected)
        return accepted

    def _apply_events(self, applied: list[int]) -> None:
        """Fold each applied event into its payment; one entry of point deltas per event."""
        entries: list[Entry] = []
        balance_deltas: dict[str, Points] = {}
        touched: set[str] = set()
        for index in applied:
            facts = self.incoming[index].facts
            before = self.payments[facts.payment_id]
            if before.event_count == 0:
                before = replace(before, account_id=facts.account_id, brand=facts.brand)
            after = apply_event(before, facts)
            delta = points(after, self.rules) - points(before, self.rules)
            self.payments[facts.payment_id] = after
            touched.add(facts.payment_id)
            entries.append(
                Entry(EntryKind.EVENT, facts.payment_id, facts.account_id, delta, facts.event_id)
            )
            balance_deltas[facts.account_id] = (
                balance_deltas.get(facts.account_id, Points()) + delta
            )
            self.results[index] = Result.applied()
        # Placeholders of payments none of whose events applied must not outlive us.
        self.uow.forget_placeholders([p for p, f in self.payments.items() if f.event_count == 0])
        if entries:
            self.uow.append(entries)
            self.uow.save_payments(
                [
                    PaymentRecord(self.payments[p], points(self.payments[p], self.rules))
                    for p in touched
                ]
            )
            self.uow.add_to_balances(balance_deltas)

    def _settle_echoes(self, echoes: list[int], stored: dict[str, str]) -> None:
        """Later copies of an event id within the batch: judged like redeliveries.

        Against the stored content when there is one; else against the first copy, whose
        rejection a same-content copy shares.
        """
        first_index: dict[str, int] = {}
        for index, item in enumerate(self.incoming):
            first_index.setdefault(item.facts.event_id, index)
        for index in echoes:
            item = self.incoming[index]
            primary_index = first_index[item.facts.event_id]
            primary_result = self.results[primary_index]
            stored_hash = stored.get(item.facts.event_id)
            if stored_hash is not None:
                self.results[index] = _by_hash(stored_hash, item)
            elif (
                primary_result is not None
                and primary_result.error is not None
                and item.content_hash == self.incoming[primary_index].content_hash
            ):
                self.results[index] = primary_result
            else:
                self.results[index] = _by_hash(self.incoming[primary_index].content_hash, item)


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
