"""Publications and running batches on PostgreSQL: the rules lock orders them (§4.6).

"No event is ever applied under a rule set older than one that committed before it": a
batch takes the rules lock shared and reads the revision after it, a publication holds
the lock exclusive until it commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import Engine

from consumers.handler import Result
from consumers.points.rules import parse_rules
from consumers.points.store.rule_rows import NewPublication
from tests.support.factories import make_event
from tests.support.ledger import ledger_on
from tests.support.ledger_kit import migrated_engine, wait_for_lock_wait

pytestmark = pytest.mark.postgres

DECEMBER = """{"versions": [{"effective_from": "2026-12-01T00:00:00+09:00",
  "rates_bp": {"visa": 300, "quicpay": 50}}]}"""


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = migrated_engine(postgres_url)
    yield engine
    engine.dispose()


def test_a_batch_waits_for_a_publication_and_computes_with_its_rules(engine: Engine) -> None:
    """A batch arriving while a publication holds the rules lock waits for its commit and
    then applies under the new version (its cached revision is stale, so it re-reads)."""
    ledger = ledger_on(engine)
    ledger.handle_batch([make_event(payment_id="warm-up", event_id="e0")])  # caches revision 0
    december = make_event(
        payment_id="dec", event_id="e1", amount=1000, occurred_at="2026-12-05T10:00:00+09:00"
    )
    with ledger.store.unit_of_work() as uow, ThreadPoolExecutor(1) as pool:
        uow.lock_rules(exclusive=True)
        versions = parse_rules(DECEMBER).versions
        uow.append_publication(NewPublication(versions, "tester", "test", backdated=False))
        batch = pool.submit(ledger.handle_batch, [december])
        wait_for_lock_wait(engine)
        assert not batch.done()
        uow.commit()
        batch.result()
    payment = ledger.store.payment("dec")
    ledger.close()
    assert payment is not None
    assert payment.provisional == 30


def test_a_batch_waiting_for_the_rules_lock_has_locked_no_payment(engine: Engine) -> None:
    """The rules lock is the first thing a batch's claim takes (in the claim's own round
    trip on PostgreSQL): a publication holding it exclusive can still lock the batch's
    payment, as a backdated one does, and the batch applies after it commits."""
    ledger = ledger_on(engine)
    ledger.handle_batch([make_event(payment_id="pay", event_id="e0")])
    with ledger.store.unit_of_work() as uow, ThreadPoolExecutor(1) as pool:
        uow.lock_rules(exclusive=True)
        # The handler itself, without the retry policy: a deadlock is not retried away.
        second = [make_event(payment_id="pay", event_id="e1")]
        batch = pool.submit(ledger.handler.handle_batch, second)
        wait_for_lock_wait(engine)
        locked = uow.lock_payments(["pay"])  # deadlocks if the batch holds the row
        uow.commit()
        results = batch.result()
    ledger.close()
    assert list(locked) == ["pay"]
    assert results == [Result.applied()]
