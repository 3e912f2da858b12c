"""The v2 pure domain agrees with the independent reference model (tests/support) on random
stories: all seven payment types, grants of any sign, several accounts and months, rule
versions with caps and campaigns whose boundaries are written in many offsets, any order
and any duplication."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.points.amounts import Points
from consumers.points.earning import account_months, balances, earning
from consumers.points.explain import explain
from tests.support import reference_v2 as ref
from tests.support.stories_v2 import deliveries, payment_story, rules_documents, stories
from tests.support.v2_kit import (
    IncrementalLedger,
    grants_of,
    payments_of,
    rules_of,
)

EXAMPLES = 300
ACCOUNTS = ["acct-1", "acct-2", "acct-3"]


def _expired(data: st.DataObject, events: list[dict[str, Any]]) -> set[str]:
    payment_ids = sorted({e["payment_id"] for e in events if "payment_id" in e})
    if not payment_ids:
        return set()
    return set(data.draw(st.lists(st.sampled_from(payment_ids), unique=True)))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_payment_facts_match_the_reference_in_any_order(data: st.DataObject) -> None:
    """Folding a payment's deliveries (any order, duplicates) gives the reference's facts:
    the seven sums, returned, final, expired, anchor and latest approved authorization."""
    story = data.draw(payment_story(0, 1))
    expired = data.draw(st.booleans())
    (facts,) = payments_of(data.draw(deliveries(story)), ["pay-0"] if expired else [])
    expected = ref.payment(story, expired=expired)
    assert facts.anchor is not None
    assert {
        "authorized": facts.authorized,
        "reversed": facts.reversed,
        "cleared": facts.cleared,
        "refunded": facts.refunded,
        "refund_reversed": facts.refund_reversed,
        "charged_back": facts.charged_back,
        "chargeback_reversed": facts.chargeback_reversed,
        "returned": facts.returned,
        "final": facts.final,
        "expired": facts.expired,
        "anchor_event_id": facts.anchor.event_id,
        "latest_authorized_at": facts.latest_authorized_at,
    } == {
        k: expected[k]
        for k in (
            "authorized",
            "reversed",
            "cleared",
            "refunded",
            "refund_reversed",
            "charged_back",
            "chargeback_reversed",
            "returned",
            "final",
            "expired",
            "anchor_event_id",
            "latest_authorized_at",
        )
    }


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_rate_campaigns_month_and_earned_points_match_the_reference(
    data: st.DataObject,
) -> None:
    """Per payment: rate (base + campaign bonuses, 0 if excluded), the campaigns that
    applied, the JST account-month and earned points agree with the reference."""
    document = data.draw(rules_documents())
    events = data.draw(stories())
    expired = _expired(data, events)
    rules = rules_of(document)
    expected = ref.ledger(events, document, expired)["payments"]
    for facts in payments_of(events, expired):
        contribution = earning(facts, rules)
        assert contribution is not None
        want = expected[facts.payment_id]
        assert (
            contribution.rate.rate_bp,
            list(contribution.rate.campaigns),
            contribution.ref.month,
            contribution.earned,
        ) == (
            want["rate_bp"],
            want["campaigns"],
            want["month"],
            Points(want["confirmed"], want["provisional"]),
        )


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_account_months_and_balances_match_the_reference(data: st.DataObject) -> None:
    """Caps, earned and credited points per account-month, and every balance (grants
    included, negative ones too), equal the reference's."""
    document = data.draw(rules_documents())
    events = data.draw(stories())
    expired = _expired(data, events)
    rules = rules_of(document)
    expected = ref.ledger(events, document, expired)
    months = account_months(payments_of(events, expired), rules)
    assert {(r.account_id, r.month): (t.cap, t.earned, t.credited) for r, t in months.items()} == {
        key: (
            row["cap"],
            Points(row["earned_confirmed"], row["earned_provisional"]),
            Points(row["credited_confirmed"], row["credited_provisional"]),
        )
        for key, row in expected["months"].items()
    }
    got = balances(payments_of(events, expired), grants_of(events), rules)
    assert {a: asdict(p) for a, p in got.items()} == expected["balances"]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_explain_matches_the_reference_document(data: st.DataObject) -> None:
    """``explain(...).as_json()`` is the reference's §6 document, per account, whole or
    for one month."""
    document = data.draw(rules_documents())
    events = data.draw(stories())
    expired = _expired(data, events)
    rules = rules_of(document)
    month = data.draw(st.sampled_from([None, "2026-10", "2026-11", "2026-12", "2027-01"]))
    for account in ACCOUNTS:
        got = explain(account, payments_of(events, expired), grants_of(events), rules, month)
        assert got.as_json() == ref.explain(events, account, document, expired, month)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_explained_balance_is_credited_plus_grants(data: st.DataObject) -> None:
    """Without a month filter the balance equals the months' credited points plus grants."""
    rules = rules_of(data.draw(rules_documents()))
    events = data.draw(stories())
    for account in ACCOUNTS:
        assert explain(account, payments_of(events), grants_of(events), rules).reconciles


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_credited_points_stay_within_earned_and_cap(data: st.DataObject) -> None:
    """Every month: 0 ≤ credited ≤ earned, and credited confirmed + provisional ≤ cap."""
    rules = rules_of(data.draw(rules_documents()))
    for totals in account_months(payments_of(data.draw(stories())), rules).values():
        got = totals.credited
        assert 0 <= got.confirmed <= totals.earned.confirmed
        assert 0 <= got.provisional <= totals.earned.provisional
        assert totals.cap is None or got.confirmed + got.provisional <= totals.cap


