"""Small builders for domain tests: events as the wire has them, folded into facts."""

from __future__ import annotations

from itertools import count
from typing import Any

from consumers.points.amounts import Points
from consumers.points.earning import earned as earned_at
from consumers.points.earning import payment_rate
from consumers.points.facts import EventFacts, PaymentFacts, fold
from consumers.points.intake import event_facts
from consumers.points.rules import DEFAULT_RULES, Rules
from tests.support.factories import make_event

_ids = count(1)


def ev(kind: str, amount: int, **overrides: Any) -> EventFacts:
    """One event of payment ``pay-1`` (unique id unless given)."""
    overrides.setdefault("event_id", f"e{next(_ids):04d}")
    return event_facts(make_event(kind, amount=amount, **overrides))


def facts_of(*events: EventFacts, expired: bool = False) -> PaymentFacts:
    return fold("pay-1", events, expired=expired)


def earned(*events: EventFacts, rules: Rules = DEFAULT_RULES, expired: bool = False) -> Points:
    """Earned points of payment ``pay-1`` after ``events``."""
    facts = facts_of(*events, expired=expired)
    return earned_at(facts, payment_rate(facts, rules).rate_bp)
