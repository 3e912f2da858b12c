"""Small builders for domain tests: events as the wire has them, folded into facts."""

from __future__ import annotations

from itertools import count
from typing import Any

from consumers.points.domain import EventFacts, PaymentFacts, Points, fold, points
from consumers.points.rules import DEFAULT_RULES, Rules
from tests.support.factories import make_event

_ids = count(1)


def ev(kind: str, amount: int, **overrides: Any) -> EventFacts:
    """One event of payment ``pay-1`` (unique id unless given)."""
    overrides.setdefault("event_id", f"e{next(_ids):04d}")
    return EventFacts.of(make_event(kind, amount=amount, **overrides))


def facts_of(*events: EventFacts, expired: bool = False) -> PaymentFacts:
    return fold("pay-1", events, expired=expired)


def earned(*events: EventFacts, rules: Rules = DEFAULT_RULES, expired: bool = False) -> Points:
    """Points of payment ``pay-1`` after ``events``."""
    return points(facts_of(*events, expired=expired), rules)
