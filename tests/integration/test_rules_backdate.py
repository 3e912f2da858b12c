"""Backdated rule publications (DESIGN §4.6): the ledger is recomputed in one transaction,
on SQLite and PostgreSQL, and on PostgreSQL while four workers keep applying events.

The expected state is the independent reference model (``tests.support.reference_v2``)
under the new rule set; ``verify`` must be clean, which it is only if every payment row
holds the rate and earned points of the rules in force (an event applied under an older
rule set after the publication committed would leave its payment's rate stale).
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from queue import Queue
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from consumers.bootstrap import Ledger
from consumers.points.publishing import publish_rules
from consumers.points.rules import parse_rules
from consumers.points.store.records import EntryKind
from tests.support import reference_v2
from tests.support.factories import event_dict
from tests.support.ledger import ledger_on
from tests.support.ledger_kit import apply_batches, migrated_engine, migrated_engine_for

#: Backdated: effective from October 2026 (before these tests run), a cap on October and
#: November (their first instants are after it), a konbini campaign from 2026-10-15.
BACKDATED = {
    "effective_from": "2026-10-01T00:00:00+09:00",
    "rates_bp": {"visa": 200, "quicpay": 100},
    "excluded_mccs": ["4829"],
    "monthly_cap_points": 60,
    "campaigns": [
        {
            "id": "konbini",
            "starts_at": "2026-10-15T00:00:00+09:00",
            "ends_at": "2026-11-15T00:00:00+09:00",
            "bonus_bp": 100,
            "mccs": ["5411"],
        }
    ],
}
EXPECTED_RULES = {"versions": [reference_v2.BUILT_IN, BACKDATED]}


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    engine = migrated_engine_for(request)
    yield engine
    engine.dispose()


def publish_backdated(ledger: Ledger) -> int:
    result = publish_rules(
        ledger.store,
        parse_rules(json.dumps({"versions": [BACKDATED]})),
        actor="tester",
        reason="INC-7",
        now=datetime.now(UTC),
        lead=timedelta(minutes=5),
        allow_backdate=True,
    )
    return result.corrected_payments


def payment_events(rng: random.Random, number: int) -> list[dict[str, Any]]:
    """One payment of September to November 2026: an authorization, maybe a clearing
    (final or not), maybe a refund."""
    at = datetime(2026, 9, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(91 * 24 * 60))
    amount = rng.choice([800, 1500, 3000, 4200])
    common = {
        "payment_id": f"pay-{number}",
        "account_id": f"acct-{number % 5}",
        "brand": rng.choice(["visa", "quicpay"]),
        "merchant": {"name": "SHOP", "mcc": rng.choice(["5411", "5541", "4829"]), "country": "JP"},
    }
    later = [(at + timedelta(days=d)).isoformat() for d in (1, 2)]
    events = [
        event_dict(
            "authorization",
            event_id=f"a{number}",
            amount=amount,
            occurred_at=at.isoformat(),
            **common,
        )
    ]
    if rng.random() < 0.7:
        events.append(
            event_dict(
                "clearing",
                event_id=f"c{number}",
                amount=amount,
                occurred_at=later[0],
                final=rng.random() < 0.5,
                **common,
            )
        )
        if rng.random() < 0.3:
            events.append(
                event_dict(
                    "refund",
                    event_id=f"r{number}",
                    amount=amount // 2,
                    occurred_at=later[1],
                    **common,
                )
            )
    return events


def stored_balances(ledger: Ledger) -> dict[str, dict[str, int]]:
    return {
        b.account_id: {"confirmed": b.confirmed, "provisional": b.provisional}
        for b in ledger.store.balances()
    }


def test_a_backdated_cap_recomputes_the_months_with_rules_entries(engine: Engine) -> None:
    """Payments applied under the default, then a backdated version with a cap: balances
    are the reference's under the new rules, the differences are `rules` entries, verify is
    clean."""
    rng = random.Random(7)
    events = [e for n in range(30) for e in payment_events(rng, n)]
    with ledger_on(engine) as ledger:
        apply_batches(ledger, [events[i : i + 10] for i in range(0, len(events), 10)])
        before = stored_balances(ledger)
        corrected = publish_backdated(ledger)
        after = stored_balances(ledger)
        report = ledger.verify()
        kinds = {entry.kind for entry in ledger.store.history("acct-0", limit=1000)}
    assert corrected > 0
    assert after != before
    assert after == reference_v2.ledger(events, EXPECTED_RULES)["balances"]
    assert report.clean, report.drifts
    assert str(EntryKind.RULES) in kinds


@pytest.mark.postgres
def test_a_backdated_publication_while_four_workers_apply_events(postgres_url: str) -> None:
    """Four workers (the real bootstrap, threads) apply shuffled, duplicated batches; half
    way through a backdated version is published. The end state is the reference's under
    the new rules and verify is clean."""
    engine = migrated_engine(postgres_url)
    rng = random.Random(13)
    events = [e for n in range(160) for e in payment_events(rng, n)]
    deliveries = events + rng.sample(events, len(events) // 10)
    rng.shuffle(deliveries)
    chunks = [deliveries[i : i + 8] for i in range(0, len(deliveries), 8)]
    half = len(chunks) // 2
    batches: Queue[list[dict[str, Any]] | None] = Queue()
    for chunk in chunks[:half]:
        batches.put(chunk)
    done = threading.Semaphore(0)
    failures: list[BaseException] = []

    def work() -> None:
        with ledger_on(engine) as ledger:
            while (batch := batches.get()) is not None:
                try:
                    apply_batches(ledger, [batch])
                except BaseException as exc:  # reported by the main thread
                    failures.append(exc)
                    return
                done.release()

    workers = [threading.Thread(target=work) for _ in range(4)]
    # Bootstrapped before the race: the publication itself is all that runs while the
    # second half is queued (a publisher started afterwards lost the race to a fast ledger).
    with ledger_on(engine) as publisher:
        for worker in workers:
            worker.start()
        for _ in range(half):
            assert done.acquire(timeout=120), failures
        for chunk in chunks[half:]:
            batches.put(chunk)
        corrected = publish_backdated(publisher)
        left = batches.qsize()
    for _ in workers:
        batches.put(None)
    for worker in workers:
        worker.join()
    with ledger_on(engine) as ledger:
        balances = stored_balances(ledger)
        report = ledger.verify()
    engine.dispose()
    assert not failures, failures
    assert corrected > 0
    assert left > 0  # the workers were still applying when it committed
    assert balances == reference_v2.ledger(events, EXPECTED_RULES)["balances"]
    assert report.clean, report.drifts
