"""The child side of ``benchmarks.worker``: one measurement in a fresh process.

``child_run(backbone, mode, bodies, database_url, pollers)`` with ``mode``

- ``ceiling``: the pollers doing bare receive(10) + delete, no decoding, no database;
- ``worker``: ``Worker(transport, BatchProcessor(transport, PointsLedger), settings)``
  exactly as ``points worker`` assembles and starts it (JSON outcome logs and EMF lines
  written to /dev/null, the garbage collector tuned as it does), stopped once every
  message was handled;
- ``ledger``: ``PointsLedger.handle_batch`` alone on the same bodies, decoded before the
  clock, in batches of ``max_batch_messages`` on one connection (the in-memory worker's
  like-for-like denominator).

Start-up (client, ledger bootstrap, first connection) happens before the clocks start, so
the figures are the steady state per message. Its CPU time (user + system, this process),
the emulator's and our PostgreSQL backends' are read around the timed part.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import partial
from multiprocessing import parent_process
from pathlib import Path
from typing import Any, Final, TextIO

from benchmarks.backbones import (
    QueueSet,
    cpu_seconds,
    json_logs_to_devnull,
    peak_rss_mb,
    postgres_cpu_seconds,
)
from consumers.bootstrap import Ledger, bootstrap_ledger
from consumers.journal import record_failures
from consumers.runtime.app import tune_garbage_collector
from consumers.runtime.memory import InMemoryTransport
from consumers.runtime.observability import BatchMetrics, MetricsSink
from consumers.runtime.processing import BatchProcessor
from consumers.runtime.settings import WorkerSettings
from consumers.runtime.transport import QueueTransport, SqsTransport
from consumers.runtime.worker import Worker
from infra.settings import Config
from schemas.envelope import decode_body

#: Pollers per worker (each holds one batch in flight), for the ceiling and the worker.
CONCURRENCY: Final = 4


@dataclass(frozen=True)
class Backbone:
    """Where the child finds its queue: ``memory`` (filled in the child) or an endpoint."""

    kind: str
    endpoint_url: str | None = None
    queues: QueueSet | None = None
    emulator_pid: int | None = None


def settings(concurrency: int = CONCURRENCY) -> WorkerSettings:
    return WorkerSettings(
        concurrency=concurrency,
        wait_seconds=1,
        drain_idle_seconds=0.5,
        health_file=Path(tempfile.gettempdir()) / f"points-bench-{os.getpid()}.health",
    )


def child_run(
    backbone: Backbone,
    mode: str,
    bodies: Sequence[str],
    database_url: str | None,
    concurrency: int = CONCURRENCY,
) -> dict[str, Any]:
    """One measurement in this (child) process: ``ceiling``, ``worker`` or ``ledger``."""
    return asyncio.run(_child(backbone, mode, bodies, database_url, concurrency))


async def _child(
    backbone: Backbone,
    mode: str,
    bodies: Sequence[str],
    database_url: str | None,
    concurrency: int,
) -> dict[str, Any]:
    # Start-up (client, ledger bootstrap, connections) happens before the clocks start:
    # the figures are the steady state per message, not a start-up spread over 4,000.
    async with _transport(backbone) as transport, _ledger(mode, database_url) as ledger:
        if isinstance(transport, InMemoryTransport) and mode != "ledger":
            for body in bodies:
                transport.send(body)
        events = [decode_body(body) for body in bodies] if mode == "ledger" else []
        emulator = backbone.emulator_pid
        database = _postgres_database(ledger)
        cpu0, emu0 = cpu_seconds(), cpu_seconds(emulator) if emulator else 0.0
        db0 = postgres_cpu_seconds(database) if database else 0.0
        started = time.perf_counter()
        half = 0.0
        if ledger is None:
            handled, finished, half = await _bare(transport, len(bodies), concurrency)
        elif mode == "ledger":
            handled, finished = _ledger_alone(ledger, events)
        else:
            handled, finished = await _run_worker(transport, len(bodies), ledger, concurrency)
        elapsed = finished - started
        ours = cpu_seconds() - cpu0
        theirs = cpu_seconds(emulator) - emu0 if emulator else None
        database_cpu = postgres_cpu_seconds(database) - db0 if database else None
    result: dict[str, Any] = {
        "messages": handled,
        "seconds": round(elapsed, 3),
        "events_per_s": round(handled / elapsed, 1),
        "cpu_ms_per_msg_worker": round(ours * 1000 / max(handled, 1), 3),
        "cpu_ms_per_msg_emulator": None if theirs is None else round(theirs * 1000 / handled, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    if half:
        result["events_per_s_deeper_half"] = round(handled / 2 / (half - started), 1)
        result["events_per_s_shallower_half"] = round(handled / 2 / (finished - half), 1)
    if database_cpu is not None:
        result["cpu_ms_per_msg_postgres"] = round(database_cpu * 1000 / max(handled, 1), 3)
    return result


@contextlib.asynccontextmanager
async def _ledger(mode: str, database_url: str | None) -> AsyncIterator[Ledger | None]:
    """The bootstrapped ledger for ``worker`` and ``ledger`` modes (None for the ceiling)."""
    if mode == "ceiling":
        yield None
        return
    assert database_url is not None
    ledger = bootstrap_ledger(Config.resolve(database_url=database_url), kind="service")
    try:
        with ledger.engine.connect():  # the pool's first connection, before the clocks
            pass
        yield ledger
    finally:
        ledger.close()


def _postgres_database(ledger: Ledger | None) -> str | None:
    if ledger is None or ledger.engine.dialect.name != "postgresql":
        return None
    return ledger.engine.url.database


@contextlib.asynccontextmanager
async def _transport(backbone: Backbone) -> Any:
    if backbone.kind == "memory":
        yield InMemoryTransport("points")
        return
    from aiobotocore.session import get_session

    from consumers.runtime.sqs import open_sqs_api
    from infra.aws import botocore_config
    from infra.local import DUMMY_CREDENTIALS

    assert backbone.queues is not None
    session = get_session()
    session.set_credentials(
        DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"], DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    )
    kwargs: dict[str, Any] = {
        "endpoint_url": backbone.endpoint_url,
        "region_name": "ap-northeast-1",
        "config": botocore_config(max_pool_connections=CONCURRENCY * 2 + 2),
    }
    async with (
        session.create_client("sqs", **kwargs) as sqs,
        open_sqs_api(session, sqs, connections=CONCURRENCY * 2 + 2) as api,
    ):
        yield SqsTransport(api, "points", backbone.queues.url, backbone.queues.dlq_url)


async def _bare(
    transport: QueueTransport, expected: int, concurrency: int
) -> tuple[int, float, float]:
    """The transport ceiling: receive + delete only.

    Returns (deleted, when the last one was, when half of them were).
    """
    done = 0
    finished = half = 0.0

    async def poll() -> None:
        nonlocal done, finished, half
        empty_polls = 0
        while done < expected and empty_polls < 3:
            messages = await transport.receive(10, 1)
            if not messages:
                empty_polls += 1
                continue
            await transport.delete([m.receipt_handle for m in messages])
            done += len(messages)
            finished = time.perf_counter()
            if not half and done >= expected / 2:
                half = finished

    await asyncio.gather(*(poll() for _ in range(concurrency)))
    return done, finished, half


def _ledger_alone(ledger: Ledger, events: Sequence[Any]) -> tuple[int, float]:
    """``handle_batch`` in the batches the worker forms under a backlog, one connection."""
    size = settings().max_batch_messages
    for start in range(0, len(events), size):
        ledger.handle_batch(events[start : start + size])
    return len(events), time.perf_counter()


class _StopWhenDone(MetricsSink):
    """The worker's EMF sink (to /dev/null) that stops the worker once ``expected``
    messages were handled: no watcher polling the counter on the worker's event loop."""

    def __init__(self, stream: TextIO, expected: int) -> None:
        super().__init__(stream, enabled=True)
        self.expected = expected
        self.handled = 0
        self.finished = 0.0
        self.worker: Worker | None = None

    def emit(self, metrics: BatchMetrics) -> None:
        super().emit(metrics)
        self.handled += metrics.processed + metrics.duplicates + metrics.dead_lettered
        if self.handled >= self.expected and not self.finished:
            self.finished = time.perf_counter()
            assert self.worker is not None
            self.worker.stop()


async def _run_worker(
    transport: QueueTransport, expected: int, ledger: Ledger, concurrency: int
) -> tuple[int, float]:
    """(handled, when the last was): the worker as ``points worker`` assembles it."""
    config = settings(concurrency)
    with json_logs_to_devnull() as devnull:
        processor = BatchProcessor(
            transport,
            ledger.handler,
            config,
            journal=partial(record_failures, ledger.engine),
        )
        sink = _StopWhenDone(devnull, expected)
        sink.worker = Worker(transport, processor, config, drain=True, metrics=sink)
        if parent_process() is not None:  # a measurement's own process, not a smoke test's
            tune_garbage_collector()  # as run_worker does, once the worker is assembled
        await sink.worker.run()
    # Drained before every message came back (should not happen): the clock stops here.
    return sink.worker.processed, sink.finished or time.perf_counter()
