"""Hypothesis: the v2 ledger (SQLite and PostgreSQL) ends in the state of the independent
reference model of DESIGN §4 (``tests/support/reference_v2.py``) for any rules, any order,
any duplication and any batching of the same events — payments, account-months and
balances — and ``verify`` agrees; expiry included."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from tests.support.ledger import ledger_on
from tests.support.ledger_kit import (
    both_databases,  # noqa: F401 (the engine fixture)
    wipe,
)
from tests.support.ledger_views import (
    assert_expiry_matches_reference,
    assert_reference_state,
    deliver,
)
from tests.support.stories_v2 import rules_documents, stories
from tests.support.v2_kit import rules_of

#: Examples: the loaded hypothesis profile's (tests/conftest.py): 100 locally, hundreds in CI.
SETTINGS: dict[str, Any] = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@settings(**SETTINGS)
@given(data=st.data())
def test_any_rules_order_duplication_and_batching_end_in_the_reference_state(
    engine: Engine, data: st.DataObject
) -> None:
    """Permutations with random duplicates, cut into random batches, match the reference."""
    wipe(engine)
    document = data.draw(rules_documents())
    events = data.draw(stories())
    with ledger_on(engine, rules=rules_of(document)) as ledger:
        deliver(ledger, data, events)
        assert_reference_state(ledger, document, events)


@settings(**SETTINGS)
@given(data=st.data())
def test_expiry_after_any_delivery_ends_in_the_reference_state(
    engine: Engine, data: st.DataObject
) -> None:
    """Expiring everything still open re-settles the months as the reference says."""
    wipe(engine)
    document = data.draw(rules_documents())
    events = data.draw(stories())
    with ledger_on(engine, rules=rules_of(document)) as ledger:
        deliver(ledger, data, events)
        assert_expiry_matches_reference(ledger, document, events)
