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
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.db import make_engine, require_migrated
from consumers.handler import Result
from consumers.points.domain import EventFacts, PaymentFacts, Points, apply_event, points
from consumers.points.pipeline import statements_for
from consumers.points.rules import DEFAULT_RULES, Rules, load_rules
from consumers.points.store import (
    RaceLost,
    Statements,
    balance_rows,
    db_reason,
    row_from_facts,
    with_retries,
)
from consumers.points.tables import KIND_EVENT, ledger_events, ledger_payments
from schemas.canonical import canonical_json
from schemas.errors import IdempotencyConflict, PaymentConflict, PermanentError
from schemas.events import PaymentEvent

DEFAULT_ATTEMPTS: Final = 8
#: Database refusals that are about an event's data, not about the database or our code.
POISON_ERRORS: Final = (sa.exc.DataError, sa.exc.IntegrityError)
T = TypeVar("T")


def ledger_engine(database_url: str) -> Engine:
    """The engine the ledger runs best on: ``make_engine`` without the pre-ping.

    A pre-ping costs a round trip per transaction; a dead pooled connection instead fails
    the first statement as "connection invalidated", a transient error the ledger retries
    on a fresh connection.
    """
    return make_engine(database_url, pool_pre_ping=False)


class UnapplicableEvent(PermanentError):
    """The database refused this one event for a reason retrying cannot fix."""

    code = "unapplicable_event"


@dataclass(frozen=True, slots=True)
class _Incoming:
    """A validated event with its canonical body and content hash, computed once."""

    facts: EventFacts
    body: str
    content_hash: str

    @classmethod
    def of(cls, event: PaymentEvent) -> _Incoming:
        body = canonical_json(event)
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
        return cls(EventFacts.of(event), body, digest)


class PointsLedger:
    """Applies batches of v1 payment events to the points ledger (the ``Handler`` port).

    Thread-safe: it holds only the engine (a connection pool) and immutable rules, so one
    instance may serve several worker threads.
    """

    def __init__(
        self,
        engine: Engine,
        rules: Rules = DEFAULT_RULES,
        *,
        attempts: int = DEFAULT_ATTEMPTS,
        max_wait_seconds: float = 1.0,
        driver_fast_paths: bool = True,
    ) -> None:
        """``driver_fast_paths=False`` sends every statement through SQLAlchemy instead of
        psycopg pipelines / raw sqlite3 (slower; for other drivers and for comparison)."""
        self.engine = engine
        self.rules = rules
        self._attempts = attempts
        self._max_wait = max_wait_seconds
        self._fast = driver_fast_paths

    @classmethod
    def from_settings(cls, database_url: str, rules_file: Path | None = None) -> PointsLedger:
        """Build from ``POINTS_DATABASE_URL``/``POINTS_RULES_FILE``; refuse an old schema."""
        rules = load_rules(rules_file)
        engine = ledger_engine(database_url)
        require_migrated(engine)
        return cls(engine, rules)

    def handle_batch(self, events: Sequence[PaymentEvent]) -> list[Result]:
        """One ``Result`` per event in input order; ``DatabaseUnavailable`` if none decided."""
        if not events:
            return []
        incoming = [_Incoming.of(event) for event in events]
        try:
            return self._retrying(lambda: self._apply(incoming))
        except POISON_ERRORS as exc:
            if len(incoming) == 1:
                return [Result.rejected(UnapplicableEvent(db_reason(exc)))]
        return [self._apply_alone(item) for item in incoming]

    def _apply_alone(self, item: _Incoming) -> Result:
        """Poison isolation: the event in a transaction of its own."""
        try:
            return self._retrying(lambda: self._apply([item]))[0]
        except POISON_ERRORS as exc:
            return Result.rejected(UnapplicableEvent(db_reason(exc)))

    def _retrying(self, work: Callable[[], T]) -> T:
        return with_retries(work, attempts=self._attempts, max_wait=self._max_wait)

    def _apply(self, incoming: list[_Incoming]) -> list[Result]:
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            statements = statements_for(connection) if self._fast else Statements(connection)
            return _Batch(connection, self.rules, now, incoming, statements).run()


