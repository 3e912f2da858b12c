"""The operator story with the real worker on moto: a bug dead-letters events, the
operator sees why, fixes it, redrives exactly those, and the ledger ends as specified."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from consumers.db import make_engine, upgrade
from consumers.handler import Handler, Result
from consumers.points.store import open_store
from consumers.registry import handler_factory
from consumers.runtime.app import run_worker
from consumers.runtime.settings import WorkerSettings
from infra.apply import apply_topology
from infra.aws import sns_client, sqs_client
from infra.resolve import topology
from infra.settings import Config
from ops.dlq import Selection, redrive, show
from producers.publisher import SnsPublisher
from schemas.envelope import parse_event
from schemas.errors import PermanentError
from schemas.events import Brand, Event, payment_of
from tests.support.dlq import FAST
from tests.support.reference import ledger_state
from tests.support.stories import authorize_then_clear

WORKER_FAST: dict[str, Any] = {
    "drain_idle_seconds": 0.5,
    "backoff_base_seconds": 1,
    "backoff_max_seconds": 2,
    "transient_wait_initial": 0.05,
    "transient_wait_max": 0.2,
}


class RulesMissing(PermanentError):
    """The bug: this deployment shipped without the QUICPay rule."""

    code = "rules_missing"


class QuicpayBug:
    """The buggy deployment: the real ledger, except that QUICPay events are rejected."""

    def __init__(self, real: Handler) -> None:
        self._real = real

    def handle_batch(self, events: Sequence[Event]) -> list[Result]:
        quicpay = {
            e.event_id: p.payment_id
            for e in events
            if (p := payment_of(e)) is not None and p.brand == Brand.QUICPAY
        }
        fine = iter(self._real.handle_batch([e for e in events if e.event_id not in quicpay]))
        return [
            Result.rejected(RulesMissing(f"no QUICPay rule for payment {quicpay[e.event_id]}"))
            if e.event_id in quicpay
            else next(fine)
            for e in events
        ]


def _drain(config: Config, tmp_path: Path, handler: Handler | None = None) -> None:
    settings = WorkerSettings(queue="points", health_file=tmp_path / "health", **WORKER_FAST)
    asyncio.run(run_worker(config, settings, drain=True, handler=handler, emit_metrics=False))


def test_fix_then_filtered_redrive_gives_the_reference_ledger(
    aws: Config, sqlite_url: str, tmp_path: Path
) -> None:
    """QUICPay events dead-lettered by a bug are shown with the bug's reason; after the fix,
    ``--error rules_missing`` moves exactly them, the real poison stays, and the balances
    equal the reference model of every valid event."""
    applied = apply_topology(topology(aws), sns_client(aws.aws), sqs_client(aws.aws))
    engine = make_engine(sqlite_url)
    upgrade(engine)
    config = Config.resolve(endpoint_url=aws.aws.endpoint_url, database_url=sqlite_url)
    events: list[dict[str, Any]] = authorize_then_clear(6, seed=11)
    quicpay = {e["event_id"] for e in events if e["brand"] == "quicpay"}
    assert quicpay
    assert len(quicpay) < len(events)
    SnsPublisher(sns_client(config.aws), applied.topic_arn).publish_batch(
        [parse_event(e) for e in events]
    )
    sqs_client(config.aws).send_message(QueueUrl=applied.queues["points"].url, MessageBody="{")

    _drain(config, tmp_path, QuicpayBug(handler_factory("points")(config, engine)))
    shown = show(config, "points", options=FAST)
    selected = [m for m in shown if m.error_type == "rules_missing"]
    assert {m.event_id for m in selected} == quicpay
    # At-least-once: a message may be dead-lettered twice; the counts below allow for it.
    assert {m.error_type for m in shown if m.event_id is None} == {"invalid_body"}

    summary = redrive(config, selection=Selection.parse(errors=["rules_missing"]), options=FAST)
    assert summary.as_json() == {
        "moved": len(selected),
        "skipped": len(shown) - len(selected),
        "failed": 0,
        "dry_run": False,
    }
    _drain(config, tmp_path)  # the fixed deployment: the real handler

    _, reference = ledger_state(events)
    assert [asdict(b) for b in open_store(engine).balances()] == reference
    assert {m.error_type for m in show(config, "points", options=FAST)} == {"invalid_body"}
    engine.dispose()
