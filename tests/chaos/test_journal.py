"""The failure journal accepts whatever a hostile message carried (found by the chaos tests)."""

from __future__ import annotations

import pytest

from consumers.db import make_engine, upgrade
from consumers.journal import Failure, latest_failures, record_failures


@pytest.mark.postgres
def test_a_nul_in_one_entry_does_not_lose_the_batch_on_postgres(postgres_url: str) -> None:
    """PostgreSQL refuses NUL in text: one such event id used to fail the journal insert
    of the whole batch, so nine other dead letters lost their journaled reason."""
    engine = make_engine(postgres_url)
    upgrade(engine)
    entries = [
        Failure("points", "m-1", "unapplicable_event", "NUL\x00 in text", True, 1, "e\x00vil"),
        Failure("points", "m-2", "invalid_event", "amount: too small", True, 1, "ok"),
    ]
    record_failures(engine, entries)
    found = latest_failures(engine, message_ids=["m-1", "m-2"], event_ids=[])
    assert {"m-1", "m-2"} <= set(found)
    assert found["m-1"].event_id == "e\ufffdvil"
    assert found["m-2"].error_message == "amount: too small"
    engine.dispose()
