"""DESIGN §4 v2, one rule per test, on the pure domain (visa 1 %, quicpay 0.5 % unless
the test's rules say otherwise): payment facts over seven types, rates and campaigns,
grants and balances (account-months and caps: test_caps.py)."""

from __future__ import annotations

from datetime import datetime

from consumers.points.amounts import Points
from consumers.points.earning import (
    earning,
    is_expirable,
    payment_rate,
)
from consumers.points.rules import DEFAULT_RULES, Rate, Rules
from tests.support.v2_kit import (
    campaign,
    facts,
    grant_wire,
    rules_with,
    run,
    version,
    wire,
)

NOV_30 = "2026-11-30T20:00:00+09:00"
DEC_02 = "2026-12-02T10:00:00+09:00"


def _earned(*documents: dict[str, object], rules: Rules = DEFAULT_RULES) -> Points:
    contribution = earning(facts(*documents), rules)
    assert contribution is not None
    return contribution.earned


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- §4.1 payment facts -------------------------------------------------------------


def test_returned_is_refunds_minus_reversals_plus_chargebacks_minus_reversals() -> None:
    """returned = Σ refund − Σ refund_reversal + Σ chargeback − Σ chargeback_reversal."""
    payment = facts(
        wire("clearing", 10_000),
        wire("refund", 3000),
        wire("refund_reversal", 1000),
        wire("chargeback", 4000),
        wire("chargeback_reversal", 500),
    )
    assert (payment.refunded, payment.returned) == (3000, 3000 - 1000 + 4000 - 500)


def test_a_chargeback_takes_back_confirmed_points() -> None:
    """A chargeback of ¥4,000 on ¥10,000 cleared leaves 60 confirmed points."""
    assert _earned(wire("clearing", 10_000), wire("chargeback", 4000)) == Points(60, 0)


def test_a_chargeback_reversal_restores_them() -> None:
    """Reversing the whole chargeback restores the 100 confirmed points."""
    story = (wire("clearing", 10_000), wire("chargeback", 4000), wire("chargeback_reversal", 4000))
    assert _earned(*story) == Points(100, 0)


def test_a_refund_reversal_restores_refunded_points() -> None:
    """A refund of ¥2,000 reversed by ¥2,000 leaves the full 100 confirmed points."""
    story = (wire("clearing", 10_000), wire("refund", 2000), wire("refund_reversal", 2000))
    assert _earned(*story) == Points(100, 0)


def test_more_returned_than_cleared_is_zero_not_negative() -> None:
    """Refund plus chargeback above the cleared amount floors at 0 confirmed points."""
    story = (wire("clearing", 1000), wire("refund", 800), wire("chargeback", 800))
    assert _earned(*story) == Points(0, 0)


def test_a_refund_reversal_before_its_refund_is_taken_as_written() -> None:
    """Out of order, a refund reversal whose refund is not applied yet makes ``returned``
    negative: DESIGN's formula applies as written (15 points on ¥1,000) and the payment
    settles at 10 once the refund arrives."""
    early = (wire("clearing", 1000), wire("refund_reversal", 500))
    assert _earned(*early) == Points(15, 0)
    assert _earned(*early, wire("refund", 500)) == Points(10, 0)


def test_a_declined_authorization_adds_nothing_but_can_anchor() -> None:
    """A declined authorization adds no amount; as the earliest event it is the anchor
    (DESIGN: the anchor is the earliest of the events applied)."""
    decline = wire("authorization", 5000, approved=False, at=NOV_30, mcc="4829")
    payment = facts(decline, wire("clearing", 1000, at=DEC_02))
    assert payment.authorized == 0
    assert payment.anchor is not None
    assert payment.anchor.mcc == "4829"


def test_latest_authorization_is_the_latest_approved_one() -> None:
    """A later declined authorization does not restart the expiry clock."""
    payment = facts(
        wire("authorization", 1000, at=NOV_30),
        wire("authorization", 1000, at=DEC_02, approved=False),
    )
    assert payment.latest_authorized_at == _at(NOV_30)


