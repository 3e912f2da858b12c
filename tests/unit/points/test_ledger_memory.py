"""The ledger application service (``PointsLedger``) on the in-memory store: the pure
ledger behaviours — apply, dedup, conflicts, grants, caps, expiry — in milliseconds, with
no database (the same behaviours on SQLite/PostgreSQL: tests/integration/test_ledger_v2.py;
the fake's agreement with both: tests/integration/test_store_contract.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from consumers.db import RaceLost
from consumers.handler import Result
from consumers.points.amounts import Points
from consumers.points.earning import MonthRef
from consumers.points.rules import Rules, parse_rules
from consumers.points.store.records import MonthRecord
from tests.support.factories import make_event, make_grant
from tests.support.ledger_views import assert_verified, balance, months
from tests.support.memory_store import MemoryLedger

NOV = MonthRef("acct-1", "2026-11")


def capped(cap: int) -> Rules:
    version = {"rates_bp": {"visa": 100, "quicpay": 50}, "monthly_cap_points": cap}
    return parse_rules(json.dumps({"versions": [version]}))


def capped_month_with_an_open_payment() -> MemoryLedger:
    """Cap 50: a final ¥4,000 clearing (40 confirmed) and an open ¥3,000 authorization
    (30 provisional earned) in November."""
    ledger = MemoryLedger(capped(50))
    ledger.handle_batch(
        [
            make_event("clearing", event_id="c", amount=4000, final=True),
            make_event(event_id="a", payment_id="pay-2", amount=3000),
        ]
    )
    return ledger


def verdicts(results: Sequence[Result]) -> list[str]:
    """Each result's error code, or its outcome when there is no error."""
    return [r.error.code if r.error is not None else str(r.outcome) for r in results]


def test_an_authorization_credits_provisional_points() -> None:
    """¥1,200 authorized on Visa (100 bp) credits 12 provisional points, entry and all."""
    ledger = MemoryLedger()
    assert verdicts(ledger.handle_batch([make_event(amount=1200)])) == ["applied"]
    assert balance(ledger) == Points(0, 12)
    [entry] = ledger.store.history("acct-1")
    assert (entry.event_type, entry.provisional_delta) == ("authorization", 12)
    assert_verified(ledger)


def test_a_redelivered_event_is_a_duplicate_and_changes_nothing() -> None:
    """The same event again, in the same batch or a later one, is a duplicate."""
    ledger = MemoryLedger()
    event = make_event(event_id="a", amount=1000)
    assert verdicts(ledger.handle_batch([event, event])) == ["applied", "duplicate"]
    assert verdicts(ledger.handle_batch([event])) == ["duplicate"]
    assert balance(ledger) == Points(0, 10)
    assert len(ledger.store.history("acct-1")) == 1


def test_other_content_under_a_stored_event_id_is_an_idempotency_conflict() -> None:
    """A stored id with another amount is rejected and the stored event stands."""
    ledger = MemoryLedger()
    ledger.handle_batch([make_event(event_id="a", amount=1000)])
    changed = ledger.handle_batch([make_event(event_id="a", amount=2000)])
    assert verdicts(changed) == ["idempotency_conflict"]
    assert balance(ledger) == Points(0, 10)
    assert_verified(ledger)


def test_an_event_of_another_account_for_a_known_payment_is_a_payment_conflict() -> None:
    """A payment's account is that of its first event: another account is refused and its
    event is not stored, so a valid copy of the id is applied later."""
    ledger = MemoryLedger()
    ledger.handle_batch([make_event(event_id="a", amount=1000)])
    bad = make_event("clearing", event_id="x", account_id="acct-9", amount=1000)
    good = make_event("clearing", event_id="x", amount=1000)
    assert verdicts(ledger.handle_batch([bad, good])) == ["payment_conflict", "applied"]
    assert balance(ledger) == Points(10, 0)
    assert ledger.store.balances("acct-9") == []
    assert_verified(ledger)


def test_a_grant_is_confirmed_at_once_and_never_capped() -> None:
    """Cap 50: the capped month credits 50 and a 500-point grant adds all of its 500."""
    ledger = MemoryLedger(capped(50))
    ledger.handle_batch(
        [
            make_event("clearing", event_id="c", amount=10_000, final=True),
            make_grant(event_id="g", points=500),
        ]
    )
    assert balance(ledger) == Points(550, 0)
    assert_verified(ledger)


def test_the_monthly_cap_limits_what_the_month_credits() -> None:
    """Cap 50: 40 confirmed leaves room for 10 of a second payment's 30 provisional."""
    ledger = capped_month_with_an_open_payment()
    assert months(ledger) == {NOV: MonthRecord(NOV, Points(40, 30), Points(40, 10))}
    assert balance(ledger) == Points(40, 10)
    assert_verified(ledger)


def test_expiry_releases_what_the_capped_month_credited() -> None:
    """Cap 50: expiring the open authorization releases the 10 credited, not 30 earned."""
    ledger = capped_month_with_an_open_payment()
    released = ledger.expire(now=datetime(2030, 1, 1, tzinfo=UTC))
    assert [(e.payment_id, e.released) for e in released] == [("pay-2", 10)]
    assert balance(ledger) == Points(40, 0)
    assert_verified(ledger)


def test_the_fake_refuses_to_lose_an_update_of_overlapping_units_of_work() -> None:
    """The fake locks nothing: of two units of work open at once, the second to commit
    raises ``RaceLost`` (transient, as a real serialization failure) and changes nothing."""
    ledger = MemoryLedger()
    with ledger.store.unit_of_work() as first, ledger.store.unit_of_work() as second:
        first.add_to_balances({"acct-1": Points(1, 0)})
        second.add_to_balances({"acct-1": Points(2, 0)})
        first.commit()
        with pytest.raises(RaceLost):
            second.commit()
    assert balance(ledger) == Points(1, 0)
