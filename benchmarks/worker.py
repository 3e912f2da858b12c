"""Worker end to end: the real Worker/BatchProcessor/PointsLedger next to its transport ceiling.

Each measurement runs in a fresh child process (spawned), so that its CPU time and peak RSS
are one worker's alone. The child runs either

- the **transport ceiling**: the same pollers doing bare receive(10) + delete, no decoding,
  no database — the most any worker could do on that backbone; or
- the **worker**: ``Worker(transport, BatchProcessor(transport, PointsLedger), settings)``
  exactly as ``points worker`` assembles it (JSON outcome logs and EMF metric lines are
  written, to /dev/null), stopped once every message was handled.

Backbones: the in-memory transport (in the worker's process: it measures us), fauxqs
(``SqsTransport`` on aiobotocore over HTTP, filled through SNS → SQS raw delivery) and moto
(a few hundred messages, labelled moto-bound). The queue is filled before the clock starts
and drained while timed (4,000 messages; moto 200). Both the ceiling and the worker drain
the same pre-filled depth, so a depth effect cancels in the ratio; the ceiling reports its
rate over the deeper and the shallower half of the drain so that the effect stays visible
(on fauxqs it is modest and noisy, nothing like moto's). No feeder process competes for
the two cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Final, TypeVar

from benchmarks.backbones import (
    Fauxqs,
    QueueSet,
    cpu_seconds,
    json_logs_to_devnull,
    peak_rss_mb,
    points_topology,
    postgres_cpu_seconds,
    publish,
)
from benchmarks.ledger import DEFAULT_POSTGRES, temporary_postgres, temporary_sqlite
from benchmarks.workload import payment_bodies
from consumers.bootstrap import Ledger, bootstrap_ledger
from consumers.journal import record_failures
from consumers.runtime.memory import InMemoryTransport
from consumers.runtime.observability import MetricsSink
from consumers.runtime.processing import BatchProcessor
from consumers.runtime.settings import WorkerSettings
from consumers.runtime.transport import QueueTransport, SqsTransport
from consumers.runtime.worker import Worker
from infra.local import EmbeddedAws
from infra.settings import Config

#: Pollers per worker (each holds one batch of 10 in flight), for the ceiling and the worker.
CONCURRENCY: Final = 4

T = TypeVar("T")
#: False only in the smoke test: measure in this process (CPU and RSS then include ours).
ISOLATE = True


@dataclass(frozen=True)
class Backbone:
    """Where the child finds its queue: ``memory`` (filled in the child) or an endpoint."""

    kind: str
    endpoint_url: str | None = None
    queues: QueueSet | None = None
    emulator_pid: int | None = None


def in_child(function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` in a fresh spawned process (its own CPU clock and RSS)."""
    if not ISOLATE:
        return function(*args)
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def settings(concurrency: int = CONCURRENCY) -> WorkerSettings:
    return WorkerSettings(
        concurrency=concurrency,
        wait_seconds=1,
        drain_idle_seconds=0.5,
        health_file=Path(tempfile.gettempdir()) / f"points-bench-{os.getpid()}.health",
    )


# --- in the child -----------------------------------------------------------------------


def child_run(
    backbone: Backbone,
    mode: str,
    bodies: Sequence[str],
    database_url: str | None,
    concurrency: int = CONCURRENCY,
) -> dict[str, Any]:
    """One measurement in this (child) process: ``mode`` is ``ceiling`` or ``worker``."""
    return asyncio.run(_child(backbone, mode, bodies, database_url, concurrency))


