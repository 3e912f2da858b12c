"""DESIGN §4 v2 through the real ledger, on SQLite and PostgreSQL: account-months, monthly
caps, campaigns, expiry under a cap, verify of month rows, and outcomes that do not depend
on batching. One behaviour per test (visa 100 bp unless a rule says otherwise)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.bootstrap import Ledger
from consumers.points.amounts import Points
from consumers.points.earning import MonthRef
from consumers.points.rules import Rules, parse_rules
from consumers.points.store.records import MonthRecord
from consumers.points.tables import ledger_balances, ledger_months
from tests.support.factories import make_event, make_grant
from tests.support.ledger import ledger_on
from tests.support.ledger_kit import (
    both_databases,  # noqa: F401 (the engine fixture)
    ledger_state,
    outcomes,
)
from tests.support.ledger_views import assert_verified, balance, months

NOV, DEC = MonthRef("acct-1", "2026-11"), MonthRef("acct-1", "2026-12")


def rules(cap: int | None = None, campaigns: list[dict[str, Any]] | None = None) -> Rules:
    version = {
        "rates_bp": {"visa": 100, "quicpay": 50},
        "excluded_mccs": ["6051"],
        "monthly_cap_points": cap,
        "campaigns": campaigns or [],
    }
    return parse_rules(json.dumps({"versions": [version]}))


def on(engine: Engine, rule_set: Rules | None = None) -> Ledger:
    return ledger_on(engine, rules=rule_set or rules())


@pytest.mark.parametrize("together", [True, False], ids=["one-batch", "two-batches"])
def test_a_valid_copy_after_a_rejected_copy_of_its_id_is_applied_however_batched(
    engine: Engine, together: bool
) -> None:
    """Copy 1 of id ``x`` is a payment conflict (never stored); copy 2 is valid. It is judged
    against what was stored — nothing — not against copy 1: applied, in one batch or two."""
    with on(engine) as ledger:
        ledger.handle_batch([make_event(event_id="a", amount=1000)])
        bad = make_event("clearing", event_id="x", account_id="acct-9", amount=1000)
        good = make_event("clearing", event_id="x", amount=1000)
        if together:
            results = outcomes(ledger.handle_batch([bad, good, good]))
        else:
            results = outcomes(ledger.handle_batch([bad]) + ledger.handle_batch([good, good]))
        assert results == ["payment_conflict", "applied", "duplicate"]
        assert balance(ledger) == Points(10, 0)
        assert_verified(ledger)


def test_a_same_content_copy_of_a_rejected_copy_shares_its_rejection(engine: Engine) -> None:
    """Two identical conflicting copies in one batch: both rejected, nothing stored."""
    with on(engine) as ledger:
        ledger.handle_batch([make_event(event_id="a", amount=1000)])
        bad = make_event("clearing", event_id="x", account_id="acct-9", amount=1000)
        assert outcomes(ledger.handle_batch([bad, bad])) == ["payment_conflict"] * 2
        assert_verified(ledger)


def test_a_late_authorization_moves_the_payment_from_december_to_november(
    engine: Engine,
) -> None:
    """The clearing (2 Dec) arrives first and December is credited; the authorization
    (30 Nov) arrives late, becomes the anchor: December loses the points, November gains."""
    with on(engine) as ledger:
        clearing = make_event(
            "clearing", event_id="c", amount=1000, occurred_at="2026-12-02T10:00:00+09:00"
        )
        ledger.handle_batch([clearing])
        assert months(ledger) == {DEC: MonthRecord(DEC, Points(10, 0), Points(10, 0))}
        auth = make_event(event_id="a", amount=1000, occurred_at="2026-11-30T10:00:00+09:00")
        ledger.handle_batch([auth])
        assert months(ledger) == {NOV: MonthRecord(NOV, Points(10, 0), Points(10, 0))}
        assert balance(ledger) == Points(10, 0)
        assert_verified(ledger)


def test_the_month_is_the_anchor_month_in_tokyo_whatever_the_offset(engine: Engine) -> None:
    """30 Nov 15:00Z is 1 Dec 00:00 JST: the payment counts in December."""
    with on(engine) as ledger:
        ledger.handle_batch([make_event(amount=1000, occurred_at="2026-11-30T15:00:00Z")])
        assert set(months(ledger)) == {DEC}


def test_a_refund_in_a_month_above_its_cap_takes_nothing_back(engine: Engine) -> None:
    """Cap 50: ¥10,000 cleared earns 100, credits 50. Refunding ¥3,000 leaves earned 70,
    still above the cap: credited stays 50, the refund's entry is zero."""
    with on(engine, rules(cap=50)) as ledger:
        ledger.handle_batch([make_event("clearing", event_id="c", amount=10_000, final=True)])
        assert balance(ledger) == Points(50, 0)
        ledger.handle_batch([make_event("refund", event_id="r", amount=3000)])
        assert balance(ledger) == Points(50, 0)
        assert months(ledger)[NOV] == MonthRecord(NOV, Points(70, 0), Points(50, 0))
        assert ledger.store.history("acct-1")[-1].confirmed_delta == 0
        assert_verified(ledger)


