"""The demo stories: recorded through the adapters into the outbox, with known points."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa

from producers.outbox import create_outbox_table, outbox_table
from producers.stories import (
    EXPECTED_BALANCES,
    QUICPAY_ACCOUNT,
    VISA_ACCOUNT,
    record_stories,
    story_events,
)
from schemas.events import EventType
from tests.unit.points import reference


def test_stories_are_recorded_in_the_outbox(tmp_path: Path) -> None:
    """Every story event lands in the outbox in order, with the adapters' ids."""
    engine = sa.create_engine(f"sqlite:///{tmp_path}/s.sqlite3")
    create_outbox_table(engine)
    with engine.begin() as conn:
        recorded = record_stories(conn)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox_table.c.event_id).order_by(outbox_table.c.id)
        ).scalars()
        assert list(rows) == [e.event_id for e in recorded]


def test_recording_the_stories_twice_adds_nothing(tmp_path: Path) -> None:
    """Ids come from brand identifiers, so a second run is a no-op."""
    engine = sa.create_engine(f"sqlite:///{tmp_path}/s.sqlite3")
    create_outbox_table(engine)
    for _ in range(2):
        with engine.begin() as conn:
            record_stories(conn)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox_table)).scalar() == 5


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