async def _child(
    backbone: Backbone,
    mode: str,
    bodies: Sequence[str],
    database_url: str | None,
    concurrency: int,
) -> dict[str, Any]:
    async with _transport(backbone) as transport:
        if isinstance(transport, InMemoryTransport):
            for body in bodies:
                transport.send(body)
        emulator = backbone.emulator_pid
        cpu0, emu0 = cpu_seconds(), cpu_seconds(emulator) if emulator else 0.0
        started = time.perf_counter()
        database_cpu: float | None = None
        half = 0.0
        if mode == "ceiling":
            handled, finished, half = await _bare(transport, len(bodies), concurrency)
        else:
            assert database_url is not None
            handled, finished, database_cpu = await _worker(
                transport, len(bodies), database_url, concurrency
            )
        elapsed = finished - started
        ours = cpu_seconds() - cpu0
        theirs = cpu_seconds(emulator) - emu0 if emulator else None
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
async def _transport(backbone: Backbone) -> Any:
    if backbone.kind == "memory":
        yield InMemoryTransport("points")
        return
    from aiobotocore.session import get_session

    from infra.aws import botocore_config

    assert backbone.queues is not None
    kwargs: dict[str, Any] = {
        "endpoint_url": backbone.endpoint_url,
        "region_name": "ap-northeast-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "config": botocore_config(max_pool_connections=CONCURRENCY * 2 + 2),
    }
    async with get_session().create_client("sqs", **kwargs) as sqs:
        yield SqsTransport(sqs, "points", backbone.queues.url, backbone.queues.dlq_url)


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


async def _worker(
    transport: QueueTransport, expected: int, database_url: str, concurrency: int
) -> tuple[int, float, float | None]:
    """(handled, when the last was, CPU seconds of our PostgreSQL backends or None)."""
    ledger = bootstrap_ledger(Config.resolve(database_url=database_url), kind="service")
    with json_logs_to_devnull() as devnull:
        try:
            handled, finished = await _run_worker(transport, expected, ledger, concurrency, devnull)
            engine = ledger.engine
            database = engine.url.database if engine.dialect.name == "postgresql" else None
            return handled, finished, postgres_cpu_seconds(database) if database else None
        finally:
            ledger.close()


async def _run_worker(
    transport: QueueTransport, expected: int, ledger: Ledger, concurrency: int, devnull: Any
) -> tuple[int, float]:
    config = settings(concurrency)
    processor = BatchProcessor(
        transport,
        ledger.handler,
        config,
        journal=partial(record_failures, ledger.engine),
    )
    worker = Worker(
        transport, processor, config, drain=True, metrics=MetricsSink(devnull, enabled=True)
    )
    finished = 0.0

    async def watch() -> None:
        nonlocal finished
        while worker.processed < expected:  # noqa: ASYNC110 - a counter, not an event
            await asyncio.sleep(0.002)
        finished = time.perf_counter()
        worker.stop()

    watcher = asyncio.create_task(watch())
    await worker.run()
    if not finished:  # drained before every message came back (should not happen)
        finished = time.perf_counter()
        watcher.cancel()
    return worker.processed, finished


# --- in the parent ----------------------------------------------------------------------


@contextmanager
def scratch_database(kind: str, postgres_server: str) -> Iterator[str]:
    """A migrated, empty ledger database: a temp SQLite file or a scratch PostgreSQL db."""
    context = temporary_sqlite() if kind == "sqlite" else temporary_postgres(postgres_server)
    with context as url:
        bootstrap_ledger(Config.resolve(database_url=url), migrate=True).close()
        yield url


def on_memory(
    bodies: Sequence[str], database_url: str | None, mode: str, pollers: int = CONCURRENCY
) -> dict[str, Any]:
    return in_child(child_run, Backbone("memory"), mode, list(bodies), database_url, pollers)


def on_fauxqs(
    bodies: Sequence[str], database_url: str | None, mode: str, pollers: int = CONCURRENCY
) -> dict[str, Any]:
    """A fresh fauxqs, filled through SNS, drained by the child."""
    with Fauxqs() as fauxqs:
        queues = points_topology(fauxqs.endpoint_url)
        publish_rate = publish(fauxqs.endpoint_url, queues.topic_arn, bodies)
        backbone = Backbone("fauxqs", fauxqs.endpoint_url, queues, fauxqs.pid)
        result = in_child(child_run, backbone, mode, list(bodies), database_url, pollers)
    result["fill_publish_per_s"] = round(publish_rate)
    return result


