"""Hypothesis: any order, any duplication and any batching of the same events end in the
state of the independent reference model, on SQLite and PostgreSQL; replay is a no-op."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from consumers.handler import Outcome
from consumers.points.rules import parse_rules
from schemas.envelope import parse_event
from tests.support import reference
from tests.support.ledger import ledger_on, verified
from tests.support.ledger_kit import (
    apply_batches,
    entry_rows,
    ledger_state,
    migrated_engine,
    wipe,
)
from tests.support.stories import batches, deliveries, stories

SWITCH = "2026-12-01T00:00:00+09:00"
RULES = parse_rules(
    json.dumps(
        {
            "versions": [
                {"rates_bp": {"visa": 100, "quicpay": 50}, "excluded_mccs": ["4829"]},
                {
                    "effective_from": SWITCH,
                    "rates_bp": {"visa": 250, "quicpay": 75},
                    "excluded_mccs": ["4829", "5411"],
                },
            ]
        }
    )
)
TABLE: reference.RuleTable = [
    (None, {"visa": 100, "quicpay": 50}, {"4829"}),
    (datetime.fromisoformat(SWITCH), {"visa": 250, "quicpay": 75}, {"4829", "5411"}),
]
#: Examples: the loaded hypothesis profile's (tests/conftest.py): 100 locally, hundreds in CI.
SETTINGS: dict[str, Any] = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url: str = request.getfixturevalue(
        "sqlite_url" if request.param == "sqlite" else "postgres_url"
    )
    engine = migrated_engine(url)
    yield engine
    engine.dispose()


def _expected(events: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return reference.ledger_state(events, TABLE)


@settings(**SETTINGS)
@given(data=st.data())
def test_any_delivery_order_ends_in_the_reference_state(
    engine: Engine, data: st.DataObject
) -> None:
    """Permutations with random duplicates, cut into random batches, match the reference."""
    wipe(engine)
    events = data.draw(stories())
    delivered = data.draw(deliveries(events))
    apply_batches(ledger_on(engine, rules=RULES), data.draw(batches(delivered)))
    assert ledger_state(engine) == _expected(events)
    report = verified(engine, RULES)
    assert report.clean, report.drifts


@settings(**SETTINGS)
@given(data=st.data())
def test_replaying_everything_twice_changes_nothing(engine: Engine, data: st.DataObject) -> None:
    """After all events are applied, two full replays are all duplicates and change nothing."""
    wipe(engine)
    events = data.draw(stories())
    ledger = ledger_on(engine, rules=RULES)
    apply_batches(ledger, data.draw(batches(events)))
    before = (ledger_state(engine), entry_rows(engine))
    for _ in range(2):
        for batch in data.draw(batches(data.draw(deliveries(events)))):
            results = ledger.handle_batch([parse_event(d) for d in batch])
            assert {r.outcome for r in results} == {Outcome.DUPLICATE}
    assert (ledger_state(engine), entry_rows(engine)) == before