def test_a_refund_that_takes_the_month_below_its_cap_takes_points_back(engine: Engine) -> None:
    """Cap 50: earned 100 credits 50; refunding ¥8,000 leaves earned 20: credited 20 (−30)."""
    with on(engine, rules(cap=50)) as ledger:
        ledger.handle_batch([make_event("clearing", event_id="c", amount=10_000, final=True)])
        ledger.handle_batch([make_event("refund", event_id="r", amount=8000)])
        assert balance(ledger) == Points(20, 0)
        assert ledger.store.history("acct-1")[-1].confirmed_delta == -30
        assert_verified(ledger)


def test_provisional_points_never_promise_more_than_the_cap_leaves(engine: Engine) -> None:
    """Cap 50: 40 confirmed leaves room for 10 of a payment's 30 provisional points."""
    with on(engine, rules(cap=50)) as ledger:
        ledger.handle_batch(
            [
                make_event("clearing", event_id="c", amount=4000, final=True),
                make_event(event_id="a", payment_id="pay-2", amount=3000),
            ]
        )
        assert months(ledger)[NOV] == MonthRecord(NOV, Points(40, 30), Points(40, 10))
        assert balance(ledger) == Points(40, 10)
        assert_verified(ledger)


def test_each_month_has_its_own_cap(engine: Engine) -> None:
    """Cap 50 per account-month: November and December credit 50 each."""
    with on(engine, rules(cap=50)) as ledger:
        ledger.handle_batch(
            [
                make_event("clearing", event_id="n", amount=9000, final=True),
                make_event(
                    "clearing",
                    event_id="d",
                    payment_id="pay-2",
                    amount=9000,
                    final=True,
                    occurred_at="2026-12-05T10:00:00+09:00",
                ),
            ]
        )
        assert balance(ledger) == Points(100, 0)
        assert_verified(ledger)


def test_expiry_in_a_capped_month_releases_only_what_was_credited(engine: Engine) -> None:
    """Cap 50: 40 confirmed + 30 provisional earned credits 40 + 10; expiring the
    authorization releases the 10 credited, not the 30 earned."""
    with on(engine, rules(cap=50)) as ledger:
        ledger.handle_batch(
            [
                make_event("clearing", event_id="c", amount=4000, final=True),
                make_event(event_id="a", payment_id="pay-2", amount=3000),
            ]
        )
        [released] = ledger.expire(now=datetime(2027, 1, 1, tzinfo=UTC), ttl=timedelta(days=30))
        assert (released.payment_id, released.released) == ("pay-2", 10)
        assert months(ledger)[NOV] == MonthRecord(NOV, Points(40, 0), Points(40, 0))
        assert balance(ledger) == Points(40, 0)
        assert_verified(ledger)


CAMPAIGN = {
    "id": "konbini",
    "starts_at": "2026-11-21T00:00:00-05:00",
    "ends_at": "2026-11-22T00:00:00-05:00",
    "bonus_bp": 100,
    "mccs": ["5411"],
}


