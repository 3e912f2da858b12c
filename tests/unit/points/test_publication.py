"""Publishing rule versions (DESIGN §4.6): no-op repeats, conflicts, backdating, and the
exact windows of instants a publication changes."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from consumers.points.amounts import Points
from consumers.points.publication import (
    RulesConflict,
    Window,
    backdated,
    changed_windows,
    plan_publication,
    recompute,
)
from consumers.points.rules import Rules, RuleVersion, version_document, with_default
from tests.support import reference_v2
from tests.support.stories_v2 import (
    STARTS,
    TIMES,
    deliveries,
    rule_version,
    rules_documents,
    stories,
)
from tests.support.v2_kit import (
    IncrementalLedger,
    campaign,
    rules_of,
    rules_with,
    version,
)

NOV = "2026-11-01T00:00:00+09:00"
DEC = "2026-12-01T00:00:00+09:00"
JAN = "2027-01-01T00:00:00+09:00"


def _one(document: dict[str, object]) -> RuleVersion:
    (parsed,) = rules_with(document).versions
    return parsed


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_publishing_the_same_version_twice_is_a_no_op() -> None:
    """The same version, even spelled in another offset, is ``unchanged``, not added."""
    published = [_one(version(DEC, cap=100))]
    plan = plan_publication(published, [_one(version("2026-11-30T15:00:00Z", cap=100))])
    assert (plan.added, len(plan.unchanged)) == ((), 1)


def test_another_version_at_a_published_effective_from_is_refused() -> None:
    """A different version at an instant already published is a ``RulesConflict``."""
    published = [_one(version(DEC, cap=100))]
    with pytest.raises(RulesConflict, match="already published at this effective_from"):
        plan_publication(published, [_one(version("2026-11-30T15:00:00Z", cap=101))])


def test_a_new_version_is_added_in_order() -> None:
    """A version at a new instant is added; the resulting rules are sorted."""
    published = [_one(version(DEC, cap=100))]
    plan = plan_publication(published, [_one(version(NOV, cap=5))])
    assert [v.monthly_cap_points for v in plan.rules.versions] == [5, 100]
    assert len(plan.added) == 1


def test_backdated_versions_are_those_before_the_lead_time() -> None:
    """Versions before ``now + lead`` (and open-ended ones) need ``--backdate``."""
    early, late, forever = _one(version(NOV)), _one(version(JAN)), _one(version(None))
    assert backdated([early, late, forever], _at(DEC)) == (early, forever)


def test_a_version_between_two_changes_up_to_the_next_one() -> None:
    """Inserting a version at t changes exactly ``[t, next effective_from)``."""
    before = with_default([_one(version(JAN, visa=300))])
    after = with_default([_one(version(JAN, visa=300)), _one(version(DEC, visa=200))])
    assert changed_windows(before, after) == (Window(_at(DEC), _at(JAN)),)


def test_a_latest_version_changes_everything_after_it() -> None:
    """A version after every other one changes ``[t, ∞)``."""
    after = with_default([_one(version(DEC, cap=10))])
    assert changed_windows(with_default([]), after) == (Window(_at(DEC), None),)


def test_a_new_earliest_version_changes_the_past_too() -> None:
    """Without a default beneath, a new earliest version also rules all earlier anchors."""
    before = Rules((_one(version(JAN)),))
    after = Rules((_one(version(DEC, visa=1)), _one(version(JAN))))
    assert changed_windows(before, after) == (Window(None, _at(JAN)),)


def test_a_version_identical_to_its_predecessor_changes_nothing() -> None:
    """Same rates, exclusions, cap and campaigns as the version in force: no window."""
    base = version(NOV, cap=40, campaigns=[campaign("c", NOV, JAN)])
    same_terms = {**base, "effective_from": DEC}
    before = with_default([_one(base)])
    assert changed_windows(before, with_default([_one(base), _one(same_terms)])) == ()


def test_window_months_cover_its_anchors_and_month_starts() -> None:
    """``[Dec 15, Jan 1)`` meets December only; December's first instant is not in it."""
    window = Window(_at("2026-12-15T00:00:00+09:00"), _at(JAN))
    assert window.month_keys() == ("2026-12", "2026-12")
    assert not window.holds_month_start("2026-12")
    assert Window(_at(DEC), None).holds_month_start("2027-05")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_windows_hold_exactly_the_instants_whose_decision_changes(data: st.DataObject) -> None:
    """For any published set and any added version: an anchor's rate (and campaigns) or a
    month's cap can change only inside a window, and every window instant probed changes
    the version's terms."""
    document = data.draw(rules_documents())
    used = {str(v.get("effective_from")) for v in document["versions"]}
    free = [s for s in STARTS if str(s) not in used]
    assume(free)
    added = data.draw(rule_version(data.draw(st.sampled_from(free))))
    before = rules_of(document)
    after = rules_of({"versions": [*document["versions"], added]})
    windows = changed_windows(before, after)
    for text in [*TIMES, *(s for s in STARTS if s)]:
        moment = _at(text.replace("Z", "+00:00"))
        inside = any(w.contains(moment) for w in windows)
        same = version_document(before.for_anchor(moment)) | {"effective_from": None} == (
            version_document(after.for_anchor(moment)) | {"effective_from": None}
        )
        assert inside != same
    for month in ("2026-10", "2026-11", "2026-12", "2027-01"):
        if before.cap_of(month) != after.cap_of(month):
            assert any(w.holds_month_start(month) for w in windows)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_backdated_recomputation_lands_on_the_new_rules(data: st.DataObject) -> None:
    """A ledger built incrementally under the old rules, corrected by ``recompute`` over
    the payments anchored in the changed windows and the month rows those windows meet,
    equals the reference under the new rules; corrections sum to the balance deltas."""
    document = data.draw(rules_documents())
    used = {str(v.get("effective_from")) for v in document["versions"]}
    free = [s for s in STARTS if str(s) not in used]
    assume(free)
    new_document = {"versions": [*document["versions"], data.draw(rule_version(free[0]))]}
    before, after = rules_of(document), rules_of(new_document)
    events = data.draw(stories())
    ledger = IncrementalLedger(before)
    for item in data.draw(deliveries(events)):
        ledger.apply(item)
    windows = changed_windows(before, after)
    result = recompute(
        [
            p
            for p in ledger.payments.values()
            if p.anchor and any(w.contains(p.anchor.occurred_at) for w in windows)
        ],
        {r: t for r, t in ledger.months.items() if any(w.meets_month(r.month) for w in windows)},
        before,
        after,
    )
    ledger.months.update(result.months.months)
    for month_ref, delta in result.months.credited_deltas.items():
        account = month_ref.account_id
        ledger.balances[account] = ledger.balances.get(account, Points()) + delta
    expected = reference_v2.ledger(events, new_document)
    assert {
        (r.account_id, r.month): (t.cap, t.credited) for r, t in ledger.nonzero_months().items()
    } == {
        key: (row["cap"], Points(row["credited_confirmed"], row["credited_provisional"]))
        for key, row in expected["months"].items()
        if row["earned_confirmed"] or row["earned_provisional"]
    }
    assert {a: b for a, b in ledger.balances.items() if b != Points()} == {
        a: Points(**b) for a, b in expected["balances"].items() if any(b.values())
    }
