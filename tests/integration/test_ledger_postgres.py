"""PostgreSQL-only ledger behaviour: the insert-time duplicate race and poison isolation.

The race tests hold another transaction's uncommitted inbox row open, so that the ledger's
``INSERT … ON CONFLICT DO NOTHING`` must wait and then discover the duplicate at insert
time: the content check must still run (peers shipped "conflict at insert = duplicate").
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.handler import Outcome, Result
from consumers.points.ledger import UnapplicableEvent
from consumers.points.rules import DEFAULT_RULES
from consumers.points.tables import ledger_entries, ledger_events, ledger_payments
from schemas.canonical import canonical_json, content_hash
from schemas.errors import IdempotencyConflict
from schemas.events import PaymentEvent
from tests.support.factories import make_event
from tests.support.ledger import ledger_on, verified
from tests.support.ledger_kit import count, migrated_engine, outcomes, wait_for_lock_wait

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = migrated_engine(postgres_url)
    yield engine
    engine.dispose()


def _inbox_row(event: PaymentEvent) -> dict[str, Any]:
    """The inbox row another worker would have written for ``event``."""
    return {
        "event_id": event.event_id,
        "content_hash": content_hash(event),
        "payment_id": event.payment_id,
        "account_id": event.account_id,
        "brand": str(event.brand),
        "event_type": str(event.event_type),
        "occurred_at": event.occurred_at,
        "amount": event.amount,
        "mcc": event.merchant.mcc,
        "approved": True,
        "final": False,
        "body": canonical_json(event),
        "received_at": datetime.now(UTC),
    }


def _race(engine: Engine, committed: PaymentEvent, batch: list[PaymentEvent]) -> list[Result]:
    """Apply ``batch`` while another transaction inserts ``committed``; then commit it."""
    ledger = ledger_on(engine)
    with engine.connect() as other, ThreadPoolExecutor(1) as pool:
        transaction = other.begin()
        other.execute(sa.insert(ledger_events).values(_inbox_row(committed)))
        future = pool.submit(ledger.handle_batch, batch)
        wait_for_lock_wait(engine)
        transaction.commit()
        return future.result(timeout=30)


def test_insert_time_duplicate_with_same_content_is_a_duplicate(engine: Engine) -> None:
    """Detected only at insert time, the same content is DUPLICATE and applies nothing."""
    event = make_event(amount=1000)
    assert _race(engine, event, [event]) == [Result.duplicate()]
    assert count(engine, ledger_entries) == 0
    assert count(engine, ledger_payments) == 0


def test_insert_time_duplicate_with_other_content_is_a_conflict(engine: Engine) -> None:
    """Detected only at insert time, different content is still an IdempotencyConflict."""
    theirs = make_event(amount=1000)
    ours = make_event(amount=2000)
    [result] = _race(engine, theirs, [ours])
    assert isinstance(result.error, IdempotencyConflict)
    assert count(engine, ledger_entries) == 0


def test_insert_time_loss_of_a_new_payments_first_event_keeps_the_rest(engine: Engine) -> None:
    """A new payment's first event lost at insert time: it is a duplicate, the rest apply."""
    first = make_event(event_id="x", payment_id="pay-new", amount=1000)
    second = make_event("clearing", event_id="y", payment_id="pay-new", amount=500)
    assert _race(engine, first, [first, second]) == [Result.duplicate(), Result.applied()]
    assert count(engine, ledger_entries) == 1


def test_two_workers_racing_on_the_same_event_apply_it_once(postgres_url: str) -> None:
    """Two workers, separate connections, same events at the same instant: one applies."""
    engines = [migrated_engine(postgres_url) for _ in range(2)]
    ledgers = [ledger_on(e) for e in engines]
    rounds = 25
    barrier = threading.Barrier(2)
    seen: list[list[str]] = [[], []]

    def work(n: int) -> None:
        for r in range(rounds):
            event = make_event(event_id=f"e{r}", payment_id=f"p{r % 5}", amount=100 + r)
            barrier.wait()
            seen[n] += outcomes(ledgers[n].handle_batch([event]))

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(work, range(2)))
    pairs = sorted(zip(seen[0], seen[1], strict=True))
    assert all(sorted(pair) == ["applied", "duplicate"] for pair in pairs), pairs
    assert count(engines[0], ledger_entries) == rounds
    assert verified(engines[0], DEFAULT_RULES).clean
    for e in engines:
        e.dispose()


def test_two_workers_racing_with_different_contents_never_say_duplicate(
    postgres_url: str,
) -> None:
    """Same event_id, different payments, at once: one applies, the other is a conflict."""
    engines = [migrated_engine(postgres_url) for _ in range(2)]
    ledgers = [ledger_on(e) for e in engines]
    rounds = 25
    barrier = threading.Barrier(2)
    seen: list[list[str]] = [[], []]

    def work(n: int) -> None:
        for r in range(rounds):
            event = make_event(event_id=f"e{r}", payment_id=f"p{r}-{n}", amount=100)
            barrier.wait()
            seen[n] += outcomes(ledgers[n].handle_batch([event]))

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(work, range(2)))
    for pair in zip(seen[0], seen[1], strict=True):
        assert sorted(pair) == ["applied", "idempotency_conflict"], pair
    assert verified(engines[0], DEFAULT_RULES).clean
    for e in engines:
        e.dispose()


def test_event_the_database_refuses_is_isolated_from_its_batch(engine: Engine) -> None:
    """PostgreSQL refuses NUL in text: that event alone is rejected, the others commit."""
    poison = make_event(
        event_id="poison",
        payment_id="pay-2",
        account_id="acct\x00",
    )
    batch = [make_event(event_id="a", amount=1000), poison, make_event("clearing", event_id="c")]
    results = ledger_on(engine).handle_batch(batch)
    assert [r.outcome for r in results] == [Outcome.APPLIED, Outcome.REJECTED, Outcome.APPLIED]
    assert isinstance(results[1].error, UnapplicableEvent)
    assert str(results[1].error)  # the database's own reason travels to the DLQ
    assert count(engine, ledger_entries) == 2
    assert verified(engine, DEFAULT_RULES).clean
