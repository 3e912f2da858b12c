"""Issue 13 phase A: the contract's new event types reach a ledger that does not apply them
yet. They are refused with a clear reason, and the v1 events of the same batch are applied.

v2ledger replaces this behaviour (and this file) with the v2 ledger.
"""

from __future__ import annotations

import sqlalchemy as sa

from consumers.handler import Outcome
from consumers.points.ledger import NotApplied
from consumers.points.tables import ledger_events
from tests.support.factories import make_event, make_grant
from tests.support.ledger import ledger_on
from tests.support.ledger_kit import migrated_engine


def test_new_types_are_refused_and_the_rest_of_the_batch_applies(sqlite_url: str) -> None:
    """A chargeback and a grant are permanent rejections naming their type; the clearing
    between them is applied; only the clearing is stored."""
    engine = migrated_engine(sqlite_url)
    batch = [
        make_event("chargeback", event_id="cb-1"),
        make_event("clearing", event_id="cl-1"),
        make_grant(event_id="g-1"),
    ]
    with ledger_on(engine) as ledger:
        results = ledger.handle_batch(batch)
    assert [r.outcome for r in results] == [Outcome.REJECTED, Outcome.APPLIED, Outcome.REJECTED]
    assert isinstance(results[0].error, NotApplied)
    assert str(results[2].error) == "event type points_grant is not applied by this ledger version"
    with engine.connect() as connection:
        assert list(connection.scalars(sa.select(ledger_events.c.event_id))) == ["cl-1"]
