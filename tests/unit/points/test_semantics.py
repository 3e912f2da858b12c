"""DESIGN §4 edge cases on the pure domain: one behaviour per test (visa 1 %, quicpay 0.5 %)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import permutations

from consumers.points.amounts import Points, pts
from consumers.points.earning import is_expirable
from consumers.points.rules import DEFAULT_RULES
from tests.unit.points.helpers import earned, ev, facts_of


def test_declined_authorization_earns_nothing() -> None:
    """A declined authorization adds nothing to ``authorized`` and earns no points."""
    decline = ev("authorization", 5000, approved=False)
    assert facts_of(decline).authorized == 0
    assert earned(decline) == Points(0, 0)


def test_approved_authorization_earns_provisional_points() -> None:
    """An approved authorization earns provisional points only."""
    assert earned(ev("authorization", 1200)) == Points(confirmed=0, provisional=12)


def test_incremental_authorizations_add_up() -> None:
    """Further authorizations of a payment are incremental: ¥1,000 + ¥500 earn 15."""
    assert earned(ev("authorization", 1000), ev("authorization", 500)) == Points(0, 15)


def test_partial_reversal_reduces_provisional_points() -> None:
    """Reversing ¥400 of ¥1,000 leaves provisional points on ¥600."""
    assert earned(ev("authorization", 1000), ev("authorization_reversal", 400)) == Points(0, 6)


def test_full_reversal_leaves_nothing() -> None:
    """A reversal of the whole authorization leaves no points at all."""
    assert earned(ev("authorization", 1000), ev("authorization_reversal", 1000)) == Points(0, 0)


def test_reversal_beyond_authorization_is_not_negative() -> None:
    """More reversed than authorized floors at zero instead of going negative."""
    assert earned(ev("authorization", 100), ev("authorization_reversal", 900)) == Points(0, 0)


def test_clearing_lower_than_authorized_keeps_the_rest_provisional() -> None:
    """Clearing ¥700 of ¥1,000 (non-final): 7 confirmed, 3 still provisional."""
    assert earned(ev("authorization", 1000), ev("clearing", 700)) == Points(7, 3)


def test_final_clearing_lower_than_authorized_closes_provisional() -> None:
    """A final clearing of ¥700 of ¥1,000 confirms 7 and drops the provisional rest."""
    assert earned(ev("authorization", 1000), ev("clearing", 700, final=True)) == Points(7, 0)


def test_over_capture_confirms_the_cleared_amount() -> None:
    """Clearing ¥1,300 on a ¥1,000 authorization confirms 13, provisional 0 (never negative)."""
    assert earned(ev("authorization", 1000), ev("clearing", 1300)) == Points(13, 0)


def test_split_clearings_without_final_sum_up() -> None:
    """Two non-final clearings of ¥300 and ¥400 on ¥1,000: 7 confirmed, 3 provisional."""
    story = (ev("authorization", 1000), ev("clearing", 300), ev("clearing", 400))
    assert earned(*story) == Points(7, 3)


def test_split_clearings_with_final_close_the_payment() -> None:
    """A final second split clearing confirms the sum and ends provisional points."""
    story = (ev("authorization", 1000), ev("clearing", 300), ev("clearing", 400, final=True))
    assert earned(*story) == Points(7, 0)
    assert facts_of(*story).final


def test_clearing_without_authorization_confirms() -> None:
    """A force post / QUICPay offline clearing with no authorization still confirms."""
    assert earned(ev("clearing", 800, brand="quicpay")) == Points(4, 0)


def test_clearing_after_declined_authorization_confirms() -> None:
    """A clearing after a declined authorization confirms its amount; nothing provisional."""
    story = (ev("authorization", 800, approved=False), ev("clearing", 800))
    assert earned(*story) == Points(8, 0)


def test_clearing_before_its_authorization_gives_the_same_result() -> None:
    """A clearing that arrives before its authorization ends in the same state."""
    auth, clearing = ev("authorization", 1000), ev("clearing", 600)
    assert facts_of(clearing, auth) == facts_of(auth, clearing)
    assert earned(clearing) == Points(6, 0)
    assert earned(clearing, auth) == Points(6, 4)


def test_reversal_before_its_authorization_gives_the_same_result() -> None:
    """A reversal that arrives first earns nothing, then nets out once the auth arrives."""
    auth, reversal = ev("authorization", 1000), ev("authorization_reversal", 1000)
    assert earned(reversal) == Points(0, 0)
    assert earned(reversal, auth) == earned(auth, reversal) == Points(0, 0)


def test_partial_refund_reduces_confirmed_points() -> None:
    """Refunding ¥300 of a ¥1,000 final clearing leaves 7 confirmed."""
    story = (ev("clearing", 1000, final=True), ev("refund", 300))
    assert earned(*story) == Points(7, 0)


def test_refund_exceeding_cleared_floors_at_zero() -> None:
    """A refund larger than the cleared amount leaves 0 confirmed, never negative."""
    story = (ev("clearing", 500, final=True), ev("refund", 800))
    assert earned(*story) == Points(0, 0)


def test_refund_before_clearing_gives_the_same_result() -> None:
    """A refund arriving before the clearing ends in the same confirmed points."""
    clearing, refund = ev("clearing", 1000, final=True), ev("refund", 300)
    assert earned(refund, clearing) == earned(clearing, refund) == Points(7, 0)


def test_excluded_mcc_earns_nothing() -> None:
    """Payments at an excluded MCC (e.g. 6051 quasi-cash) earn 0 confirmed and provisional."""
    merchant = {"name": "TOPUP", "mcc": "6051", "country": "JP"}
    story = (ev("authorization", 5000, merchant=merchant), ev("clearing", 3000, merchant=merchant))
    assert earned(*story) == Points(0, 0)


def test_exclusion_is_decided_by_the_anchor_mcc() -> None:
    """Only the anchor's MCC counts: a later event at an excluded MCC does not exclude."""
    normal = {"name": "LAWSON", "mcc": "5411", "country": "JP"}
    odd = {"name": "WIRE", "mcc": "4829", "country": "JP"}
    first = ev("authorization", 1000, merchant=normal, occurred_at="2026-11-01T10:00:00+09:00")
    later = ev("clearing", 1000, merchant=odd, occurred_at="2026-11-03T10:00:00+09:00")
    assert earned(first, later) == Points(10, 0)
    earlier_odd = ev("clearing", 1000, merchant=odd, occurred_at="2026-10-30T10:00:00+09:00")
    assert earned(first, earlier_odd) == Points(0, 0)