def on_moto(
    bodies: Sequence[str], database_url: str | None, mode: str, pollers: int = CONCURRENCY
) -> dict[str, Any]:
    """moto via ``infra.apply`` (the real topology); filled through SNS."""
    from benchmarks.backbones import clients
    from infra.apply import apply_topology
    from infra.topology import DEFAULT_TOPOLOGY

    with EmbeddedAws() as aws:
        sns, sqs = clients(aws.endpoint_url)
        applied = apply_topology(DEFAULT_TOPOLOGY, sns, sqs)
        points = applied.queues["points"]
        queues = QueueSet(applied.topic_arn, points.url, points.dlq_url)
        for start in range(0, len(bodies), 50):  # keep moto's queue shallow while filling
            publish(aws.endpoint_url, queues.topic_arn, bodies[start : start + 50], threads=1)
        assert aws._process is not None
        backbone = Backbone("moto", aws.endpoint_url, queues, aws._process.pid)
        return in_child(child_run, backbone, mode, list(bodies), database_url, pollers)


RUNNERS: Final = {"memory": on_memory, "fauxqs": on_fauxqs, "moto": on_moto}


@dataclass(frozen=True)
class Plan:
    """What to measure on one backbone: sizes, ceilings, databases, rounds (best of)."""

    messages: int
    ceiling_pollers: tuple[int, ...]
    databases: tuple[str, ...]
    rounds: int = 1


#: fauxqs is the yardstick: two interleaved rounds, best of each (other engineers' test
#: suites share the two cores; the best round is the least disturbed one). The in-memory
#: ceiling is ~100x the worker, one round says it. moto: small, SQLite only, labelled.
PLANS: Final = {
    "memory": Plan(4000, (CONCURRENCY,), ("sqlite", "postgresql")),
    "fauxqs": Plan(4000, (1, CONCURRENCY), ("sqlite", "postgresql"), rounds=2),
    "moto": Plan(200, (CONCURRENCY,), ("sqlite",)),
}


def _best(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    best = max(runs, key=lambda r: float(r["events_per_s"]))
    return best | {"rounds": [r["events_per_s"] for r in runs]}


def measure(
    plans: dict[str, Plan] | None = None, postgres_server: str | None = None
) -> dict[str, Any]:
    """Ceiling and worker per backbone; the worker on each database, side by side."""
    plans = plans if plans is not None else PLANS
    server = postgres_server or os.environ.get("POINTS_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    result: dict[str, Any] = {
        "pollers_per_worker": CONCURRENCY,
        "batch_size": 10,
        "duplicate_share": 0.1,
    }
    for kind, plan in plans.items():
        run = RUNNERS[kind]
        bodies = payment_bodies(plan.messages)
        ceilings: dict[int, list[dict[str, Any]]] = {p: [] for p in plan.ceiling_pollers}
        workers: dict[str, list[dict[str, Any]]] = {d: [] for d in plan.databases}
        for _ in range(plan.rounds):  # interleaved: ceiling and worker see the same load
            for pollers in plan.ceiling_pollers:
                ceilings[pollers].append(run(bodies, None, "ceiling", pollers))
            for database in plan.databases:
                with scratch_database(database, server) as url:
                    workers[database].append(run(bodies, url, "worker"))
        entry: dict[str, Any] = {"messages": plan.messages}
        if kind == "moto":
            entry["label"] = "moto-bound (DESIGN §8): measures moto, not us"
        # The ceiling is the backbone's best bare rate, with 1 poller or as many as the
        # worker has (on fauxqs, concurrent long polls are not always faster than one).
        by_pollers = {p: _best(runs) for p, runs in ceilings.items()}
        best = max(by_pollers, key=lambda p: float(by_pollers[p]["events_per_s"]))
        entry["transport_ceiling"] = by_pollers[best] | {"pollers": best}
        entry["transport_ceiling_by_pollers"] = {
            str(p): r["events_per_s"] for p, r in by_pollers.items()
        }
        ceiling = float(entry["transport_ceiling"]["events_per_s"])
        for database, runs in workers.items():
            worker = _best(runs)
            worker["ratio_to_transport_ceiling"] = round(worker["events_per_s"] / ceiling, 3)
            entry[f"worker_{database}"] = worker
        result[kind] = entry
    return result


def main() -> None:
    import json

    print(json.dumps(measure(), indent=2))


if __name__ == "__main__":
    main()
