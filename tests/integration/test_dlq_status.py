"""``points dlq status``: the fate of each redriven message, from the ledger database alone."""

from __future__ import annotations

import pytest

from consumers.db import make_engine, upgrade
from consumers.journal import Failure, record_failures
from infra.settings import Config
from ops.audit import Actor, AuditLog, Move
from ops.status import UnknownRedrive, redrive_status
from tests.support.factories import make_event
from tests.support.ledger import ledger_on


def _moved(log: AuditLog, n: int) -> int:
    action = log.start(
        Actor("arn:aws:iam::1:user/ops", "ops"), "dlq redrive", {"queue": "points-dlq"}, "r"
    )
    log.record_moves(
        action, [Move("points", f"dlq-{i}", f"m{i}", f"orig-{i}", f"e{i}") for i in range(n)]
    )
    return action


def _failure(message_id: str, *, permanent: bool, attempts: int = 1) -> Failure:
    return Failure(
        queue="points",
        message_id=message_id,
        error_type="idempotency_conflict" if permanent else "database_unavailable",
        error_message="boom",
        permanent=permanent,
        attempts=attempts,
    )


def test_each_moved_message_is_applied_queued_or_failed_again(sqlite_url: str) -> None:
    """Applied: its event is in the ledger. Failed again: a permanent failure of the copy,
    or SQS gave up after 5 receives. Queued: neither (with the retry reason if retrying)."""
    engine = make_engine(sqlite_url)
    upgrade(engine)
    log = AuditLog(engine)
    redrive_id = _moved(log, 5)
    ledger_on(engine).handle_batch([make_event(event_id="e0")])
    record_failures(
        engine,
        [
            _failure("m1", permanent=True),
            _failure("m3", permanent=False, attempts=2),
            _failure("m4", permanent=False, attempts=5),
        ],
    )
    status = redrive_status(Config.resolve(database_url=sqlite_url), redrive_id)
    assert [(m.move.message_id, m.state) for m in status.messages] == [
        ("m0", "applied"),
        ("m1", "failed_again"),
        ("m2", "queued"),
        ("m3", "queued"),
        ("m4", "failed_again"),
    ]
    reasons = {m.move.message_id: m.reason for m in status.messages}
    assert reasons["m1"] == "idempotency_conflict: boom"
    assert reasons["m3"] == "retrying: database_unavailable: boom"
    assert reasons["m4"] is not None
    assert "after 5 receives" in reasons["m4"]
    assert status.counts == {"applied": 1, "queued": 2, "failed_again": 2}
    assert status.as_json()["actor"] == "arn:aws:iam::1:user/ops"
    engine.dispose()


def test_an_unknown_redrive_id_names_where_to_look(sqlite_url: str) -> None:
    """A wrong id: one sentence pointing at ``points audit``."""
    engine = make_engine(sqlite_url)
    upgrade(engine)
    engine.dispose()
    with pytest.raises(UnknownRedrive, match="points audit"):
        redrive_status(Config.resolve(database_url=sqlite_url), 99)