@pytest.mark.parametrize(
    ("occurred_at", "points"),
    [
        ("2026-11-20T23:59:59.999999-05:00", 10),  # just before starts_at
        ("2026-11-21T05:00:00Z", 20),  # starts_at itself, written in UTC: inclusive
        ("2026-11-22T04:59:59.999999Z", 20),  # the last instant before ends_at
        ("2026-11-22T00:00:00-05:00", 10),  # ends_at itself: exclusive
    ],
)
def test_campaign_window_on_the_anchor(engine: Engine, occurred_at: str, points: int) -> None:
    """A campaign adds its bonus to anchors in [starts_at, ends_at), in any offset."""
    with on(engine, rules(campaigns=[CAMPAIGN])) as ledger:
        ledger.handle_batch([make_event(amount=1000, occurred_at=occurred_at)])
        assert balance(ledger) == Points(0, points)
        payments, _ = ledger_state(engine)
        assert payments["pay-1"]["provisional"] == points
        assert_verified(ledger)


def test_a_campaign_decides_by_the_anchor_not_by_later_events(engine: Engine) -> None:
    """The authorization in the window anchors the payment: a clearing after the window
    is confirmed at the campaign rate."""
    with on(engine, rules(campaigns=[CAMPAIGN])) as ledger:
        ledger.handle_batch(
            [
                make_event(event_id="a", amount=1000, occurred_at="2026-11-21T12:00:00-05:00"),
                make_event(
                    "clearing",
                    event_id="c",
                    amount=1000,
                    final=True,
                    occurred_at="2026-11-25T12:00:00-05:00",
                ),
            ]
        )
        assert balance(ledger) == Points(20, 0)


def test_an_excluded_mcc_earns_nothing_even_in_a_campaign(engine: Engine) -> None:
    """Exclusion comes first: rate 0 whatever campaign matches."""
    campaign = {**CAMPAIGN, "mccs": []}
    with on(engine, rules(campaigns=[campaign])) as ledger:
        merchant = {"name": "ATM", "mcc": "6051", "country": "JP"}
        ledger.handle_batch([make_event(amount=1000, merchant=merchant)])
        assert balance(ledger) == Points(0, 0)
        assert_verified(ledger)


def test_verify_catches_drift_in_a_month_row(engine: Engine) -> None:
    """An account-month row that no longer matches its payments is reported."""
    with on(engine, rules(cap=50)) as ledger:
        ledger.handle_batch([make_event("clearing", event_id="c", amount=10_000, final=True)])
        with engine.begin() as connection:
            connection.execute(sa.update(ledger_months).values(earned_confirmed=99))
        assert [d.check for d in ledger.verify().drifts] == ["month"]


def test_verify_under_other_rules_reports_the_months_and_balances(engine: Engine) -> None:
    """Rules changed without a correction: verify names the payment, month and balance."""
    with on(engine, rules(cap=50)) as ledger:
        ledger.handle_batch([make_event("clearing", event_id="c", amount=10_000, final=True)])
    with on(engine, rules(cap=60)) as other:
        assert {d.check for d in other.verify().drifts} == {"month", "balance"}


def test_every_event_type_applies_in_one_batch(engine: Engine) -> None:
    """The seven payment types and a grant, in one batch: all applied and stored."""
    batch = [
        make_event(event_id="a", amount=10_000),
        make_event("authorization_reversal", event_id="v", amount=1000),
        make_event("clearing", event_id="c", amount=9000, final=True),
        make_event("refund", event_id="r", amount=3000),
        make_event("refund_reversal", event_id="rr", amount=1000),
        make_event("chargeback", event_id="cb", amount=2000),
        make_event("chargeback_reversal", event_id="cr", amount=500),
        make_grant(event_id="g", points=7),
    ]
    with on(engine) as ledger:
        assert outcomes(ledger.handle_batch(batch)) == ["applied"] * 8
        # returned = 3000 − 1000 + 2000 − 500 = 3500; confirmed = pts(9000 − 3500) + 7
        assert balance(ledger) == Points(55 + 7, 0)
        assert_verified(ledger)


