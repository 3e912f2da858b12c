"""Hypothesis: ``explain --month`` (the month's story from the store, the other months'
stored credited points) is the reference's §6 document for that month, on the in-memory
store after any delivery — any order, duplication and batching, so payments whose anchor
moved between months, grants in several months, capped months and, when drawn, expired
payments."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.points.story import explain_month_story
from tests.support import reference_v2 as ref
from tests.support.ledger_views import LATER, accounts_of, deliver
from tests.support.memory_store import MemoryLedger
from tests.support.stories_v2 import rules_documents, stories
from tests.support.v2_kit import rules_of

EXAMPLES = 200
#: Every month the stories reach (October to January, JST), and one they never do.
MONTHS = ["2026-09", "2026-10", "2026-11", "2026-12", "2027-01"]


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_explain_of_a_month_is_the_reference_document_of_that_month(
    data: st.DataObject,
) -> None:
    """For every account and month: the month recomputed from its events, its grants, and
    the balance the reference gives the account (the other months from stored rows)."""
    document = data.draw(rules_documents())
    events = data.draw(stories())
    ledger = MemoryLedger(rules_of(document))
    deliver(ledger, data, events)
    expired: set[str] = set()
    if data.draw(st.booleans(), label="expire"):
        expired = {e.payment_id for e in ledger.expire(now=LATER)}
    for account in accounts_of(events):
        for month in MONTHS:
            story = ledger.store.month_story(account, month)
            got = explain_month_story(account, story, ledger.rules).as_json()
            assert got == ref.explain(events, account, document, expired, month)
