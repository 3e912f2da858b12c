"""Under rules without a cap a batch locks no account-month and adds to months like
balances; a cap published between two batches makes the next one settle again. SQLite and
PostgreSQL, through the real ledger (visa 100 bp)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from consumers.points.amounts import Points
from consumers.points.earning import MonthRef
from consumers.points.publishing import publish_rules
from consumers.points.rules import parse_rules
from consumers.points.store.records import MonthRecord
from schemas.events import PaymentEvent
from tests.support.factories import make_event
from tests.support.ledger import ledger_on
from tests.support.ledger_kit import both_databases  # noqa: F401 (the engine fixture)
from tests.support.ledger_views import assert_verified, balance, months

NOV = MonthRef("acct-1", "2026-11")
CAPPED = {
    "versions": [
        {
            "effective_from": "2026-01-01T00:00:00+09:00",
            "rates_bp": {"visa": 100, "quicpay": 50},
            "excluded_mccs": [],
            "monthly_cap_points": 100,
        }
    ]
}


def clearing(event_id: str, payment_id: str, amount: int) -> PaymentEvent:
    return make_event(
        "clearing",
        event_id=event_id,
        payment_id=payment_id,
        amount=amount,
        occurred_at="2026-11-10T10:00:00+09:00",
        final=True,
    )


def test_months_under_rules_without_a_cap_are_added_to(engine: Engine) -> None:
    """The first batch locks (a ledger starts by assuming a cap), the next ones add: the
    month's earned and credited points are the sums either way."""
    with ledger_on(engine) as ledger:
        for n in range(3):
            ledger.handle_batch([clearing(f"e{n}", f"pay-{n}", 5000)])
        assert ledger.handler.rules_had_cap is False
        assert months(ledger) == {NOV: MonthRecord(NOV, Points(150, 0), Points(150, 0))}
        assert balance(ledger) == Points(150, 0)
        assert_verified(ledger)


def test_a_cap_published_between_batches_is_settled_by_the_next_batch(engine: Engine) -> None:
    """The next batch guessed "no cap" from the last one and claimed no month; it reads the
    new rules in its claim and locks the months then: November stays at its cap."""
    with ledger_on(engine) as ledger:
        ledger.handle_batch([clearing("e1", "pay-1", 15000)])
        ledger.handle_batch([clearing("e2", "pay-2", 1000)])
        publish_rules(
            ledger.store,
            parse_rules(json.dumps(CAPPED)),
            actor="tester",
            reason="cap",
            now=datetime.now(UTC),
            lead=timedelta(minutes=5),
            allow_backdate=True,
        )
        assert balance(ledger) == Points(100, 0)  # the publication recomputed November
        ledger.handle_batch([clearing("e3", "pay-3", 5000)])
        assert months(ledger) == {NOV: MonthRecord(NOV, Points(210, 0), Points(100, 0))}
        assert balance(ledger) == Points(100, 0)
        assert ledger.handler.rules_had_cap is True
        assert_verified(ledger)