@st.composite
def _deliveries_with_expiry(draw: st.DrawFn, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Deliveries (any order, duplicates) with expiry runs of random payments mixed in."""
    items = draw(deliveries(events))
    payment_ids = sorted({e["payment_id"] for e in events if "payment_id" in e})
    for payment_id in draw(st.lists(st.sampled_from(payment_ids), max_size=2)):
        items.insert(draw(st.integers(0, len(items))), {"expire": payment_id})
    return items


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_incremental_application_equals_recomputation_at_every_step(
    data: st.DataObject,
) -> None:
    """Applying deliveries one at a time through ``earned_changes``/``settle``: after each
    step the month totals equal a recomputation from scratch and the entries sum to the
    balances; at the end the balances are the reference's."""
    document = data.draw(rules_documents())
    rules = rules_of(document)
    events = data.draw(stories())
    ledger = IncrementalLedger(rules)
    applied: list[dict[str, Any]] = []
    for item in data.draw(_deliveries_with_expiry(events)):
        if "expire" in item:
            ledger.expire(item["expire"])
        else:
            ledger.apply(item)
            applied.append(item)
        scratch = account_months(payments_of(applied, ledger.expired), rules)
        assert ledger.nonzero_months() == {r: t for r, t in scratch.items() if t.earned != Points()}
        assert ledger.entry_sums() == ledger.balances
    expected = ref.ledger(events, document, ledger.expired)["balances"]
    assert _nonzero(_as_dicts(ledger.balances)) == _nonzero(expected)


def _as_dicts(balances: dict[str, Points]) -> dict[str, dict[str, int]]:
    return {account: asdict(points) for account, points in balances.items()}


def _nonzero(balances: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Accounts whose payments never earned anything have no entries (and no balance row
    in the ledger) but a zero balance in the reference: compare what is not zero."""
    return {a: b for a, b in balances.items() if any(b.values())}


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_final_state_is_the_same_for_every_order_and_duplication(data: st.DataObject) -> None:
    """Two different delivery sequences of the same events end in identical month totals,
    balances and explanations (intermediate states may differ)."""
    rules = rules_of(data.draw(rules_documents()))
    events = data.draw(stories())
    ledgers = []
    for _ in range(2):
        ledger = IncrementalLedger(rules)
        for item in data.draw(deliveries(events)):
            ledger.apply(item)
        ledgers.append(ledger)
    first, second = ledgers
    # Rows of zeros exist or not depending on order (a month the anchor left, an account
    # whose entries cancelled out): a row of zeros is the same as no row.
    assert first.nonzero_months() == second.nonzero_months()
    assert _nonzero(_as_dicts(first.balances)) == _nonzero(_as_dicts(second.balances))
    assert first.payments == second.payments
    for account in ACCOUNTS:
        a = explain(account, first.payments.values(), grants_of(events), rules).as_json()
        b = explain(account, second.payments.values(), grants_of(events), rules).as_json()
        assert a == b
