"""The poller loop: drain, graceful stop, health signal, observability."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from pathlib import Path

from consumers.runtime.health import health_ok
from consumers.runtime.memory import InMemoryTransport
from consumers.runtime.observability import BatchMetrics, JsonFormatter, MetricsSink
from consumers.runtime.processing import BatchProcessor
from consumers.runtime.settings import WorkerSettings
from consumers.runtime.worker import Worker
from tests.support.factories import body
from tests.unit.runtime.fakes import FakeHandler


def _settings(tmp_path: Path, **overrides: object) -> WorkerSettings:
    base: dict[str, object] = {
        "concurrency": 2,
        "drain_idle_seconds": 0.1,
        "transient_attempts": 1,
        "transient_wait_initial": 0,
        "heartbeat_seconds": 0.05,
        "shutdown_grace_seconds": 2,
        "health_file": tmp_path / "health",
        "backoff_base_seconds": 0,
    }
    return WorkerSettings(**{**base, **overrides})  # type: ignore[arg-type]


def _worker(
    transport: InMemoryTransport, handler: FakeHandler, settings: WorkerSettings, *, drain: bool
) -> Worker:
    return Worker(transport, BatchProcessor(transport, handler, settings), settings, drain=drain)


def test_drain_exits_once_the_queue_is_empty(tmp_path: Path) -> None:
    """``--drain`` processes everything, then returns by itself."""
    transport = InMemoryTransport()
    for i in range(25):
        transport.send(body(event_id=f"e{i}"))
    handler = FakeHandler()
    worker = _worker(transport, handler, _settings(tmp_path), drain=True)
    asyncio.run(asyncio.wait_for(worker.run(), timeout=10))
    assert sorted(handler.applied) == sorted(f"e{i}" for i in range(25))
    assert worker.processed == 25


def test_drain_waits_for_messages_in_backoff(tmp_path: Path) -> None:
    """A queue whose messages are only invisible (backing off) is not drained yet."""
    transport = InMemoryTransport()
    transport.send(body(event_id="e"))
    handler = FakeHandler(outage=2)
    worker = _worker(transport, handler, _settings(tmp_path), drain=True)
    asyncio.run(asyncio.wait_for(worker.run(), timeout=20))
    assert handler.applied == ["e"]


def test_stop_finishes_the_batch_in_flight(tmp_path: Path) -> None:
    """Stop while a batch is being applied: it completes and is deleted, then run returns."""
    transport = InMemoryTransport()
    transport.send(body(event_id="slow"))
    handler = FakeHandler(delay=0.5)
    worker = _worker(transport, handler, _settings(tmp_path), drain=False)

    async def scenario() -> None:
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(0.2)
        worker.stop()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(scenario())
    assert handler.applied == ["slow"]
    assert asyncio.run(transport.pending()) == 0


def test_stop_releases_what_outlives_the_grace_period(tmp_path: Path) -> None:
    """A batch slower than the grace period is released (visible again) for another worker."""
    transport = InMemoryTransport()
    transport.send(body(event_id="stuck"))
    handler = FakeHandler(delay=1.5)
    settings = _settings(tmp_path, shutdown_grace_seconds=0.2)
    worker = _worker(transport, handler, settings, drain=False)

    async def scenario() -> float:
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(0.2)
        started = time.monotonic()
        worker.stop()
        await asyncio.wait_for(task, timeout=5)
        return time.monotonic() - started

    asyncio.run(scenario())
    assert len(asyncio.run(transport.receive(10, 0))) == 1


def test_health_file_is_fresh_while_polling(tmp_path: Path) -> None:
    """A running worker keeps its health file fresh; no file means unhealthy."""
    settings = _settings(tmp_path)
    assert not health_ok(settings)
    transport = InMemoryTransport()
    asyncio.run(asyncio.wait_for(_worker(transport, FakeHandler(), settings, drain=True).run(), 5))
    assert health_ok(settings)
    assert not health_ok(settings, now=time.time() + settings.health_max_age_seconds + 1)


def test_outcome_logs_carry_ids_but_no_body_or_amount(tmp_path: Path) -> None:
    """Log lines are JSON with event and payment ids; never the body, amount or account."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("points")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        transport = InMemoryTransport()
        transport.send(body(event_id="evt-ok", amount=98765, account_id="acct-secret"))
        transport.send(body(event_id="evt-bad", amount=0, account_id="acct-secret"))
        worker = _worker(transport, FakeHandler(), _settings(tmp_path), drain=True)
        asyncio.run(asyncio.wait_for(worker.run(), 10))
    finally:
        log.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    applied = next(line for line in lines if line.get("outcome") == "applied")
    assert applied["event_id"] == "evt-ok"
    assert applied["payment_id"] == "pay-1"
    assert isinstance(applied["latency_ms"], int)
    assert any(line.get("outcome") == "dead_lettered" for line in lines)
    assert "98765" not in stream.getvalue()
    assert "acct-secret" not in stream.getvalue()


def test_metrics_are_embedded_metric_format() -> None:
    """Batch counts are written as one CloudWatch EMF line."""
    stream = io.StringIO()
    metrics = BatchMetrics("points", processed=3, duplicates=1, latencies_ms=[5, 7])
    MetricsSink(stream).emit(metrics)
    document = json.loads(stream.getvalue())
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Dimensions"] == [["Queue"]]
    assert {m["Name"] for m in directive["Metrics"]} >= {"Processed", "Duplicates", "LatencyMs"}
    assert (document["Processed"], document["Duplicates"], document["LatencyMs"]) == (3, 1, [5, 7])


def test_a_backlog_is_applied_in_one_handler_call(tmp_path: Path) -> None:
    """Full receives are topped up to ``max_batch_messages``: one ledger transaction."""
    transport = InMemoryTransport()
    for i in range(25):
        transport.send(body(event_id=f"e{i}"))
    handler = FakeHandler()
    settings = _settings(tmp_path, concurrency=1, max_batch_messages=30)
    asyncio.run(asyncio.wait_for(_worker(transport, handler, settings, drain=True).run(), 10))
    assert len(handler.applied) == 25
    assert handler.calls == 1


def test_top_up_stops_at_the_limit(tmp_path: Path) -> None:
    """A batch never exceeds ``max_batch_messages``."""
    transport = InMemoryTransport()
    for i in range(25):
        transport.send(body(event_id=f"e{i}"))
    handler = FakeHandler()
    settings = _settings(tmp_path, concurrency=1, max_batch_messages=10)
    asyncio.run(asyncio.wait_for(_worker(transport, handler, settings, drain=True).run(), 10))
    assert len(handler.applied) == 25
    assert handler.calls == 3
