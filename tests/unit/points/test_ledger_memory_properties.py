"""Hypothesis: ``PointsLedger`` on the in-memory store ends in the state of the independent
reference model (``tests/support/reference_v2.py``) for any rules, order, duplication and
batching — the ledger's algorithm checked without a database, so with twice the examples
of the SQLite/PostgreSQL run (tests/integration/test_ledger_properties_v2.py, 100 locally)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.envelope import parse_event
from tests.support import reference_v2 as reference
from tests.support.ledger_views import accounts_of, ledger_view, reference_view
from tests.support.memory_store import MemoryLedger
from tests.support.stories import batches
from tests.support.stories_v2 import deliveries, rules_documents, stories
from tests.support.v2_kit import rules_of

EXAMPLES = 200
#: Long after every story: every payment still open is expirable.
LATER = datetime(2030, 1, 1, tzinfo=UTC)


def delivered_to(ledger: MemoryLedger, data: st.DataObject, events: list[dict[str, Any]]) -> None:
    """Deliver ``events`` with random duplicates, in random order and batches."""
    for batch in data.draw(batches(data.draw(deliveries(events)))):
        results = ledger.handle_batch([parse_event(document) for document in batch])
        assert not [r for r in results if r.error is not None], results


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
    delivered_to(ledger, data, events)
    expected = reference_view(reference.ledger(events, document))
    assert ledger_view(ledger.store, accounts_of(events)) == expected
    report = ledger.verify()
    assert report.clean, report.drifts


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_expiry_after_any_delivery_ends_in_the_reference_state(data: st.DataObject) -> None:
    """Expiring everything still open releases the reference's open payments and
    re-settles the months as the reference says."""
    document = data.draw(rules_documents())
    events = data.draw(stories())
    ledger = MemoryLedger(rules_of(document))
    delivered_to(ledger, data, events)
    released = {e.payment_id for e in ledger.expire(now=LATER)}
    open_payments = {
        pid
        for pid, p in reference.ledger(events, document)["payments"].items()
        if p["provisional"] > 0
    }
    assert released == open_payments
    expected = reference_view(reference.ledger(events, document, expired=open_payments))
    assert ledger_view(ledger.store, accounts_of(events)) == expected
    report = ledger.verify()
    assert report.clean, report.drifts
