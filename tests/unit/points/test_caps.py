"""DESIGN §4.3 v2, one rule per test: account-months (JST month of the anchor) and monthly
caps, applied incrementally as the ledger will (``IncrementalLedger``)."""

from __future__ import annotations

from datetime import datetime

import pytest

from consumers.points.amounts import Points
from consumers.points.books import Books
from consumers.points.earning import (
    MonthRef,
    MonthTotals,
    credited,
    earned_changes,
    earning,
    settle,
)
from consumers.points.months import account_month, month_start, next_month
from consumers.points.rules import DEFAULT_RULES
from tests.support.v2_kit import facts, rules_with, run, version, wire

NOV_30 = "2026-11-30T20:00:00+09:00"
DEC_02 = "2026-12-02T10:00:00+09:00"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_account_month_is_the_anchor_month_in_tokyo() -> None:
    """2026-11-30T15:00Z is December in Tokyo; one µs earlier is November."""
    assert account_month(_at("2026-11-30T15:00:00+00:00")) == "2026-12"
    assert account_month(_at("2026-11-30T14:59:59.999999+00:00")) == "2026-11"
    assert month_start("2026-12") == _at("2026-12-01T00:00:00+09:00")
    assert next_month("2026-12") == "2027-01"


def test_a_late_clearing_counts_in_its_authorizations_month() -> None:
    """Authorized on Nov 30, cleared on Dec 2: the payment is November's."""
    contribution = earning(
        facts(wire("authorization", 1000, at=NOV_30), wire("clearing", 1000, at=DEC_02)),
        DEFAULT_RULES,
    )
    assert contribution is not None
    assert contribution.ref.month == "2026-11"


def test_anchor_moves_from_december_to_november_on_a_late_earlier_authorization() -> None:
    """The clearing (Dec 2) arrives first: December is credited. The authorization (Nov 30)
    arrives late: the payment moves, December loses its points and November gains them, in
    two entries of the late event."""
    auth = wire("authorization", 1000, at=NOV_30, event_id="auth")
    clearing = wire("clearing", 1000, at=DEC_02, event_id="clear")
    ledger = run(DEFAULT_RULES, clearing)
    december, november = MonthRef("acct-1", "2026-12"), MonthRef("acct-1", "2026-11")
    assert ledger.months[december].credited == Points(10, 0)
    ledger.apply(auth)
    assert ledger.months[december].credited == Points(0, 0)
    assert ledger.months[november].credited == Points(10, 0)
    assert [(e.cause, e.month, e.delta) for e in ledger.entries[1:]] == [
        ("auth", "2026-11", Points(10, 0)),
        ("auth", "2026-12", Points(-10, 0)),
    ]


def test_a_moved_anchor_takes_the_other_months_cap() -> None:
    """Moving into a month already at its cap credits nothing more there."""
    rules = rules_with(version(cap=10))
    ledger = run(
        rules,
        wire("clearing", 1000, at=NOV_30, payment="full"),
        wire("clearing", 2000, at=DEC_02, payment="late", event_id="c"),
    )
    assert ledger.balances["acct-1"] == Points(20, 0)
    ledger.apply(wire("authorization", 2000, at=NOV_30, payment="late", event_id="a"))
    assert ledger.balances["acct-1"] == Points(10, 0)


def test_a_refund_above_the_cap_does_not_reduce_credited_points() -> None:
    """Cap 100: ¥20,000 cleared earns 200, credits 100; a ¥5,000 refund leaves 150 earned,
    still above the cap, so credited stays 100 and the refund's entry is 0."""
    rules = rules_with(version(cap=100))
    ledger = run(rules, wire("clearing", 20_000))
    ledger.apply(wire("refund", 5000, event_id="refund"))
    month = ledger.months[MonthRef("acct-1", "2026-11")]
    assert (month.earned, month.credited) == (Points(150, 0), Points(100, 0))
    assert ledger.entries[-1].delta == Points(0, 0)