def test_anchor_ties_on_one_instant_are_broken_by_event_id() -> None:
    """Two events at the same instant (different offsets): the smaller event_id anchors."""
    payment = facts(
        wire("authorization", 1000, at="2026-11-30T15:00:00Z", event_id="b", mcc="5411"),
        wire("authorization", 1000, at="2026-12-01T00:00:00+09:00", event_id="a", mcc="4829"),
    )
    assert payment.anchor is not None
    assert payment.anchor.event_id == "a"


def test_a_copy_of_an_event_counts_once() -> None:
    """Two deliveries of one event id are one event."""
    auth = wire("authorization", 1000)
    assert facts(auth, auth).authorized == 1000


def test_expired_payment_keeps_confirmed_points_only() -> None:
    """An expired payment earns no provisional points; a later clearing still confirms."""
    story = (wire("authorization", 1000), wire("clearing", 400))
    contribution = earning(facts(*story, expired=True), DEFAULT_RULES)
    assert contribution is not None
    assert contribution.earned == Points(4, 0)


def test_expiry_needs_provisional_points_and_an_old_approved_authorization() -> None:
    """Expirable: approved authorization strictly older than the cutoff and provisional > 0;
    at the cutoff it is not, nor is a payment at an excluded MCC (nothing provisional)."""
    cutoff = _at(NOV_30)
    assert is_expirable(facts(wire("authorization", 1000, at=NOV_30)), DEFAULT_RULES, _at(DEC_02))
    assert not is_expirable(facts(wire("authorization", 1000, at=NOV_30)), DEFAULT_RULES, cutoff)
    excluded = facts(wire("authorization", 1000, at=NOV_30, mcc="4829"))
    assert not is_expirable(excluded, DEFAULT_RULES, _at(DEC_02))


# --- §4.2 rate, campaigns ---------------------------------------------------------------

XMAS = campaign("xmas", "2026-12-01T00:00:00+09:00", "2026-12-26T00:00:00+09:00", 100)


def _rate(document: dict[str, object], rules: Rules) -> Rate:
    return payment_rate(facts(document), rules)


def test_campaign_bonus_adds_to_the_base_rate() -> None:
    """visa 100 bp + a 100 bp campaign = 200 bp, and the campaign is named."""
    rules = rules_with(version(campaigns=[XMAS]))
    assert _rate(wire("clearing", 1000, at=DEC_02), rules) == Rate(200, ("xmas",))


def test_bonuses_of_all_matching_campaigns_are_summed() -> None:
    """Two matching campaigns: base + both bonuses, ids in order."""
    konbini = campaign("konbini", "2026-11-01T00:00:00+09:00", "2027-01-01T00:00:00+09:00", 50)
    rules = rules_with(version(campaigns=[XMAS, konbini]))
    assert _rate(wire("clearing", 1000, at=DEC_02), rules) == Rate(250, ("konbini", "xmas"))


def test_campaign_starts_at_is_inclusive_in_another_offset() -> None:
    """An anchor exactly at starts_at, written in −05:00, gets the bonus."""
    rules = rules_with(version(campaigns=[XMAS]))
    assert _rate(wire("clearing", 1000, at="2026-11-30T10:00:00-05:00"), rules).rate_bp == 200


def test_an_anchor_just_before_starts_at_gets_no_bonus() -> None:
    """1 µs before starts_at (written in UTC): the base rate only."""
    rules = rules_with(version(campaigns=[XMAS]))
    at = "2026-11-30T14:59:59.999999Z"
    assert _rate(wire("clearing", 1000, at=at), rules) == Rate(100)


def test_campaign_ends_at_is_exclusive_in_another_offset() -> None:
    """An anchor exactly at ends_at, written in +05:30, gets no bonus."""
    rules = rules_with(version(campaigns=[XMAS]))
    assert _rate(wire("clearing", 1000, at="2026-12-25T20:30:00+05:30"), rules) == Rate(100)


