"""Several workers with separate connections hammer shared payments at once.

Each event is delivered 1–3 times to random workers, in random order and random batch
sizes, so duplicates race each other and payments are locked by many workers at once.
The final state must equal the reference model, ``verify`` must be clean, and no
deadlock or serialization failure may escape as an error.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from consumers.db import make_engine
from consumers.handler import Outcome
from consumers.points.rules import DEFAULT_RULES
from schemas.envelope import parse_event
from tests.support import reference
from tests.support.ledger import ledger_on, verified
from tests.support.ledger_kit import ledger_state, migrated_engine

WORKERS = 6
LATER = datetime(2027, 6, 1, tzinfo=UTC)
KINDS = ["authorization", "authorization", "authorization_reversal", "clearing", "refund"]


def generate(seed: int, payments: int = 30, accounts: int = 4) -> list[dict[str, Any]]:
    """Stories for ``payments`` payments over a few accounts (wire-format dicts)."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for p in range(payments):
        brand = rng.choice(["visa", "quicpay"])
        account = f"acct-{rng.randrange(accounts)}"
        for n in range(rng.randint(2, 8)):
            kind = rng.choice(KINDS)
            event: dict[str, Any] = {
                "schema_version": 1,
                "event_id": f"p{p}-e{n}",
                "event_type": kind,
                "occurred_at": f"2026-11-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z",
                "brand": brand,
                "payment_id": f"pay-{p}",
                "account_id": account,
                "amount": rng.choice([1, 99, 150, 1000, 2500, 12345]),
                "currency": "JPY",
                "merchant": {
                    "name": "SHOP",
                    "mcc": rng.choice(["5411", "5411", "6051"]),
                    "country": "JP",
                },
            }
            if kind == "authorization":
                event["approved"] = rng.random() > 0.15
            if kind == "clearing":
                event["final"] = rng.random() > 0.6
            events.append(event)
    return events


def deal(events: list[dict[str, Any]], seed: int) -> list[list[list[dict[str, Any]]]]:
    """Deliver each event 1–3 times to random workers; cut each share into batches."""
    rng = random.Random(seed)
    shares: list[list[dict[str, Any]]] = [[] for _ in range(WORKERS)]
    for event in events:
        for _ in range(rng.randint(1, 3)):
            shares[rng.randrange(WORKERS)].append(event)
    dealt = []
    for share in shares:
        rng.shuffle(share)
        batches, start = [], 0
        while start < len(share):
            size = rng.randint(1, 10)
            batches.append(share[start : start + size])
            start += size
        dealt.append(batches)
    return dealt


def run_workers(url: str, dealt: list[list[list[dict[str, Any]]]], during: Any = None) -> None:
    """One thread, engine and ledger per worker; all start together."""
    barrier = threading.Barrier(WORKERS)
    done = threading.Event()

    def work(batches: list[list[dict[str, Any]]]) -> None:
        engine = _engine(url)
        ledger = ledger_on(engine)
        barrier.wait()
        try:
            for batch in batches:
                results = ledger.handle_batch([parse_event(d) for d in batch])
                assert all(r.outcome is not Outcome.REJECTED for r in results), results
        finally:
            engine.dispose()

    with ThreadPoolExecutor(WORKERS + 1) as pool:
        background = pool.submit(during, done) if during else None
        futures = [pool.submit(work, batches) for batches in dealt]
        try:
            for future in futures:
                future.result(timeout=120)  # re-raises DatabaseUnavailable or anything else
        finally:
            done.set()
        if background:
            background.result(timeout=60)


def _engine(url: str) -> Engine:
    return make_engine(url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    migrated_engine(url).dispose()
    return url


def test_concurrent_workers_end_in_the_reference_state(url: str) -> None:
    """Six workers, shared payments, racing duplicates: reference state, verify clean."""
    events = generate(seed=7)
    run_workers(url, deal(events, seed=11))
    engine = _engine(url)
    try:
        assert ledger_state(engine) == reference.ledger_state(events)
        report = verified(engine, DEFAULT_RULES)
        assert report.clean, report.drifts
        assert report.events == len(events)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_expiry_running_during_concurrent_application_stays_consistent(
    postgres_url: str,
) -> None:
    """The expiry job racing the workers, then its next run: verify clean, and every
    payment is the reference model's, expired exactly where DESIGN §4.5 requires it (not
    final, provisional left, authorized over 30 days before). Where the race may or may not
    have expired a payment mid-story, the flag changes no point, so either is accepted."""
    migrated_engine(postgres_url).dispose()
    events = generate(seed=3)

    def keep_expiring(done: threading.Event) -> None:
        with ledger_on(postgres_url) as ledger:
            while not done.is_set():
                ledger.expire(now=LATER)

    run_workers(postgres_url, deal(events, seed=5), during=keep_expiring)
    engine = _engine(postgres_url)
    try:
        with ledger_on(postgres_url) as ledger:
            ledger.expire(now=LATER)
        report = verified(engine, DEFAULT_RULES)
        assert report.clean, report.drifts
        payments, balances = ledger_state(engine)
    finally:
        engine.dispose()
    by_payment: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_payment.setdefault(event["payment_id"], []).append(event)
    assert set(payments) == set(by_payment)
    expected_balances: dict[str, dict[str, Any]] = {}
    for payment_id, stored in payments.items():
        story = by_payment[payment_id]
        expected = reference.payment_state(story)
        if not expected["final"] and expected["provisional"] > 0:
            expected = reference.payment_state(story, expired=True)
        elif stored["expired"]:
            # Caught mid-story by a racing run: only a payment with an approved
            # authorization ever had provisional points to release.
            assert any(e["event_type"] == "authorization" and e["approved"] for e in story)
            expected["expired"] = True
        assert stored == expected
        row = expected_balances.setdefault(
            expected["account_id"],
            {"account_id": expected["account_id"], "confirmed": 0, "provisional": 0},
        )
        row["confirmed"] += expected["confirmed"]
        row["provisional"] += expected["provisional"]
    assert balances == [expected_balances[a] for a in sorted(expected_balances)]
