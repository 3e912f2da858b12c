"""Hypothesis: ``PointsLedger`` on the in-memory store ends in the state of the independent
reference model (``tests/support/reference_v2.py``) for any rules, order, duplication and
batching — the ledger's algorithm checked without a database, so with twice the examples
of the SQLite/PostgreSQL run (tests/integration/test_ledger_properties_v2.py, 100 locally)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.ledger_views import (
    assert_expiry_matches_reference,
    assert_reference_state,
    deliver,
)
from tests.support.memory_store import MemoryLedger
from tests.support.stories_v2 import rules_documents, stories
from tests.support.v2_kit import rules_of

EXAMPLES = 200


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_any_rules_order_duplication_and_batching_end_in_the_reference_state(
    data: st.DataObject,
) -> None:
    """Permutations with random duplicates, cut into random batches, match the reference,
    and verify finds nothing to report."""
    document = data.draw(rules_documents())
    events = data.draw(stories())
    ledger = MemoryLedger(rules_of(document))
    deliver(ledger, data, events)
    assert_reference_state(ledger, document, events)


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_expiry_after_any_delivery_ends_in_the_reference_state(data: st.DataObject) -> None:
    """Expiring everything still open releases the reference's open payments and
    re-settles the months as the reference says."""
    document = data.draw(rules_documents())
    events = data.draw(stories())
    ledger = MemoryLedger(rules_of(document))
    deliver(ledger, data, events)
    assert_expiry_matches_reference(ledger, document, events)