def test_a_chargeback_takes_the_points_of_the_disputed_amount_back(engine: Engine) -> None:
    """Cleared ¥5,000 (50 points); a ¥2,000 chargeback leaves 30."""
    with on(engine) as ledger:
        ledger.handle_batch([make_event("clearing", event_id="c", amount=5000, final=True)])
        ledger.handle_batch([make_event("chargeback", event_id="cb", amount=2000)])
        assert balance(ledger) == Points(30, 0)
        assert_verified(ledger)


def test_a_chargeback_reversal_gives_the_points_back(engine: Engine) -> None:
    """The dispute is decided for the merchant: the chargeback's 20 points come back."""
    with on(engine) as ledger:
        ledger.handle_batch(
            [
                make_event("clearing", event_id="c", amount=5000, final=True),
                make_event("chargeback", event_id="cb", amount=2000),
            ]
        )
        ledger.handle_batch([make_event("chargeback_reversal", event_id="cr", amount=2000)])
        assert balance(ledger) == Points(50, 0)
        assert_verified(ledger)


def test_a_refund_reversal_gives_the_refunded_points_back(engine: Engine) -> None:
    """A refund of ¥1,000 takes 10 points; its reversal returns them."""
    with on(engine) as ledger:
        ledger.handle_batch(
            [
                make_event("clearing", event_id="c", amount=5000, final=True),
                make_event("refund", event_id="r", amount=1000),
            ]
        )
        assert balance(ledger) == Points(40, 0)
        ledger.handle_batch([make_event("refund_reversal", event_id="rr", amount=1000)])
        assert balance(ledger) == Points(50, 0)
        assert_verified(ledger)


def test_returns_beyond_the_cleared_amount_floor_at_zero(engine: Engine) -> None:
    """Chargebacks and refunds above the cleared amount leave 0 points, never negative."""
    with on(engine) as ledger:
        ledger.handle_batch(
            [
                make_event("clearing", event_id="c", amount=1000, final=True),
                make_event("chargeback", event_id="cb", amount=1000),
                make_event("refund", event_id="r", amount=1000),
            ]
        )
        assert balance(ledger) == Points(0, 0)
        assert_verified(ledger)


def test_a_negative_grant_drives_the_balance_below_zero(engine: Engine) -> None:
    """Grants are confirmed at once and may take a balance negative (§4.4)."""
    with on(engine) as ledger:
        ledger.handle_batch([make_grant(event_id="g1", points=100)])
        ledger.handle_batch([make_grant(event_id="g2", points=-250)])
        assert balance(ledger) == Points(-150, 0)
        assert_verified(ledger)


def test_grants_are_never_capped(engine: Engine) -> None:
    """Cap 50: a capped month credits 50, and a grant of 500 adds all of its 500."""
    with on(engine, rules(cap=50)) as ledger:
        ledger.handle_batch(
            [
                make_event("clearing", event_id="c", amount=10_000, final=True),
                make_grant(event_id="g", points=500),
            ]
        )
        assert balance(ledger) == Points(550, 0)
        assert months(ledger)[NOV].credited == Points(50, 0)
        assert_verified(ledger)


def test_a_grant_is_stored_in_the_inbox_and_deduplicated(engine: Engine) -> None:
    """The inbox is the event store: a grant redelivered is a duplicate, other content a
    conflict; its entry names it and no payment."""
    with on(engine) as ledger:
        assert outcomes(ledger.handle_batch([make_grant(event_id="g", points=5)])) == ["applied"]
        again = ledger.handle_batch([make_grant(event_id="g", points=5)])
        changed = ledger.handle_batch([make_grant(event_id="g", points=6)])
        assert outcomes(again + changed) == ["duplicate", "idempotency_conflict"]
        [entry] = ledger.store.history("acct-1")
        assert (entry.event_id, entry.payment_id, entry.confirmed_delta) == ("g", None, 5)


def test_verify_catches_a_grant_without_its_balance(engine: Engine) -> None:
    """A balance that lost a grant's points no longer equals its entries."""
    with on(engine) as ledger:
        ledger.handle_batch([make_grant(event_id="g", points=5)])
        with engine.begin() as connection:
            connection.execute(sa.update(ledger_balances).values(confirmed=0))
        assert [d.check for d in ledger.verify().drifts] == ["balance"]
