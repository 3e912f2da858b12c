"""``points ledger explain`` while workers write (issue #16), on real PostgreSQL.

The command compares its explanation with the stored balance. Both come from one
consistent read, so a batch committed after the story was read and before the balance is
read cannot show as drift: the batch here is committed at exactly that point, by a hook on
the command's own connection (after its first read of the events), through a second
ledger on the same database, as a worker would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.bootstrap import Ledger
from tests.integration.test_ledger_explain import cleared
from tests.integration.test_ledger_explain_month import invoke
from tests.support.factories import grant_dict
from tests.support.ledger import ledger_on
from tests.support.ledger_kit import apply_batches, migrated_engine

pytestmark = pytest.mark.postgres

ACCOUNT = "acct-1"
#: The balance of ``cleared("nov", 1000, …)`` under the default rules, before the late grant.
BEFORE = {"confirmed": 10, "provisional": 0}
LATE_GRANT = 7


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = migrated_engine(postgres_url)
    yield engine
    engine.dispose()


class GrantAfterStoryRead:
    """Commits a grant of ``ACCOUNT`` through ``writer`` right after the first statement
    that reads ``ledger_events`` on any other engine: the story is read, the balance not yet."""

    def __init__(self, writer: Ledger) -> None:
        self.writer = writer
        self.fired = False

    def __call__(self, conn: sa.Connection, cursor: Any, statement: str, *_execution: Any) -> None:
        if self.fired or conn.engine is self.writer.engine:
            return
        if statement.lstrip().upper().startswith("SELECT") and "ledger_events" in statement:
            self.fired = True
            late = grant_dict(event_id="late", points=LATE_GRANT, reason="adjustment")
            apply_batches(self.writer, [[late]])


def explain_with_a_late_grant(engine: Engine, *args: str) -> tuple[int, str, dict[str, Any]]:
    """``points ledger explain ACCOUNT --json *args`` with a grant committed between its
    story and balance reads: exit code, stderr, document."""
    with ledger_on(engine) as ledger:
        apply_batches(ledger, [cleared("nov", 1000, "2026-11-21T10:00:00+09:00")])
    with ledger_on(engine) as writer:
        hook = GrantAfterStoryRead(writer)
        sa.event.listen(Engine, "after_cursor_execute", hook)
        try:
            result = invoke(engine, "ledger", "explain", ACCOUNT, "--json", *args)
        finally:
            sa.event.remove(Engine, "after_cursor_execute", hook)
        [after] = writer.store.balances(ACCOUNT)
    assert hook.fired, "the grant was not committed during the command's read"
    assert after.confirmed == BEFORE["confirmed"] + LATE_GRANT
    return result.exit_code, result.stderr, json.loads(result.stdout)


def test_a_batch_committed_during_the_whole_story_read_is_not_a_drift(engine: Engine) -> None:
    """`explain ACCOUNT`: the explanation and the balance it is checked against are both
    the ledger before the grant; exit 0, no drift line."""
    code, stderr, document = explain_with_a_late_grant(engine)
    assert (code, "drift" in stderr) == (0, False), stderr
    assert document["balance"] == BEFORE


def test_a_batch_committed_during_the_month_story_read_is_not_a_drift(engine: Engine) -> None:
    """`explain ACCOUNT --month M`: the same, for the month's bounded read."""
    code, stderr, document = explain_with_a_late_grant(engine, "--month", "2026-11")
    assert (code, "drift" in stderr) == (0, False), stderr
    assert document["balance"] == BEFORE