def test_a_refund_below_the_cap_reduces_credited_points() -> None:
    """Cap 100: ¥12,000 cleared credits 100; a ¥5,000 refund leaves 70 earned and credited."""
    rules = rules_with(version(cap=100))
    ledger = run(rules, wire("clearing", 12_000))
    ledger.apply(wire("refund", 5000))
    assert ledger.months[MonthRef("acct-1", "2026-11")].credited == Points(70, 0)
    assert ledger.entries[-1].delta == Points(-30, 0)


def test_a_refund_can_free_room_for_provisional_points() -> None:
    """Cap 100, 150 confirmed and 50 provisional earned: credited (100, 0). A refund taking
    confirmed to 70 lets 30 provisional points in: credited (70, 30)."""
    rules = rules_with(version(cap=100))
    ledger = run(
        rules,
        wire("clearing", 15_000, payment="bought"),
        wire("authorization", 5000, payment="pending"),
    )
    assert ledger.balances["acct-1"] == Points(100, 0)
    ledger.apply(wire("refund", 8000, payment="bought"))
    assert ledger.balances["acct-1"] == Points(70, 30)


def test_provisional_points_get_only_what_the_cap_leaves() -> None:
    """credited provisional = min(E_p, cap − credited confirmed)."""
    assert credited(Points(60, 80), 100) == Points(60, 40)
    assert credited(Points(100, 80), 100) == Points(100, 0)


def test_no_cap_credits_everything_and_cap_zero_nothing() -> None:
    """``null`` credits earned points in full; a cap of 0 credits none."""
    assert credited(Points(7, 9), None) == Points(7, 9)
    assert credited(Points(7, 9), 0) == Points(0, 0)


def test_the_cap_is_per_account_month() -> None:
    """Two accounts in one month, and one account in two months, each have their own cap."""
    rules = rules_with(version(cap=10))
    ledger = run(
        rules,
        wire("clearing", 5000, payment="a-nov", account="a", at=NOV_30),
        wire("clearing", 5000, payment="a-dec", account="a", at=DEC_02),
        wire("clearing", 5000, payment="b-nov", account="b", at=NOV_30),
    )
    assert (ledger.balances["a"], ledger.balances["b"]) == (Points(20, 0), Points(10, 0))


def test_the_month_cap_comes_from_its_first_instant_not_the_anchor() -> None:
    """A version with cap 0 from Dec 15 does not cap December (its first instant is under
    the cap-100 version), though a Dec 20 payment earns at the new version's rate."""
    rules = rules_with(version(cap=100), version("2026-12-15T00:00:00+09:00", cap=0, visa=200))
    ledger = run(rules, wire("clearing", 1000, at="2026-12-20T10:00:00+09:00"))
    month = ledger.months[MonthRef("acct-1", "2026-12")]
    assert (month.cap, month.credited) == (100, Points(20, 0))


def test_settle_starts_a_new_month_at_zero_with_its_cap() -> None:
    """An unknown month starts empty, capped by the version at its first instant."""
    rules = rules_with(version(cap=5))
    ref = MonthRef("acct-1", "2026-11")
    update = settle({}, {ref: Points(8, 0)}, rules)
    assert update.months[ref] == MonthTotals(5, Points(8, 0))
    assert update.credited_delta == Points(5, 0)


def test_earned_changes_of_a_moving_anchor_touch_two_months() -> None:
    """Before in December, after in November: −before there, +after here."""
    before = earning(facts(wire("clearing", 1000, at=DEC_02)), DEFAULT_RULES)
    after = earning(
        facts(wire("clearing", 1000, at=DEC_02), wire("authorization", 1000, at=NOV_30)),
        DEFAULT_RULES,
    )
    assert earned_changes(before, after) == {
        MonthRef("acct-1", "2026-12"): Points(-10, 0),
        MonthRef("acct-1", "2026-11"): Points(10, 0),
    }


def test_months_are_added_to_only_under_rules_without_a_cap() -> None:
    """``Books.additive`` credits each change what it earns: right only without a cap."""
    assert not rules_with(version(cap=None)).has_cap
    assert rules_with(version(cap=None), version("2026-12-01T00:00:00+09:00", cap=0)).has_cap
    with pytest.raises(ValueError, match="settled"):
        Books(rules_with(version(cap=100)), additive=True)
    assert Books(rules_with(version(cap=None)), additive=True).additive
