"""A batch costs the PostgreSQL ledger two round trips, whatever its size.

Counted on the wire, not timed: libpq's own trace of the ledger's connection records every
``Sync`` the client sends, and in pipeline mode each ``Sync`` is one wait for the server.
Two: the claim (BEGIN, rules lock, payments, inbox, account-months) and the writes with
the COMMIT. psycopg left to itself adds one for its ``BEGIN`` and one for its ``commit()``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg.pq import Trace

from consumers.bootstrap import Ledger
from consumers.handler import Outcome
from schemas.events import Event
from tests.support.factories import make_event
from tests.support.ledger import ledger_on
from tests.support.ledger_kit import migrated_engine, outcomes

pytestmark = pytest.mark.postgres


@pytest.fixture
def ledger(postgres_url: str) -> Iterator[Ledger]:
    migrated_engine(postgres_url).dispose()
    with ledger_on(postgres_url) as ledger:
        yield ledger


def _syncs_sent(
    ledger: Ledger, apply: Sequence[Sequence[Event]], results: list[list[str]] | None = None
) -> int:
    """``Sync`` messages sent on the ledger's connections while ``apply`` runs (the
    batches' outcomes go to ``results``)."""
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "libpq.trace"
        with path.open("w") as trace:
            traced: list[psycopg.Connection[object]] = []

            def on_checkout(dbapi: psycopg.Connection[object], *_: object) -> None:
                dbapi.pgconn.trace(os.dup(trace.fileno()))
                dbapi.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)
                traced.append(dbapi)

            sa.event.listen(ledger.engine, "checkout", on_checkout)
            try:
                for batch in apply:
                    outcome = outcomes(ledger.handle_batch(batch))
                    if results is not None:
                        results.append(outcome)
            finally:
                sa.event.remove(ledger.engine, "checkout", on_checkout)
                for dbapi in traced:
                    dbapi.pgconn.untrace()
        return sum(1 for line in path.read_text().splitlines() if "\tSync" in line)


def test_a_batch_of_new_events_is_two_round_trips(ledger: Ledger) -> None:
    ledger.handle_batch([make_event(event_id="warm", payment_id="pay-0")])  # pool, plans
    batch = [
        make_event(event_id=f"e{i}", payment_id=f"pay-{i % 4}", amount=1000 + i) for i in range(10)
    ]
    assert _syncs_sent(ledger, [batch]) == 2
    assert ledger.handle_batch(batch)[0].outcome is Outcome.DUPLICATE


def test_a_batch_holding_redelivered_events_is_two_round_trips_too(ledger: Ledger) -> None:
    """The claim's inbox insert returns the stored hash of every id it did not insert, so
    a redelivery — the same content, or another content under a stored id — is judged
    without a read of its own."""
    stored = make_event(event_id="stored", payment_id="pay-1", amount=1000)
    ledger.handle_batch([stored])
    batch = [
        make_event(event_id="fresh", payment_id="pay-2"),
        stored,
        make_event(event_id="stored", payment_id="pay-1", amount=2000),
    ]
    results: list[list[str]] = []
    assert _syncs_sent(ledger, [batch], results) == 2
    assert results == [["applied", "duplicate", "idempotency_conflict"]]


def test_the_round_trips_do_not_grow_with_the_batch(ledger: Ledger) -> None:
    batches = [
        [make_event(event_id=f"b{size}-{i}", payment_id=f"p{size}-{i}") for i in range(size)]
        for size in (1, 100)
    ]
    assert _syncs_sent(ledger, batches) == 4


def test_connections_go_back_to_the_pool_as_they_came(ledger: Ledger) -> None:
    """The unit of work runs its connection in autocommit mode (it sends its own BEGIN);
    after a batch, and after one the database refused, the pool hands out connections
    that begin transactions by themselves again."""
    ledger.handle_batch([make_event(event_id="fine")])
    ledger.handle_batch([make_event(event_id="poison", account_id="acct\x00")])
    with ledger.engine.connect() as connection:
        assert connection.connection.driver_connection.autocommit is False  # type: ignore[union-attr]
        connection.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))


def test_a_pooled_connection_that_cannot_leave_its_transaction_is_discarded(
    ledger: Ledger,
) -> None:
    """libpq reports the connection in a transaction (as it reports a broken one), so it
    cannot be switched to autocommit: that attempt fails as a transient error, the
    connection is closed rather than pooled again, and the retry applies the batch."""
    dirty: list[psycopg.Connection[object]] = []

    def leave_a_transaction_open(dbapi: psycopg.Connection[object], *_: object) -> None:
        if not dirty:
            dbapi.execute("SELECT 1")  # not autocommit: a transaction is now open
            dirty.append(dbapi)

    sa.event.listen(ledger.engine, "checkout", leave_a_transaction_open)
    try:
        [result] = ledger.handle_batch([make_event(event_id="after-dirty")])
    finally:
        sa.event.remove(ledger.engine, "checkout", leave_a_transaction_open)
    assert result.outcome is Outcome.APPLIED
    assert len(dirty) == 1
    assert dirty[0].closed