def test_an_anchor_just_before_ends_at_gets_the_bonus() -> None:
    """1 µs before ends_at (written in UTC): the bonus applies."""
    rules = rules_with(version(campaigns=[XMAS]))
    at = "2026-12-25T14:59:59.999999Z"
    assert _rate(wire("clearing", 1000, at=at), rules).rate_bp == 200


def test_campaign_scopes_must_all_match_the_anchor() -> None:
    """brands, mccs and countries each restrict; the anchor's country decides, not a later
    event's."""
    scoped = campaign("jp", "2026-11-01T00:00:00+09:00", "2027-01-01T00:00:00+09:00", 100,
                      brands=["visa"], mccs=["5411"], countries=["JP"])  # fmt: skip
    rules = rules_with(version(campaigns=[scoped]))
    abroad = facts(
        wire("authorization", 1000, at=NOV_30, country="US"),
        wire("clearing", 1000, at=DEC_02, country="JP"),
    )
    assert payment_rate(abroad, rules) == Rate(100)
    assert _rate(wire("clearing", 1000, at=DEC_02, brand="quicpay"), rules) == Rate(50)
    assert _rate(wire("clearing", 1000, at=DEC_02, mcc="5499"), rules) == Rate(100)
    assert _rate(wire("clearing", 1000, at=DEC_02), rules) == Rate(200, ("jp",))


def test_an_empty_scope_list_matches_every_value() -> None:
    """``countries: []`` is no restriction."""
    open_scope = campaign("all", "2026-11-01T00:00:00+09:00", "2027-01-01T00:00:00+09:00", 10,
                          countries=[])  # fmt: skip
    rules = rules_with(version(campaigns=[open_scope]))
    assert _rate(wire("clearing", 1000, at=DEC_02, country="US"), rules).rate_bp == 110


def test_an_excluded_anchor_earns_nothing_even_in_a_campaign() -> None:
    """Excluded MCC: rate 0 and no campaign applies."""
    rules = rules_with(version(excluded=["4829"], campaigns=[XMAS]))
    assert _rate(wire("clearing", 1000, at=DEC_02, mcc="4829"), rules) == Rate(0)


def test_only_campaigns_of_the_anchors_version_apply() -> None:
    """A campaign of a later version does not apply to an anchor of the earlier one."""
    rules = rules_with(version(), version("2026-12-10T00:00:00+09:00", campaigns=[XMAS]))
    assert _rate(wire("clearing", 1000, at=DEC_02), rules) == Rate(100)


def test_points_are_floored_per_payment() -> None:
    """Two ¥150 payments at 1 % earn 1 point each, not 3 together."""
    ledger = run(
        DEFAULT_RULES,
        wire("clearing", 150, payment="p1"),
        wire("clearing", 150, payment="p2"),
    )
    assert ledger.balances["acct-1"] == Points(2, 0)


# --- §4.4 grants and balance ------------------------------------------------------------


def test_grants_are_confirmed_at_once_and_never_capped() -> None:
    """A 500-point grant in a month with cap 0 is 500 confirmed points."""
    ledger = run(rules_with(version(cap=0)), wire("clearing", 1000), grant_wire(500))
    assert ledger.balances["acct-1"] == Points(500, 0)


def test_grants_are_never_multiplied() -> None:
    """A campaign grant during a 10,000 bp campaign is still its own points."""
    everything = campaign("x", "2026-01-01T00:00:00+09:00", "2027-12-01T00:00:00+09:00", 10_000)
    ledger = run(rules_with(version(campaigns=[everything])), grant_wire(7, reason="campaign"))
    assert ledger.balances["acct-1"] == Points(7, 0)


def test_negative_grants_can_drive_a_balance_below_zero() -> None:
    """10 credited points and a −500 correction: the balance is −490 confirmed."""
    ledger = run(DEFAULT_RULES, wire("clearing", 1000), grant_wire(-500))
    assert ledger.balances["acct-1"] == Points(-490, 0)


def test_a_redelivered_grant_counts_once() -> None:
    """At-least-once delivery of a grant: one event id, one grant."""
    grant = grant_wire(300)
    assert run(DEFAULT_RULES, grant, grant).balances["acct-1"] == Points(300, 0)
