"""The pure domain agrees with the independent reference model on generated stories."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.points.earning import earned as earned_at
from consumers.points.earning import payment_rate
from consumers.points.facts import fold
from consumers.points.intake import event_facts
from consumers.points.rules import DEFAULT_RULES
from tests.support.factories import payment_event
from tests.support.reference import payment_state
from tests.support.stories import deliveries, payment_story


def _domain_state(events: list[dict[str, Any]]) -> dict[str, Any]:
    distinct = {e["event_id"]: event_facts(payment_event(e)) for e in events}
    facts = fold("pay-0", distinct.values())
    earned = earned_at(facts, payment_rate(facts, DEFAULT_RULES).rate_bp)
    return {
        "authorized": facts.authorized,
        "reversed": facts.reversed,
        "cleared": facts.cleared,
        "refunded": facts.refunded,
        "final": facts.final,
        "confirmed": earned.confirmed,
        "provisional": earned.provisional,
    }


@settings(deadline=None)  # examples: the hypothesis profile's
@given(st.data())
def test_domain_matches_the_reference_in_any_order(data: st.DataObject) -> None:
    """Any permutation with duplicates folds to the reference model's facts and points."""
    story = data.draw(payment_story(0, 1))
    delivered = data.draw(deliveries(story))
    expected = payment_state(story)
    assert _domain_state(delivered) == {k: expected[k] for k in _domain_state(story)}
