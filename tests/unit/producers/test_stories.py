"""The demo stories: recorded through the adapters into the outbox, with known points."""

from __future__ import annotations

import json
from collections import defaultdict

from producers.stories import (
    EXPECTED_BALANCES,
    QUICPAY_ACCOUNT,
    VISA_ACCOUNT,
    story_events,
)
from schemas.events import EventType
from tests.support import reference


def test_quicpay_story_has_an_offline_sale_without_authorization() -> None:
    """One QUICPay payment is only a final clearing (the offline sale)."""
    by_payment: dict[str, set[EventType]] = defaultdict(set)
    for event in story_events():
        by_payment[event.payment_id].add(event.event_type)
    assert {EventType.CLEARING} in by_payment.values()


def test_expected_balances_follow_the_points_rules() -> None:
    """EXPECTED_BALANCES is what DESIGN §4 gives for the story events: the independent
    reference model on the events as published, and the arithmetic by hand (visa 1 % of
    ¥1,200; quicpay 0.5 % of ¥3,000 and of ¥800, floored per payment)."""
    wire = [json.loads(event.model_dump_json()) for event in story_events()]
    _, balances = reference.ledger_state(wire)
    from_reference = {b["account_id"]: (b["confirmed"], b["provisional"]) for b in balances}
    by_hand = {
        VISA_ACCOUNT: (1200 * 100 // 10_000, 0),
        QUICPAY_ACCOUNT: (3000 * 50 // 10_000 + 800 * 50 // 10_000, 0),
    }
    assert from_reference == by_hand == EXPECTED_BALANCES