@dataclass
class _Batch:
    """One attempt at applying a batch inside one transaction (discarded on rollback)."""

    connection: sa.Connection
    rules: Rules
    now: datetime
    incoming: list[_Incoming]
    statements: Statements
    results: list[Result | None] = field(init=False)
    payments: dict[str, PaymentFacts] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.results = [None] * len(self.incoming)

    def run(self) -> list[Result]:
        primaries, echoes = self._split_copies()
        self.payments, inserted = self.statements.lock_and_insert(
            self._placeholders(), self._inbox_rows(primaries)
        )
        stored = self._settle_known(primaries, inserted)
        applied = self._check_payments([i for i in primaries if self._id(i) in inserted])
        self._apply_events(applied)
        self._settle_echoes(echoes, stored)
        return [result for result in self.results if result is not None]

    def _id(self, index: int) -> str:
        return self.incoming[index].facts.event_id

    def _placeholders(self) -> list[dict[str, Any]]:
        """One row per payment of the batch, sorted: locks existing, creates new ones."""
        first: dict[str, dict[str, Any]] = {}
        for item in self.incoming:
            facts = item.facts
            if facts.payment_id not in first:
                first[facts.payment_id] = row_from_facts(
                    PaymentFacts.empty(facts.payment_id, facts.account_id, facts.brand),
                    Points(),
                    self.now,
                )
        return [first[payment_id] for payment_id in sorted(first)]

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

    def _inbox_rows(self, primaries: list[int]) -> list[dict[str, Any]]:
        """Inbox rows in ``event_id`` (lock) order.

        Rows committed earlier, or by a concurrent transaction our insert waited for, are
        skipped by ``ON CONFLICT DO NOTHING`` and classified by content in ``_settle_known``.
        """
        rows = (self._inbox_row(self.incoming[i]) for i in primaries)
        return sorted(rows, key=lambda r: r["event_id"])

    def _inbox_row(self, item: _Incoming) -> dict[str, Any]:
        facts = item.facts
        return {
            "event_id": facts.event_id,
            "content_hash": item.content_hash,
            "payment_id": facts.payment_id,
            "account_id": facts.account_id,
            "brand": str(facts.brand),
            "event_type": str(facts.event_type),
            "occurred_at": facts.occurred_at,
            "amount": facts.amount,
            "mcc": facts.mcc,
            "approved": facts.approved,
            "final": facts.final,
            "body": item.body,
            "received_at": self.now,
        }

    def _settle_known(self, primaries: list[int], inserted: set[str]) -> dict[str, str]:
        """Events already stored: same content is a duplicate, other content a conflict.

        This is the one place duplicates are classified, whether the row was committed
        long ago or by a concurrent worker while our insert waited: never assumed equal.
        """
        known = [i for i in primaries if self._id(i) not in inserted]
        if not known:
            return {}
        query = sa.select(ledger_events.c.event_id, ledger_events.c.content_hash).where(
            ledger_events.c.event_id.in_(sorted(self._id(i) for i in known))
        )
        stored = {row.event_id: row.content_hash for row in self.connection.execute(query)}
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
        if rejected:
            self.connection.execute(
                sa.delete(ledger_events).where(ledger_events.c.event_id.in_(sorted(rejected)))
            )
        return accepted

    def _apply_events(self, applied: list[int]) -> None:
        """Fold each applied event into its payment; one entry of point deltas per event."""
        entries: list[dict[str, Any]] = []
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
            entries.append(self._entry(facts, delta))
            total = balance_deltas.get(facts.account_id, Points())
            balance_deltas[facts.account_id] = Points(
                total.confirmed + delta.confirmed, total.provisional + delta.provisional
            )
            self.results[index] = Result.applied()
        self._drop_unused_placeholders()
        if entries:
            # The last statements of the transaction: they may carry its COMMIT along.
            self.statements.write_and_commit(
                entries,
                [
                    row_from_facts(self.payments[p], points(self.payments[p], self.rules), self.now)
                    for p in sorted(touched)
                ],
                balance_rows(balance_deltas, self.now),
            )

    def _entry(self, facts: EventFacts, delta: Points) -> dict[str, Any]:
        return {
            "kind": KIND_EVENT,
            "event_id": facts.event_id,
            "payment_id": facts.payment_id,
            "account_id": facts.account_id,
            "provisional_delta": delta.provisional,
            "confirmed_delta": delta.confirmed,
            "recorded_at": self.now,
        }

    def _drop_unused_placeholders(self) -> None:
        """Placeholders of payments none of whose events applied must not outlive us."""
        unused = sorted(p for p, f in self.payments.items() if f.event_count == 0)
        if unused:
            self.connection.execute(
                sa.delete(ledger_payments).where(
                    ledger_payments.c.payment_id.in_(unused), ledger_payments.c.event_count == 0
                )
            )

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


def _by_hash(stored_hash: str, item: _Incoming) -> Result:
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