def test_anchor_tie_on_time_is_broken_by_event_id() -> None:
    """Equal instants (even in other offsets): the smaller event_id is the anchor."""
    a = ev("authorization", 1000, event_id="a", occurred_at="2026-11-01T09:00:00+09:00")
    b = ev(
        "clearing",
        1000,
        event_id="b",
        occurred_at="2026-11-01T00:00:00Z",
        merchant={"name": "X", "mcc": "4829", "country": "JP"},
    )
    facts = facts_of(b, a)
    assert facts.anchor is not None
    assert facts.anchor.event_id == "a"


def test_expired_payment_has_no_provisional_points() -> None:
    """Expiry drops provisional points to 0 and keeps confirmed ones."""
    story = (ev("authorization", 1000), ev("clearing", 400))
    assert earned(*story, expired=True) == Points(4, 0)


def test_late_clearing_after_expiry_still_confirms() -> None:
    """A clearing arriving after expiry confirms its amount; provisional stays 0."""
    story = (ev("authorization", 1000), ev("clearing", 1000))
    assert earned(*story, expired=True) == Points(10, 0)


def test_one_yen_earns_nothing() -> None:
    """¥1 at 1 % floors to 0 points (and so does ¥99)."""
    assert earned(ev("clearing", 1)) == Points(0, 0)
    assert earned(ev("clearing", 99)) == Points(0, 0)
    assert earned(ev("clearing", 100)) == Points(1, 0)


def test_quicpay_earns_half_a_percent_and_floors() -> None:
    """QUICPay 0.5 %: ¥199 earns 0, ¥200 earns 1."""
    assert earned(ev("clearing", 199, brand="quicpay")) == Points(0, 0)
    assert earned(ev("clearing", 200, brand="quicpay")) == Points(1, 0)


def test_points_floor_per_payment_not_per_event() -> None:
    """Two ¥50 clearings earn 1 point together (floor of the payment's sum, Kyash style)."""
    assert earned(ev("clearing", 50), ev("clearing", 50)) == Points(1, 0)


def test_pts_is_integer_floor_of_non_negative_amounts() -> None:
    """``pts`` floors in integers and treats negative amounts as 0."""
    assert pts(12345, 100) == 123
    assert pts(-500, 100) == 0
    assert pts(10_000_000, 50) == 50_000


def test_fold_is_order_independent_for_a_mixed_story() -> None:
    """Every order of one payment's events gives the same facts."""
    story = [
        ev("authorization", 1000),
        ev("authorization", 200, approved=False),
        ev("authorization_reversal", 100),
        ev("clearing", 700),
        ev("refund", 50),
    ]
    results = {facts_of(*order) for order in permutations(story)}
    assert len(results) == 1


AUTH_AT = datetime(2026, 11, 1, tzinfo=UTC)
OLD_AUTH = "2026-11-01T00:00:00Z"


def test_open_payment_with_old_authorization_is_expirable() -> None:
    """Non-final, provisional > 0, latest authorization before the cutoff: expirable."""
    auth = ev("authorization", 1000, occurred_at=OLD_AUTH)
    assert is_expirable(facts_of(auth), DEFAULT_RULES, AUTH_AT + timedelta(days=1))


def test_recent_authorization_is_not_expirable() -> None:
    """A payment whose latest authorization is after the cutoff stays."""
    auth = ev("authorization", 1000, occurred_at=OLD_AUTH)
    assert not is_expirable(facts_of(auth), DEFAULT_RULES, AUTH_AT - timedelta(days=1))


def test_a_newer_incremental_authorization_restarts_the_clock() -> None:
    """The latest approved authorization counts, not the first one."""
    first = ev("authorization", 1000, occurred_at=OLD_AUTH)
    newer = ev("authorization", 500, occurred_at="2026-11-20T00:00:00Z")
    assert not is_expirable(facts_of(first, newer), DEFAULT_RULES, AUTH_AT + timedelta(days=2))


def test_final_payment_is_not_expirable() -> None:
    """A payment closed by a final clearing has nothing provisional to release."""
    story = (ev("authorization", 1000, occurred_at=OLD_AUTH), ev("clearing", 10, final=True))
    assert not is_expirable(facts_of(*story), DEFAULT_RULES, AUTH_AT + timedelta(days=1))


def test_already_expired_payment_is_not_expirable_again() -> None:
    """Expiry happens once per payment."""
    auth = ev("authorization", 1000, occurred_at=OLD_AUTH)
    assert not is_expirable(facts_of(auth, expired=True), DEFAULT_RULES, AUTH_AT + timedelta(1))


def test_payment_without_provisional_points_is_not_expirable() -> None:
    """¥50 earns 0 provisional points: nothing to release, so no expiry entry."""
    tiny = ev("authorization", 50, occurred_at=OLD_AUTH)
    assert not is_expirable(facts_of(tiny), DEFAULT_RULES, AUTH_AT + timedelta(days=1))
